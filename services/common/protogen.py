"""Generates the Python code of protos/ into gen/python, importable as `xiaobao.<service>.v1`.

protoc is run with `protos/` as the include root, so generated imports are already right
(`from xiaobao.intake.v1 import intake_pb2`); nothing is patched afterwards.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "protos"
OUT_ROOT = ROOT / "gen" / "python"


def proto_files(proto_root: Path = PROTO_ROOT) -> list[Path]:
    return sorted(proto_root.rglob("*.proto"))


def generate(out_root: Path = OUT_ROOT, proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Runs protoc over every proto; returns the files written."""
    from grpc_tools import protoc

    out_root.mkdir(parents=True, exist_ok=True)
    well_known = str(resources.files("grpc_tools") / "_proto")
    files = [str(p.relative_to(proto_root)) for p in proto_files(proto_root)]
    args = [
        "protoc",
        f"-I{proto_root}",
        f"-I{well_known}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *files,
    ]
    rc = protoc.main(args)
    if rc != 0:
        raise RuntimeError(f"protoc failed with exit code {rc}")
    # Package markers so setuptools and type checkers see regular packages.
    for directory in sorted({p.parent for p in out_root.rglob("*_pb2.py")}):
        current = directory
        while current != out_root:
            (current / "__init__.py").touch()
            current = current.parent
    return sorted(p for p in out_root.rglob("*") if p.is_file())


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_ROOT
    written = generate(out)
    print(f"generated {len(written)} files under {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
