"""Static checks of the Kubernetes base: `python -m deploy.k8s.check [--base DIR]`.

Prints one line per problem and exits 1, or a one-line summary and exits 0.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

DEFAULT_BASE = Path(__file__).resolve().parent / "base"
KUSTOMIZATION = "kustomization.yaml"
SECRET_WORDS = ("SECRET", "KEY", "PASSWORD")
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


def _yaml_files(base: Path) -> list[Path]:
    return sorted(p for p in base.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    if obj["kind"] == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec") or {}


def _port_names(container: dict[str, Any]) -> set[str]:
    return {p.get("name") for p in container.get("ports") or []}


def _looks_secret(name: str) -> bool:
    return any(word in name.upper() for word in SECRET_WORDS)


def _check_container(c: dict[str, Any], pod_sc: dict[str, Any], is_api: bool) -> Iterator[str]:
    where = f"container {c.get('name', '?')}"
    resources = c.get("resources") or {}
    for part in ("requests", "limits"):
        missing = [r for r in ("cpu", "memory") if r not in (resources.get(part) or {})]
        if missing:
            yield f"{where}: resources.{part} lacks {', '.join(missing)}"
    sc = c.get("securityContext") or {}
    if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
        yield f"{where}: runAsNonRoot is not true"
    if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
        yield f"{where}: runAsUser is 0"
    if sc.get("readOnlyRootFilesystem") is not True:
        yield f"{where}: readOnlyRootFilesystem is not true"
    if sc.get("allowPrivilegeEscalation") is not False:
        yield f"{where}: allowPrivilegeEscalation is not false"
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        yield f"{where}: capabilities.drop does not include ALL"
    for env in c.get("env") or []:
        if _looks_secret(env.get("name", "")) and "value" in env:
            yield f"{where}: env {env['name']} has an inline value; use a secretKeyRef"
    if is_api:
        for probe in ("livenessProbe", "readinessProbe"):
            if "grpc" not in (c.get(probe) or {}):
                yield f"{where}: no grpc {probe}"


def check_object(obj: dict[str, Any]) -> Iterator[str]:
    kind = obj["kind"]
    name = (obj.get("metadata") or {}).get("name", "?")
    if kind in WORKLOADS:
        pod = _pod_spec(obj)
        containers = pod.get("containers") or []
        if not containers:
            yield "no containers"
        pod_sc = pod.get("securityContext") or {}
        serves_grpc = False
        for c in containers + (pod.get("initContainers") or []):
            # An api container is one that exposes a port named grpc.
            is_api = kind == "Deployment" and "grpc" in _port_names(c)
            serves_grpc = serves_grpc or is_api
            yield from _check_container(c, pod_sc, is_api)
        if kind == "Deployment" and name.endswith("-api") and not serves_grpc:
            yield "api Deployment has no container port named grpc"
    elif kind == "Service":
        for port in (obj.get("spec") or {}).get("ports") or []:
            if not port.get("name"):
                yield f"port {port.get('port')} has no name"
    elif kind == "ConfigMap":
        for key in obj.get("data") or {}:
            if _looks_secret(key):
                yield f"key {key} looks secret; put it in a Secret"
    elif kind == "Secret" and (obj.get("data") or obj.get("stringData")):
        yield "Secret with values in the repository; create it with kubectl (see README.md)"


def check(base: Path) -> tuple[int, list[str]]:
    """Returns (objects checked, problems)."""
    problems: list[str] = []
    count = 0
    files = _yaml_files(base)
    kustomization = base / KUSTOMIZATION
    if not kustomization.is_file():
        return 0, [f"{kustomization}: missing"]
    listed: list[str] = []
    for path in files:
        rel = path.relative_to(base)
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        except yaml.YAMLError as exc:
            problems.append(f"{rel}: not valid YAML: {exc}")
            continue
        for doc in docs:
            if not isinstance(doc, dict) or "kind" not in doc:
                problems.append(f"{rel}: a document without kind")
                continue
            if doc["kind"] == "Kustomization":
                if path == kustomization:
                    listed = [str(r) for r in doc.get("resources") or []]
                continue
            count += 1
            name = (doc.get("metadata") or {}).get("name", "?")
            problems.extend(
                f"{rel}: {doc['kind']}/{name}: {problem}" for problem in check_object(doc)
            )
    for entry in listed:
        if not (base / entry).exists():
            problems.append(f"{KUSTOMIZATION}: lists {entry}, which does not exist")
    covered = {(base / entry).resolve() for entry in listed}
    for path in files:
        if path == kustomization:
            continue
        if not ({path.resolve(), *path.resolve().parents} & covered):
            problems.append(f"{path.relative_to(base)}: not listed in {KUSTOMIZATION}")
    return count, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.k8s.check", description=__doc__)
    parser.add_argument("--base", type=Path, default=DEFAULT_BASE, help="kustomize base directory")
    args = parser.parse_args(argv)
    count, problems = check(args.base)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"k8s manifests: {count} objects checked, all good")
    return 0


if __name__ == "__main__":
    sys.exit(main())
