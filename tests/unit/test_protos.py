"""The generated gRPC code in gen/python is what protos/ generates today, byte for byte."""

from __future__ import annotations

from pathlib import Path

from services.common.protogen import OUT_ROOT, generate


def files_under(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    written = generate(tmp_path)
    assert written, "protoc wrote nothing"
    fresh = files_under(tmp_path)
    committed = files_under(OUT_ROOT)

    stale = sorted(
        [f"{name} (missing from gen/python)" for name in fresh.keys() - committed.keys()]
        + [f"{name} (no longer generated)" for name in committed.keys() - fresh.keys()]
        + [
            f"{name} (differs)"
            for name in fresh.keys() & committed.keys()
            if fresh[name] != committed[name]
        ]
    )
    assert not stale, "stale generated code, run make proto:\n  " + "\n  ".join(stale)


def test_every_service_has_its_messages_and_its_stub(tmp_path: Path) -> None:
    names = set(files_under(OUT_ROOT))
    for service in ("intake", "routing", "mediation", "education", "blacklist"):
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"):
            assert f"xiaobao/{service}/v1/{service}{suffix}" in names
