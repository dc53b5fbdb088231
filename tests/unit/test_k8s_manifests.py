"""deploy/k8s: the checker passes on the real base and names what breaks in a copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from deploy.k8s.check import DEFAULT_BASE, main


def test_real_base_is_clean(capsys):
    assert main([]) == 0
    assert "all good" in capsys.readouterr().out


def test_missing_probe_is_reported(tmp_path: Path, capsys):
    base = tmp_path / "base"
    shutil.copytree(DEFAULT_BASE, base)
    path = base / "intake.yaml"
    docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    (api,) = [
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "intake-api"
    ]
    del api["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")

    assert main(["--base", str(base)]) == 1
    out = capsys.readouterr().out
    assert "Deployment/intake-api" in out
    assert "readinessProbe" in out
    assert "all good" not in out
