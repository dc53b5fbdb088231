"""The institution portal (routing api, a real child process) against a bare grpcio server.

    python bench/routing_portal.py                  # default counts
    python bench/routing_portal.py --quick          # calls and streams / 10, cases / 4
    python bench/routing_portal.py --cases 5000 --page-size 100 --threads 4
    python bench/routing_portal.py --profile        # then cProfile the servicer in a child

ListAssignedCases, AcknowledgeCase and StreamAssignedCases are measured next to a bare grpcio
server moving payloads of the same size, in the same run. The goal (see bench/README.md) is at
least 0.6 of the bare server's rate; it is printed as a verdict, never asserted.
"""

from __future__ import annotations

import os
import sys

# `python bench/routing_portal.py` works without PYTHONPATH: the repo root and the generated protos.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gen", "python"))  # fmt: skip
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import json
import platform
import random
import re
import secrets
import signal
import struct
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.run import (
    ECHO_METHOD,
    ROOT,
    THREADS,
    Children,
    Result,
    Section,
    _terminate,
    child_env,
    free_port,
    ratio_text,
    render,
    run_guarded,
    run_sequential,
    run_threaded,
    wait_until,
    warmup_count,
)

GOAL = 0.6  # the issue's goal: at least 0.6 of the bare server's rate
PORTAL = "/xiaobao.routing.v1.InstitutionPortal/"
STREAM_METHOD = "/bench.Echo/Stream"
LISTER = "icbc-tj"  # sees its three sub-branches: a few hundred cases
ACKER = "cmb-tj"  # acknowledges fresh cases of its own, apart from the listed ones
ACK_TEXT = ("招商银行天津分行", "120101", "credit_cards")
CASE_PREFIX = "XBP"
FLOOR = "routing api Health/Check"  # not a portal method: the server's floor, not judged

# What complainants write as the institution, where they live, and the product; weights give
# the share of the seeded cases (icbc's four lines: a fifth, so icbc-tj has a few hundred).
SEED_MIX = [
    ("工行河西支行", "120103", "credit_cards", 8),
    ("工商银行南开支行", "120104", "loans", 5),
    ("工行和平支行", "120101", "wealth_management", 4),
    ("工商银行天津分行", "120102", "deposits", 3),
    ("天津平安人寿", "120104", "life", 14),
    ("建设银行天津分行", "120105", "loans", 14),
    ("招商银行天津分行", "120101", "credit_cards", 12),
    ("中国银行河东支行", "120102", "payments", 10),
    ("农行武清支行", "120114", "loans", 8),
    ("交通银行北辰支行", "120113", "credit_cards", 8),
    ("人保财险天津分公司", "120116", "auto", 8),
    ("邮储银行河北区支行", "120105", "deposits", 6),
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林罗高欧阳"
GIVEN = ["芳", "伟", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "建华", "淑珍", "志强"]
SUMMARIES = [
    "信用卡分期手续费未事先告知，客户经理口头承诺免息，实际按月收取手续费，要求退还已收取的费用。",
    "理财产品销售时未进行风险测评，客户经理称保本保收益，到期亏损约百分之八，要求赔偿本金损失并说明销售过程。",
    "保险销售误导：业务员称年金险可随时全额退保，退保时仅退回现金价值，要求全额退还已交保费。",
    "贷款提前还款被收取违约金，合同中无相关约定，多次到网点沟通无果。",
    "车险理赔定损金额明显低于维修费用，保险公司迟迟不予核定，已超过三十日未给出书面答复。",
    "银行卡被冻结，柜台称需提供多项证明，未说明冻结依据，影响工资入账和日常生活，要求尽快解冻并书面说明理由。",
    "老年人在网点办理存款时被推荐购买保险产品，未告知犹豫期和退保损失。",
    "跨行转账失败但资金已扣划，七个工作日未退回。",
]
ANSWERS = [
    "经核查，手续费已按合同收取，已向客户解释收费依据并提供合同条款复印件。",
    "已退还多收取的费用共计人民币一千二百元，并对相关客户经理进行批评教育。",
    "已为客户办理全额退保，退还保费，并对销售人员进行处理。",
]


# --- the database ------------------------------------------------------------------------------


def _display_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def choose_database(tmp: Path) -> tuple[str, str, bool]:
    """(url, how it was chosen, external): the shell's database if it names one, else SQLite."""
    for variable in ("XIAOBAO_ROUTING_DATABASE_URL", "XIAOBAO_DATABASE_URL"):
        url = os.environ.get(variable, "")
        if url:
            return url, f"{_display_url(url)} (from {variable})", True
    data_dir = tmp / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data_dir / 'routing.db'}"
    return url, f"SQLite {data_dir / 'routing.db'} (temporary)", False


