"""A real Prometheus (Debian's prometheus package) scrapes the ten running processes, evaluates the
generated rules, and fires the overdue alert for a planted overdue case.

The rules are the committed ones generated with the `integration` profile (deploy/monitoring_gen.py):
the same expressions with every `for:` dropped, so the alert fires on the first evaluation
instead of after its minute of pending. Evaluation and scrapes run every second.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import yaml

from deploy import monitoring_gen as gen
from services.common.clients import stub
from services.common.clock import DEFAULT_POLICY_FILE, load_policy
from services.common.protoconv import to_timestamp
from services.common.settings import SERVICES
from tests.integration.conftest import _free_port, eventually, wait_assigned
from tests.integration.test_case_flow import complaint
from xiaobao.intake.v1 import intake_pb2 as ipb

pytestmark = pytest.mark.integration

PROCESSES = [(service, role) for service in SERVICES for role in ("api", "worker")]


@pytest.fixture(scope="module")
def prometheus(platform, tmp_path_factory):
    """The URL of a Prometheus scraping every process of the platform with the generated rules."""
    binary = shutil.which("prometheus")
    if not binary:
        pytest.fail(
            "prometheus not found: install Debian's prometheus package "
            "(sudo apt-get install -y prometheus)",
            pytrace=False,
        )
    work = tmp_path_factory.mktemp("prometheus")
    gen.write(work, gen.render(profile="integration"))
    cfg = platform.settings()
    host = "127.0.0.1" if cfg.bind_host in ("0.0.0.0", "") else cfg.bind_host  # noqa: S104
    scrape_configs = []
    for service, role in PROCESSES:
        own = cfg.service(service)
        port = own.api_metrics_port if role == "api" else own.worker_metrics_port
        scrape_configs.append(
            {
                "job_name": f"xiaobao-{service}-{role}",
                "static_configs": [{"targets": [f"{host}:{port}"]}],
            }
        )
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(work / gen.CLOCKS_FILE), str(work / gen.PLATFORM_FILE)],
        "scrape_configs": scrape_configs,
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = _free_port()
    log = (work / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _ready(url, process, work), timeout=60)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def _ready(url: str, process: subprocess.Popen, work: Path) -> bool:
    if process.poll() is not None:
        log = (work / "prometheus.log").read_text(encoding="utf-8")
        pytest.fail(f"prometheus exited with {process.returncode}:\n{log[-3000:]}", pytrace=False)
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp:  # noqa: S310
            return resp.status == 200
    except OSError:
        return False


def query(url: str, promql: str) -> list[dict]:
    """The instant vector for `promql`, as [{"metric": {...}, "value": float}]."""
    address = f"{url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(address, timeout=5) as resp:  # noqa: S310 - our own Prometheus
        body = json.load(resp)
    assert body["status"] == "success", body
    return [{"metric": r["metric"], "value": float(r["value"][1])} for r in body["data"]["result"]]


def _backdate_assignment(database_url: str, case_no: str, days: float) -> None:
    """Moves routing's institution clock start back (as tests/integration/test_portal.py does):
    the only way to see a 15-day deadline pass within a test. Everything after (routing's
    sweep, its breach notice, the metrics) is the real platform."""
    started = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE routing.assignment SET clock_events = %s, assigned_at = %s, "
            "next_check_at = now() WHERE case_no = %s",
            (json.dumps([{"kind": "start", "at": started}]), started, case_no),
        )


def test_prometheus_scrapes_every_process_and_pages_for_a_planted_overdue_case(
    platform, platform_env, prometheus, staff
):
    policy = load_policy(DEFAULT_POLICY_FILE)

    # Every process is scraped and ready.
    def every_target_up():
        up = {r["metric"]["job"]: r["value"] for r in query(prometheus, "up")}
        expected = {f"xiaobao-{s}-{r}" for s, r in PROCESSES}
        assert set(up) == expected, set(up) ^ expected
        assert all(v == 1 for v in up.values()), up
        ready = query(prometheus, "xiaobao_ready == 1")
        assert {(r["metric"]["service"], r["metric"]["process"]) for r in ready} == set(PROCESSES)
        return True

    eventually(every_target_up, timeout=90, interval=1)

    # The holiday table gauge comes from every process; the open-case SLI of every clock of
    # the policy is exported by its owner (intake, or mediation for the mediation clocks).
    def slis_present():
        years = query(prometheus, "xiaobao_holiday_table_last_year")
        assert len(years) == len(PROCESSES) and all(r["value"] >= 2026 for r in years), years
        exported = {r["metric"]["clock"] for r in query(prometheus, gen.OPEN)}
        assert exported >= set(policy.clocks), set(policy.clocks) - exported
        closed = query(prometheus, 'xiaobao_clock_closed_total{clock="first_contact"}')
        assert closed, "the closure counters are exported before the first closure"
        return True

    eventually(slis_present, timeout=60, interval=1)

    # Plant an overdue case: a complaint received by letter 20 days ago. Its first contact
    # (1 working day) is long overdue, and routing's assignment today stops the forwarding and
    # same-day transfer clocks beyond their limits.
    request = complaint()
    request.channel = ipb.CHANNEL_LETTER
    request.request_id = uuid.uuid4().hex
    request.received_at.CopyFrom(to_timestamp(datetime.now(UTC) - timedelta(days=20)))
    case = stub("intake").SubmitCase(request, metadata=staff, timeout=10).case
    wait_assigned("pingan-life-tj", case.case_no)

    def overdue_counted():
        rows = query(prometheus, f'{gen.OPEN}{{clock="first_contact",state="overdue"}}')
        assert rows and rows[0]["value"] >= 1, rows
        return True

    eventually(overdue_counted, timeout=60, interval=1)

    def paging():
        firing = query(
            prometheus,
            'ALERTS{alertname="XiaobaoClockOverdue",alertstate="firing",clock="first_contact"}',
        )
        assert firing and firing[0]["metric"]["severity"] == "page", firing
        return True

    eventually(paging, timeout=60, interval=1)

    def late_closures_counted():
        rows = query(
            prometheus,
            'clock_within_limit:xiaobao_clock_closed:increase1d{clock="centre_transfer",'
            'within_limit="false"} >= 1',
        )
        assert rows, "the late centre_transfer closure is not in the recorded SLI"
        late = query(
            prometheus, 'clock:xiaobao_clock_closed_late:ratio_rate1d{clock="centre_transfer"}'
        )
        assert late and late[0]["value"] > 0, late
        return True

    eventually(late_closures_counted, timeout=60, interval=1)

    # The escalation queue: routing's sweep finds the institution's deadline passed and sends
    # its breach notice to the parent office.
    _backdate_assignment(platform_env["XIAOBAO_DATABASE_URL"], case.case_no, 20)

    def escalated():
        rows = query(
            prometheus,
            'clock_stage:xiaobao_routing_clock_notices:increase1d{clock="institution_decision",'
            'stage="breach"} >= 1',
        )
        assert rows, "no breach in the escalation queue"
        return True

    eventually(escalated, timeout=60, interval=1)