@dataclass
class Seeded:
    run_tag: str
    background: int
    by_status: Counter
    lister_cases: int
    by_node: Counter
    ack_pool: list[str]
    seconds: float


def seed(url: str, external: bool, cases: int, ack_pool: int, console) -> Seeded:
    """Migrates routing, loads the demo directory and assigns cases in-process (assign_case)."""
    from sqlalchemy import func, select
    from sqlalchemy import text as sql
    from sqlalchemy.orm import sessionmaker

    from services.common import db, migrations
    from services.common.errors import XiaobaoError
    from services.routing import store
    from services.routing.models import Assignment, Node

    started = time.perf_counter()
    migrations.upgrade(store.SERVICE, url=url)
    engine = db.make_engine(store.SERVICE, url)
    factory = sessionmaker(engine, expire_on_commit=False)
    demo = store.read_directory_file(store.DEMO_DIRECTORY)
    try:
        with db.session_scope(factory) as session:
            have = set(session.scalars(select(Node.id)))
            if not have or not external:
                store.import_directory(session, demo, "bench: demo directory")
            elif not {LISTER, ACKER} <= have:
                raise RuntimeError(
                    f"the database's directory has no {LISTER} or {ACKER}; the bench only imports "
                    "the demo directory into an empty one (it would deactivate the others)"
                )
        store.DIRECTORY.clear()

        rng = random.Random(20261121)
        run_tag = secrets.token_hex(3).upper()
        real_now = datetime.now(UTC)
        weights = [w for *_, w in SEED_MIX]
        by_status: Counter = Counter()
        batch = 200

        def payload(i: int, text: str, region: str, product: str, received: datetime) -> dict:
            return {
                "case_no": f"{CASE_PREFIX}{run_tag}{i:07d}",
                "kind": "complaint" if rng.random() < 0.93 else "petition",
                "channel": rng.choice(["hotline", "web", "wechat", "letter"]),
                "institution_text": text,
                "product": product,
                "region_code": region,
                "amount_in_dispute_fen": rng.choice(
                    [0, 0, 0, 35_000, 120_000, 880_000, 2_500_000, 6_000_000]
                ),
                "received_at": received.isoformat(),
                "summary": rng.choice(SUMMARIES),
                "complainant_name": rng.choice(SURNAMES) + rng.choice(GIVEN),
                "complainant_phone": f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
                "phone_hash": secrets.token_hex(16),
                "complainant_age": rng.choice([None, 29, 34, 38, 45, 52, 61, 67, 71]),
                "major": rng.random() < 0.01,
                "repeat_of": "" if rng.random() < 0.97 else f"{CASE_PREFIX}{run_tag}0000000",
            }

        def life(session, a: Assignment, assigned: datetime) -> None:
            """What institutions did since: acknowledged, extended, paused, answered."""
            if a.status != "assigned" or rng.random() > 0.6:
                return
            at = assigned + timedelta(hours=rng.uniform(2, 48))
            if at >= real_now:
                return
            store.acknowledge(session, a, "seed", at)
            roll = rng.random()
            later = at + timedelta(days=rng.uniform(1, 12))
            if later >= real_now:
                return
            try:
                if roll < 0.10 and a.case_kind == "complaint":
                    store.request_extension(
                        session, a, 30, "案情复杂，需调取录音", "", "seed", later
                    )
                elif roll < 0.14:
                    store.pause_clock(session, a, "appraisal", "委托鉴定机构", "seed", later)
                elif roll < 0.55:
                    store.answer(
                        session,
                        a,
                        rng.choice(["closed_with_explanation", "non_monetary_relief"]),
                        rng.choice(ANSWERS),
                        0,
                        {
                            "method": "phone",
                            "contacted_at": later.isoformat(),
                            "staff_name": "消保专员",
                            "note": "",
                        },
                        "seed",
                        later,
                    )
            except XiaobaoError:  # e.g. the clock is already overdue: no extension then
                pass

        # The listed cases: spread over the last 45 days, many already acted on.
        i = 0
        while i < cases:
            with db.session_scope(factory) as session:
                for _ in range(min(batch, cases - i)):
                    text, region, product, _w = rng.choices(SEED_MIX, weights)[0]
                    received = real_now - timedelta(days=rng.uniform(0.2, 45))
                    assigned = received + timedelta(hours=rng.uniform(0.05, 4))
                    a = store.assign_case(
                        session, payload(i, text, region, product, received), assigned
                    )
                    if a is not None:
                        life(session, a, assigned)
                        by_status[a.status] += 1
                    i += 1
        # The ones acknowledged under measurement: fresh, assigned within the last two days.
        pool: list[str] = []
        text, region, product = ACK_TEXT
        j = 0
        while j < ack_pool:
            with db.session_scope(factory) as session:
                for _ in range(min(batch, ack_pool - j)):
                    received = real_now - timedelta(hours=rng.uniform(1, 48))
                    a = store.assign_case(
                        session,
                        payload(cases + j, text, region, product, received),
                        received + timedelta(minutes=5),
                    )
                    if a is not None and a.status == "assigned":
                        pool.append(a.case_no)
                    j += 1
        with db.session_scope(factory) as session:
            current = store.current_directory(session)
            mine = current.subtree(LISTER)
            by_node = Counter(
                dict(
                    session.execute(
                        select(Assignment.node_id, func.count())
                        .where(
                            Assignment.case_no.like(f"{CASE_PREFIX}{run_tag}%"),
                            Assignment.case_no < f"{CASE_PREFIX}{run_tag}{cases:07d}",
                        )
                        .group_by(Assignment.node_id)
                    ).all()
                )
            )
            lister_cases = session.scalar(
                select(func.count()).select_from(Assignment).where(Assignment.node_id.in_(mine))
            )
        if engine.dialect.name == "postgresql":
            # Seeding updates every row a few times: vacuum and analyze, as autovacuum would
            # have by the time an institution lists its cases, so the planner sees the table.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sql("VACUUM ANALYZE assignment, outbox"))
            console.print("portal: VACUUM ANALYZE assignment, outbox (PostgreSQL)")
    finally:
        engine.dispose()
    return Seeded(
        run_tag,
        cases,
        by_status,
        int(lister_cases or 0),
        by_node,
        pool,
        time.perf_counter() - started,
    )


# --- the bare stream baseline --------------------------------------------------------------------


def serve_stream_echo(port: int) -> None:
    """Baseline for the stream (run in a child): request = (count, size); count messages back."""
    from concurrent import futures

    import grpc

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="stream-grpc"),
        options=[("grpc.so_reuseport", 0)],  # the same pool size and options as grpc_server.serve
    )

    def stream(request: bytes, _context):
        count, size = struct.unpack(">II", request)
        body = b"x" * size
        for _ in range(count):
            yield body

    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Stream": grpc.unary_stream_rpc_method_handler(stream)}
    )
    server.add_generic_rpc_handlers((handler,))
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        raise SystemExit(f"stream echo server: cannot listen on 127.0.0.1:{port}")
    server.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    server.stop(grace=1).wait()


def run_streams(
    open_stream: Callable[[], object], repeats: int, threads: int
) -> tuple[float, list[float], int]:
    """`repeats` full streams over `threads` threads: (wall seconds, gap per message, messages).

    A message's gap is the time since the previous message of its stream (the first one's: since
    the call).
    """
    per_thread: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    gate = threading.Barrier(threads + 1)
    clock = time.perf_counter

    def work(k: int) -> None:
        out = per_thread[k]
        gate.wait()
        try:
            for _ in range(k, repeats, threads):
                last = clock()
                for _message in open_stream():
                    t = clock()
                    out.append(t - last)
                    last = t
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(threads)]
    for t in pool:
        t.start()
    gate.wait()
    started = clock()
    for t in pool:
        t.join()
    elapsed = clock() - started
    if errors:
        raise errors[0]
    gaps = [x for out in per_thread for x in out]
    return elapsed, gaps, len(gaps)


# --- server-side time, from the api's own metrics ----------------------------------------------


_METRIC = re.compile(
    r'^xiaobao_grpc_server_handling_seconds_(sum|count)\{(?=[^}]*grpc_method="(\w+)")'
    r'(?=[^}]*grpc_service="xiaobao\.routing\.v1\.InstitutionPortal")[^}]*\}\s+(\S+)$'
)


def handler_seconds(metrics_port: int) -> dict[str, tuple[float, float]]:
    """{method: (seconds, calls)} the api spent inside its handlers (its ErrorsAndMetrics)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    found: dict[str, list[float]] = {}
    for line in text.splitlines():
        m = _METRIC.match(line)
        if m:
            kind, method, value = m.groups()
            found.setdefault(method, [0.0, 0.0])[0 if kind == "sum" else 1] = float(value)
    return {k: (v[0], v[1]) for k, v in found.items()}


class ServerSide:
    """Mean time in the api's handler per measurement: metrics read before and after."""

    def __init__(self, metrics_port: int) -> None:
        self.port = metrics_port
        self.means: dict[str, float] = {}  # result label -> mean ms in the handler

    def measure(self, label: str, method: str, run: Callable[[], Result]) -> Result:
        before = handler_seconds(self.port).get(method, (0.0, 0.0))
        result = run()
        after = handler_seconds(self.port).get(method, (0.0, 0.0))
        calls = after[1] - before[1]
        if calls > 0:
            self.means[label] = (after[0] - before[0]) / calls * 1000
        return result


# --- the benchmark -----------------------------------------------------------------------------


@dataclass
class Options:
    calls: int = 1000
    cases: int = 2000
    page_size: int = 50
    threads: int = THREADS
    streams: int = 20
    profile: bool = False


def _kb(n: float) -> str:
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n:.0f} B"


def verdicts(section: Section) -> list[str]:
    lines = []
    for r in section.results:
        if r.baseline is None or r.ratio is None or r.what.startswith(FLOOR):
            continue
        verdict = "meets the 0.6 goal" if r.ratio >= GOAL else f"below the {GOAL} goal"
        lines.append(f"{r.what}: {ratio_text(r.ratio)} of {r.baseline_name} — {verdict}")
    return lines


def bench_portal(opts: Options, children: Children, tmp: Path, console) -> Section:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from services.common import auth
    from xiaobao.routing.v1 import routing_pb2 as pb

    section = Section("portal: routing api (child process) vs bare grpcio (child processes)")
    n = opts.calls
    warm = warmup_count(n)
    threads = opts.threads
    profile_acks = 200 if opts.profile else 0
    url, where, external = choose_database(tmp)
    console.print(f"portal: database {where}")
    if external:
        console.print(
            "  [yellow]the seeded assignments and their outbox rows stay in that database: point "
            "XIAOBAO_DATABASE_URL at a throwaway one, with no routing worker relaying it[/yellow]",
            soft_wrap=True,
        )
    ack_pool = 2 * (warm + n) + profile_acks
    console.print(
        f"portal: seeding {opts.cases:,} cases over {len(SEED_MIX)} institution texts, and "
        f"{ack_pool:,} fresh ones for {ACKER} to acknowledge (store.assign_case, in-process)"
    )
    seeded = seed(url, external, opts.cases, ack_pool, console)
    top = ", ".join(f"{k or 'desk'} {v}" for k, v in seeded.by_node.most_common(8))
    console.print(
        f"portal: seeded in {seeded.seconds:.1f} s; {LISTER} sees {seeded.lister_cases} cases; "
        f"statuses {dict(seeded.by_status)}; busiest offices: {top}",
        soft_wrap=True,
    )
    pool = seeded.ack_pool
    if len(pool) < ack_pool:
        raise RuntimeError(f"only {len(pool)} of {ack_pool} fresh cases went to {ACKER}")

    # The children: the bare echo of bench/run.py, the bare stream, and the routing api.
    secret = secrets.token_urlsafe(48)
    echo_port, stream_port, grpc_port, metrics_port = (free_port() for _ in range(4))
    while len({echo_port, stream_port, grpc_port, metrics_port}) < 4:
        echo_port, stream_port, grpc_port, metrics_port = (free_port() for _ in range(4))
    extra = {
        "XIAOBAO_ROUTING_GRPC_PORT": str(grpc_port),
        "XIAOBAO_ROUTING_METRICS_PORT": str(metrics_port),
        "XIAOBAO_AUTH_SECRET": secret,
        "XIAOBAO_PII_KEY": secrets.token_urlsafe(48),
        "XIAOBAO_BIND_HOST": "127.0.0.1",
        "XIAOBAO_AUTH_MODE": "token",
    }
    if not external:
        extra["XIAOBAO_DATA_DIR"] = str(Path(url.removeprefix("sqlite:///")).parent)
    api_env = child_env(extra)
    if not external:
        for name in ("XIAOBAO_DATABASE_URL", "XIAOBAO_ROUTING_DATABASE_URL"):
            api_env.pop(name, None)
    echo = children.spawn(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--serve-echo", str(echo_port)],
        child_env({}),
        tmp / "echo.log",
    )
    streamer = children.spawn(
        [sys.executable, str(Path(__file__).resolve()), "--serve-stream-echo", str(stream_port)],
        child_env({}),
        tmp / "stream-echo.log",
    )
    console.print(
        f"portal: starting the routing api on :{grpc_port} (metrics :{metrics_port}), the bare "
        f"echo on :{echo_port} and the bare stream on :{stream_port}"
    )
    api = children.spawn([sys.executable, "-m", "services.routing.api"], api_env, tmp / "api.log")

    lister = auth.bearer(auth.issue_token("bench", "institution", LISTER, secret=secret))
    acker = auth.bearer(auth.issue_token("bench", "institution", ACKER, secret=secret))
    server = ServerSide(metrics_port)
    with (
        grpc.insecure_channel(f"127.0.0.1:{echo_port}") as echo_channel,
        grpc.insecure_channel(f"127.0.0.1:{stream_port}") as stream_channel,
        grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel,
    ):
        # Raw bytes both ways on every timed call, ours as the baseline's: requests serialized
        # beforehand, responses not parsed (the client's parsing is not the portal's cost).
        echo_call = echo_channel.unary_unary(ECHO_METHOD)
        stream_echo = stream_channel.unary_stream(STREAM_METHOD)
        list_raw = channel.unary_unary(PORTAL + "ListAssignedCases")
        ack_raw = channel.unary_unary(PORTAL + "AcknowledgeCase")
        stream_raw = channel.unary_stream(PORTAL + "StreamAssignedCases")

        def answers(call, probe: bytes) -> Callable[[], bool]:
            def ready() -> bool:
                try:
                    call(probe, timeout=1)
                    return True
                except grpc.RpcError:
                    return False

            return ready

        wait_until(answers(echo_call, b"ping"), echo, children, "echo server")
        wait_until(lambda: _up(stream_echo), streamer, children, "stream echo server")
        health = health_pb2_grpc.HealthStub(channel)

        def serving() -> bool:
            try:
                status = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
            except grpc.RpcError:
                return False
            return status.status == health_pb2.HealthCheckResponse.SERVING

        wait_until(serving, api, children, "routing api")
        health_raw = channel.unary_unary("/grpc.health.v1.Health/Check")
        health_request = health_pb2.HealthCheckRequest(service="").SerializeToString()

        def check(_i: int) -> None:
            health_raw(health_request, timeout=30)

        # --- list: page through the lister's cases once (warm-up) and keep the page tokens.
        tokens = [""]
        sizes: list[int] = []
        rows = 0
        while True:
            req = pb.ListAssignedCasesRequest(page_size=opts.page_size, page_token=tokens[-1])
            page = pb.ListAssignedCasesResponse.FromString(
                list_raw(req.SerializeToString(), metadata=lister, timeout=30)
            )
            sizes.append(page.ByteSize())
            rows += len(page.assignments)
            if not page.next_page_token:
                break
            tokens.append(page.next_page_token)
        list_requests = [
            pb.ListAssignedCasesRequest(page_size=opts.page_size, page_token=t).SerializeToString()
            for t in tokens
        ]
        page_bytes = sizes[0]
        list_payload = b"x" * page_bytes

        def list_call(i: int) -> None:
            list_raw(list_requests[i % len(list_requests)], metadata=lister, timeout=30)

        # --- acknowledge: distinct fresh cases; the first `warm` are the warm-up.
        ack_requests = [pb.CaseRequest(case_no=c).SerializeToString() for c in pool]
        replies: dict[int, bytes] = {}

        def acker_from(offset: int) -> Callable[[int], None]:
            def ack(i: int) -> None:
                replies[offset + i] = ack_raw(ack_requests[offset + i], metadata=acker, timeout=60)

            return ack

        warm_ack = acker_from(0)
        for i in range(warm):
            warm_ack(i)
        ack_bytes = len(replies[0])
        ack_payload = b"x" * ack_bytes

        # --- stream: one full catch-up from the empty cursor (warm-up) to size the baseline.
        stream_request = pb.StreamAssignedCasesRequest(cursor="", follow=False).SerializeToString()
        updates = [
            pb.AssignmentUpdate.FromString(m)
            for m in stream_raw(stream_request, metadata=lister, timeout=120)
        ]
        per_stream = len(updates)
        update_bytes = round(sum(u.ByteSize() for u in updates) / max(1, per_stream))
        stream_probe = struct.pack(">II", per_stream, update_bytes)

        # --- warm-ups, then each baseline measured right before the figure it is compared
        # with (the machine's load drifts; neighbours in time share it).
        def echo_of(payload: bytes) -> Callable[[int], None]:
            def call(_i: int) -> None:
                echo_call(payload, timeout=30)

            return call

        def bare_stream():
            return stream_echo(stream_probe, timeout=120)

        def portal_stream():
            return stream_raw(stream_request, metadata=lister, timeout=120)

        # Acknowledging an acknowledged case: the no-op path (the sequential run's cases again).
        again = [ack_requests[warm + i] for i in range(n)]

        def ack_again(i: int) -> None:
            ack_raw(again[i % len(again)], metadata=acker, timeout=60)

        for i in range(warm):
            echo_of(list_payload)(i)
            echo_of(ack_payload)(i)
            list_call(i)
            check(i)
        for _ in range(2):
            list(bare_stream())

        def seq(label: str, call: Callable[[int], None], method: str = "") -> Result:
            def run() -> Result:
                return Result(f"{label}, sequential", n, *run_sequential(call, n))

            return server.measure(f"{label}, sequential", method, run) if method else run()

        def thr(label: str, call: Callable[[int], None], method: str = "") -> Result:
            def run() -> Result:
                return Result(f"{label}, {threads} threads", n, *run_threaded(call, n, threads))

            return server.measure(f"{label}, {threads} threads", method, run) if method else run()

        list_label = f"ListAssignedCases {opts.page_size}/page"
        echo_list_seq = seq(f"bare echo {_kb(page_bytes)}", echo_of(list_payload))
        list_seq = seq(list_label, list_call, "ListAssignedCases")
        echo_list_thr = thr(f"bare echo {_kb(page_bytes)}", echo_of(list_payload))
        list_thr = thr(list_label, list_call, "ListAssignedCases")

        echo_ack_seq = seq(f"bare echo {_kb(ack_bytes)}", echo_of(ack_payload))
        ack_seq = seq("AcknowledgeCase fresh", acker_from(warm), "AcknowledgeCase")
        repeat_seq = seq("AcknowledgeCase again", ack_again, "AcknowledgeCase")
        echo_ack_thr = thr(f"bare echo {_kb(ack_bytes)}", echo_of(ack_payload))
        ack_thr = thr("AcknowledgeCase fresh", acker_from(warm + n), "AcknowledgeCase")
        repeat_thr = thr("AcknowledgeCase again", ack_again, "AcknowledgeCase")

        # The floor: a method of the same server that touches no database (Health/Check goes
        # through the same interceptor, thread pool and serializers as the portal's methods).
        floor_seq = seq(FLOOR, check)
        floor_thr = thr(FLOOR, check)

        bare = f"bare stream {per_stream} x {_kb(update_bytes)}"
        ours = "StreamAssignedCases catch-up"
        elapsed, gaps, count = run_streams(bare_stream, opts.streams, 1)
        stream_base_seq = Result(f"{bare}, sequential", count, elapsed, gaps)
        elapsed, gaps, count = run_streams(portal_stream, opts.streams, 1)
        stream_seq = Result(f"{ours}, sequential", count, elapsed, gaps)
        elapsed, gaps, count = run_streams(bare_stream, opts.streams, threads)
        stream_base_thr = Result(f"{bare}, {threads} threads", count, elapsed, gaps)
        elapsed, gaps, count = run_streams(portal_stream, opts.streams, threads)
        stream_thr = Result(f"{ours}, {threads} threads", count, elapsed, gaps)
        handler_means = server.means

    # Every fresh case was acknowledged by the timed calls, exactly once.
    acked = [pb.Assignment.FromString(replies[k]) for k in range(warm + 2 * n)]
    wrong = [a.case_no for a in acked if a.status != pb.ASSIGNMENT_STATUS_ACKNOWLEDGED]
    if wrong:
        raise RuntimeError(f"{len(wrong)} acknowledgements came back not ACKNOWLEDGED: {wrong[:3]}")

    pairs = [
        (list_seq, echo_list_seq),
        (list_thr, echo_list_thr),
        (ack_seq, echo_ack_seq),
        (ack_thr, echo_ack_thr),
        (repeat_seq, echo_ack_seq),
        (repeat_thr, echo_ack_thr),
        (stream_seq, stream_base_seq),
        (stream_thr, stream_base_thr),
        (floor_seq, echo_ack_seq),
        (floor_thr, echo_ack_thr),
    ]
    for ours, base in pairs:
        ours.baseline, ours.baseline_name = base, base.what
    section.results += [
        echo_list_seq,
        list_seq,
        echo_list_thr,
        list_thr,
        echo_ack_seq,
        ack_seq,
        repeat_seq,
        echo_ack_thr,
        ack_thr,
        repeat_thr,
        stream_base_seq,
        stream_seq,
        stream_base_thr,
        stream_thr,
        floor_seq,
        floor_thr,
    ]
    section.notes += [
        f"{LISTER} sees {seeded.lister_cases} cases: {len(tokens)} pages of {opts.page_size} "
        f"({rows} rows listed); a full page is {page_bytes:,} bytes serialized (pages average "
        f"{sum(sizes) / len(sizes):,.0f}), so the list's echo moves {page_bytes:,} bytes each way; "
        f"the acknowledge's echo moves {ack_bytes:,} bytes, the size of one AcknowledgeCase reply",
        f"AcknowledgeCase: {warm + 2 * n} distinct fresh cases of {ACKER}, each acknowledged once "
        f"({warm} warm-up); 'again' re-acknowledges the sequential run's cases (a no-op, no write)",
        f"StreamAssignedCases: {opts.streams} full catch-ups (cursor empty, follow=false) of "
        f"{per_stream} updates averaging {update_bytes:,} bytes; ops/s = updates/s, p50/p99 = gap "
        "between updates; the bare stream sends the same count and size",
        "raw bytes on every timed call (requests serialized beforehand, responses not parsed), "
        f"one channel per server, {warm} warm-up calls each",
        f"{FLOOR}: the same api process answering a method with no database and a 2-byte reply, "
        "through the same interceptor and pool: no portal method can beat it",
    ]
    if handler_means:
        section.notes.append(
            "mean time inside the api's handler (its own metrics: no gRPC, no serialization): "
            + "; ".join(f"{k} {v:.2f} ms" for k, v in handler_means.items())
        )

    judged = [r for r in section.results if r.ratio is not None and not r.what.startswith(FLOOR)]
    met = [r.what for r in judged if r.ratio >= GOAL]
    section.notes.append(
        f"goal: at least {GOAL}x of the bare server's rate; met by "
        + (", ".join(met) if met else f"none of the {len(judged)} measurements")
    )
    if opts.profile:
        children.stop(api)
        section.notes.append(
            profile_servicer(
                api_env,
                tmp,
                children,
                list_requests,
                [pool[k] for k in range(warm + 2 * n, warm + 2 * n + profile_acks)],
                console,
            )
        )
    return section


def _up(stream_echo) -> bool:
    import grpc

    try:
        list(stream_echo(struct.pack(">II", 1, 1), timeout=1))
        return True
    except grpc.RpcError:
        return False


# --- profile: the servicer in-process, under cProfile ------------------------------------------


class _Context:
    """Just enough of a grpc.ServicerContext for the portal's servicer."""

    def __init__(self, metadata) -> None:
        self._metadata = tuple(metadata)

    def invocation_metadata(self):
        return self._metadata

    def is_active(self) -> bool:
        return True


def profile_servicer(
    env: dict[str, str],
    tmp: Path,
    children: Children,
    list_requests: list[bytes],
    fresh: list[str],
    console,
) -> str:
    spec = tmp / "profile.json"
    out = tmp / "profile.txt"
    spec.write_text(json.dumps({"list": [r.hex() for r in list_requests], "fresh": fresh}))
    console.print("portal: profiling the servicer in a child (cProfile)")
    child = children.spawn(
        [sys.executable, str(Path(__file__).resolve()), "--profile-child", str(spec), str(out)],
        env,
        tmp / "profile.log",
    )
    try:
        child.wait(timeout=600)
    finally:
        children.stop(child)
    if child.returncode != 0:
        return f"profile failed ({child.returncode}):\n{(tmp / 'profile.log').read_text()[-3000:]}"
    console.print(out.read_text(), highlight=False, markup=False, soft_wrap=True)
    return "profile above: the servicer called in-process with the api's settings"


def _profile_lines(prof, label: str, calls: int, top: int = 14) -> list[str]:
    """The project's functions by cumulative time, then everything by own time, per call."""
    import pstats

    stats = pstats.Stats(prof).stats  # (file, line, name) -> (cc, nc, tt, ct, callers)
    total = max(ct for (_cc, _nc, _tt, ct, _callers) in stats.values())
    root = str(ROOT) + os.sep

    def where(key) -> str:
        file, line, name = key
        file = file.removeprefix(root)
        if "site-packages" in file:
            file = file.split("site-packages" + os.sep, 1)[1]
        return f"{name} ({file}:{line})" if line else name

    def row(key, value) -> str:
        return f"  {value * 1000 / calls:8.3f} ms  {value / total:6.1%}  {where(key)}"

    services = (ROOT / "services").as_posix()
    # Where the database time is: the Session's statements and the rows they load.
    database = {
        ("orm", "session.py"): {"scalars", "scalar", "execute", "commit", "flush"},
        ("engine", "result.py"): {"all"},
    }

    def counted(key) -> bool:
        file, _line, name = key
        parts = tuple(file.split(os.sep)[-2:])
        return services in file or name in database.get(parts, ())

    ours = sorted(((k, v[3]) for k, v in stats.items() if counted(k)), key=lambda kv: -kv[1])
    own = sorted(((k, v[2]) for k, v in stats.items()), key=lambda kv: -kv[1])
    lines = [
        f"--- {label}: {calls} calls under cProfile, {total * 1000 / calls:.2f} ms per call "
        "(profiler overhead included; shares are what to read)",
        "  cumulative: Xiaobao's functions, the Session's statements and row loading (all):",
    ]
    lines += [row(k, v) for k, v in ours[:top]]
    lines.append("  own time, any function:")
    lines += [row(k, v) for k, v in own[:top]]
    return lines


def profile_child(spec_path: str, out_path: str) -> None:
    """Runs in a child with the api's environment: the servicer without gRPC, timed and profiled."""
    import cProfile

    from services.common import auth
    from services.routing.api import InstitutionPortal
    from xiaobao.routing.v1 import routing_pb2 as pb

    spec = json.loads(Path(spec_path).read_text())
    lists = [pb.ListAssignedCasesRequest.FromString(bytes.fromhex(h)) for h in spec["list"]]
    fresh = [pb.CaseRequest(case_no=c) for c in spec["fresh"]]
    lister = _Context(auth.bearer(auth.issue_token("bench", "institution", LISTER)))
    acker = _Context(auth.bearer(auth.issue_token("bench", "institution", ACKER)))
    portal = InstitutionPortal()
    stream = pb.StreamAssignedCasesRequest()
    half = len(fresh) // 2
    quarter = half // 2
    lines = ["in-process servicer, no gRPC (response serialization included), no profiler:"]

    def list_page(i: int) -> bytes:
        return portal.ListAssignedCases(lists[i % len(lists)], lister).SerializeToString()

    def ack(offset: int) -> Callable[[int], bytes]:
        return lambda i: portal.AcknowledgeCase(fresh[offset + i], acker).SerializeToString()

    def again(i: int) -> bytes:
        return portal.AcknowledgeCase(fresh[i % quarter], acker).SerializeToString()

    def catch_up(_i: int) -> list[bytes]:
        return [u.SerializeToString() for u in portal.StreamAssignedCases(stream, lister)]

    def timed(label: str, call: Callable[[int], object], k: int, per: str = "call") -> None:
        t = time.perf_counter()
        for i in range(k):
            call(i)
        lines.append(f"  {label}: {(time.perf_counter() - t) / k * 1000:.2f} ms per {per}")

    def profiled(label: str, call: Callable[[int], object], k: int) -> None:
        prof = cProfile.Profile()
        prof.enable()
        for i in range(k):
            call(i)
        prof.disable()
        lines.append("")
        lines.extend(_profile_lines(prof, label, k))

    for i in range(20):
        list_page(i)
    timed(f"ListAssignedCases, {len(lists)} pages in turn", list_page, 200)
    timed("AcknowledgeCase, a fresh case", ack(0), quarter)
    timed("AcknowledgeCase, again (no-op)", again, quarter)
    timed(f"StreamAssignedCases catch-up, {len(catch_up(0))} updates", catch_up, 5, "stream")
    profiled("ListAssignedCases", list_page, 200)
    profiled("AcknowledgeCase, a fresh case", ack(half), len(fresh) - half)
    profiled("StreamAssignedCases catch-up (per stream)", catch_up, 5)
    Path(out_path).write_text("\n".join(lines) + "\n")


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="The institution portal against a bare grpcio server measured in the same run."
    )
    parser.add_argument("--calls", type=int, default=1000, help="calls per measurement")
    parser.add_argument("--cases", type=int, default=2000, help="cases seeded for listing")
    parser.add_argument("--page-size", type=int, default=50, help="ListAssignedCases page size")
    parser.add_argument("--threads", type=int, default=THREADS, help="concurrent callers")
    parser.add_argument("--streams", type=int, default=20, help="full catch-up streams")
    parser.add_argument("--quick", action="store_true", help="calls and streams / 10, cases / 4")
    parser.add_argument(
        "--profile", action="store_true", help="then profile the servicer in-process (cProfile)"
    )
    parser.add_argument("--serve-stream-echo", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--profile-child", nargs=2, metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.calls, args.cases, args.threads, args.streams) < 1:
        parser.error("--calls, --cases, --threads and --streams must be at least 1")
    if not 1 <= args.page_size <= 500:
        parser.error("--page-size must be between 1 and 500 (the api's limits)")
    if args.quick:
        args.calls = max(10, args.calls // 10)
        args.streams = max(2, args.streams // 10)
        args.cases = max(100, args.cases // 4)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_stream_echo is not None:
        serve_stream_echo(args.serve_stream_echo)
        return 0
    if args.profile_child:
        profile_child(*args.profile_child)
        return 0

    import grpc
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 120)
    signal.signal(signal.SIGTERM, _terminate)  # a kill runs the finally blocks too
    opts = Options(
        calls=args.calls,
        cases=args.cases,
        page_size=args.page_size,
        threads=args.threads,
        streams=args.streams,
        profile=args.profile,
    )
    console.print(
        f"[bold]Xiaobao portal benchmark[/bold] {datetime.now():%Y-%m-%d %H:%M}  "
        f"python {platform.python_version()}, grpcio {grpc.__version__}, "
        f"{os.cpu_count()} cpus, {platform.machine()}  calls={opts.calls} cases={opts.cases} "
        f"page_size={opts.page_size} threads={opts.threads} streams={opts.streams}"
        f"{' (quick)' if args.quick else ''}",
        soft_wrap=True,
    )
    section, code = run_guarded(
        console,
        "portal",
        lambda children, tmp: bench_portal(opts, children, tmp, console),
        "interrupted; stopping the child processes",
    )
    if code is not None:
        return code
    render(console, section)
    console.print()
    console.print(f"[bold]Verdicts[/bold] (goal: at least {GOAL} of the bare server's rate)")
    for line in verdicts(section):
        console.print(line, soft_wrap=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
