"""The consumers' HTTP JSON API and page (contract: services/intake/openapi.yaml).

A small Werkzeug WSGI app served by waitress in a thread of intake's api process, beside gRPC:
the same database pool, the same storage operations (services/intake/cases.py), no second
service to deploy. Consumers are anonymous, so what protects them is here: bodies checked
against the contract before anything is stored, a case shown only to the phone it was filed
with, wrong guesses limited, and nothing cached, framed, sniffed or shared across origins.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import waitress
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker
from waitress import wasyncore
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response

from services.common import db, metrics
from services.common import settings as settings_mod
from services.common.clock import in_force
from services.common.errors import InvalidArgument
from services.intake import cases, domain, public, taxonomy
from services.intake import policy as intake_policy
from services.intake.models import Case, LookupAttempt

log = logging.getLogger(__name__)

WEB = Path(__file__).parent / "web"
# The longest complaint (4,000 characters of Chinese) fits several times over.
MAX_BODY = 32 * 1024
THREADS = 8
SUBMIT_ATTEMPTS = 3
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The page loads its own script, style and icon and talks to its own origin; nothing inline,
# nothing from anywhere else, never inside another site's frame.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class Refused(Exception):
    """An answer other than success: its status, error code, message and refused field."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


class _Request(Request):
    # Werkzeug answers 413 when a body (chunked ones too) grows past this.
    max_content_length = MAX_BODY


def _json(body: Any, status: int = 200, cache: str = "no-store") -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")
    response.headers["Cache-Control"] = cache
    return response


def _error(exc: Refused) -> Response:
    error: dict[str, str] = {"code": exc.code, "message": exc.message}
    if exc.field is not None:
        error["field"] = exc.field
    response = _json({"error": error}, exc.status)
    response.headers.update(exc.headers)
    return response


def _web_files() -> dict[str, tuple[bytes, str]]:
    """The page's files, read once: only these names are ever served (no paths from requests)."""
    return {
        path.name: (path.read_bytes(), CONTENT_TYPES[path.suffix])
        for path in sorted(WEB.iterdir())
        if path.is_file() and path.suffix in CONTENT_TYPES
    }


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


class ConsumerApp:
    """The WSGI application. `rules` and `clock` are injectable for tests."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        rules=intake_policy.load,
        clock=lambda: datetime.now(UTC),
    ) -> None:
        self.factory = factory
        self.rules = rules
        self.clock = clock
        self.contract = public.contract()
        self.openapi = public.OPENAPI_FILE.read_bytes()
        self.files = _web_files()
        self.url_map = Map(
            [
                Rule("/", endpoint="page", methods=["GET"]),
                Rule("/static/<name>", endpoint="static", methods=["GET"]),
                Rule("/api/v1/complaints", endpoint="submit", methods=["POST"]),
                Rule("/api/v1/cases/lookup", endpoint="lookup", methods=["POST"]),
                Rule("/api/v1/products", endpoint="products", methods=["GET"]),
                Rule("/api/v1/openapi.yaml", endpoint="openapi", methods=["GET"]),
                Rule("/healthz", endpoint="healthz", methods=["GET"]),
                Rule("/readyz", endpoint="readyz", methods=["GET"]),
            ]
        )
        self._purged_at = -math.inf
        self._purge_lock = threading.Lock()

    def __call__(self, environ, start_response):
        request = _Request(environ)
        try:
            endpoint, args = self.url_map.bind_to_environ(environ).match()
            response = getattr(self, f"on_{endpoint}")(request, **args)
        except Refused as exc:
            response = _error(exc)
        except RequestRedirect as exc:
            response = exc.get_response(environ)
        except MethodNotAllowed as exc:
            response = _error(
                Refused(
                    405,
                    "method_not_allowed",
                    "不支持这种请求方法",
                    headers={"Allow": ", ".join(sorted(exc.valid_methods or []))},
                )
            )
        except NotFound:
            response = _error(Refused(404, "not_found", "没有这个页面"))
        except RequestEntityTooLarge:
            response = _error(Refused(413, "too_large", "提交的内容太长"))
        except HTTPException as exc:
            response = _error(Refused(exc.code or 400, "bad_request", "请求无法处理"))
        except Exception:
            log.exception(
                "consumer HTTP API: unexpected error on %s %s", request.method, request.path
            )
            response = _error(Refused(500, "internal", "系统繁忙，请稍后再试"))
        response.headers.update(SECURITY_HEADERS)
        return response(environ, start_response)

    # --- the page and its files ------------------------------------------------------------------

    def _file(self, request: Request, name: str) -> Response:
        if name not in self.files:
            raise NotFound()
        body, content_type = self.files[name]
        response = Response(body, content_type=content_type)
        response.headers["Cache-Control"] = "no-cache"
        response.add_etag()
        return response.make_conditional(request)

    def on_page(self, request: Request) -> Response:
        return self._file(request, "index.html")

    def on_static(self, request: Request, name: str) -> Response:
        if name == "index.html":
            raise NotFound()
        return self._file(request, name)

    def on_openapi(self, request: Request) -> Response:
        response = Response(self.openapi, content_type="application/yaml; charset=utf-8")
        response.headers["Cache-Control"] = "no-cache"
        return response

    def on_healthz(self, request: Request) -> Response:
        return _json({"status": "ok"})

    def on_readyz(self, request: Request) -> Response:
        try:
            with self.factory() as session:
                session.execute(text("SELECT 1"))
        except Exception:
            return _json({"status": "unavailable"}, 503)
        return _json({"status": "ok"})

    def on_products(self, request: Request) -> Response:
        tax = taxonomy.taxonomy_in_force()
        groups = {code: bt.label for code, bt in tax.business_types.items()}
        return _json(
            {
                "products": [
                    {"code": p.code, "label": p.label, "group": groups.get(p.business_type, "")}
                    for p in tax.products.values()
                ]
            },
            cache="no-cache",
        )

    # --- the API ---------------------------------------------------------------------------------

    def _body(self, request: Request, schema: str) -> dict[str, Any]:
        """The JSON body, checked against the contract's schema."""
        charset = request.mimetype_params.get("charset", "utf-8").lower()
        if request.mimetype != "application/json" or charset not in ("utf-8", "utf8"):
            raise Refused(415, "unsupported_media_type", "请以 application/json（UTF-8）格式提交")
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise Refused(413, "too_large", "提交的内容太长")
        raw = request.get_data(cache=False)
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise Refused(400, "bad_request", "提交的内容不是有效的 JSON") from None
        try:
            return self.contract.check(schema, data)
        except public.BodyError as exc:
            raise Refused(400, "bad_request", str(exc)) from None
        except public.FieldError as exc:
            raise Refused(422, exc.code, exc.message, exc.field) from None

    def on_submit(self, request: Request) -> Response:
        body = self._body(request, "ComplaintRequest")
        now = self.clock()
        try:
            new = domain.validate(public.new_case(body), now)
        except public.FieldError as exc:
            raise Refused(422, exc.code, exc.message, exc.field) from None
        except InvalidArgument as exc:
            refused = public.domain_error(exc.field, exc.message.removeprefix(f"{exc.field}: "))
            raise Refused(422, refused.code, refused.message, refused.field) from None
        request_id = public.stored_request_id(body.get("request_id"), new.phone)
        for attempt in range(1, SUBMIT_ATTEMPTS + 1):
            try:
                with db.session_scope(self.factory) as session:
                    case, duplicate = cases.submit(session, new, request_id, now)
                    answer = public.receipt(case, duplicate, in_force()[1])
                break
            except IntegrityError:
                # A concurrent writer (intake's worker updating the earlier case a repeat is
                # linked to, say) won a race; the transaction stored nothing, so try again.
                if attempt == SUBMIT_ATTEMPTS:
                    raise
                log.warning("consumer submission: a concurrent update; trying again")
        if not duplicate:
            log.info("case %s submitted by its complainant via %s", answer["case_no"], new.channel)
        return _json(answer, 201)

    def on_lookup(self, request: Request) -> Response:
        body = self._body(request, "LookupRequest")
        case_no, phone = body["case_no"], body["phone"]
        now = self.clock()
        rules = self.rules()
        window = timedelta(minutes=rules.lookup_window_minutes)
        by_case = public.attempt_key("case", case_no)
        by_address = public.attempt_key("address", request.remote_addr or "")
        with db.session_scope(self.factory) as session:
            self._purge(session, now - window)
            wait_case = self._wait(session, by_case, rules.lookup_failures_per_case, now, window)
            wait_address = self._wait(
                session, by_address, rules.lookup_failures_per_address, now, window
            )
            if wait_case or wait_address:
                found = None
            else:
                # One query whichever part is wrong; the case itself only for its complainant.
                row = session.execute(
                    select(Case.id, Case.phone_hash).where(Case.case_no == case_no)
                ).first()
                ok = public.phone_matches(row.phone_hash if row else None, phone)
                session.add_all(
                    [LookupAttempt(key=k, at=now, ok=ok) for k in (by_case, by_address)]
                )
                found = None
                if ok and row is not None:
                    case = session.scalar(
                        select(Case)
                        .options(selectinload(Case.events), selectinload(Case.clocks))
                        .where(Case.id == row.id)
                    )
                    found = public.case_view(case)
        outcome = "refused" if (wait_case or wait_address) else "found" if found else "not_found"
        metrics.CONSUMER_LOOKUPS.labels(outcome).inc()
        if wait_case or wait_address:
            seconds = max(wait_case, wait_address)
            log.warning(
                "consumer lookup refused: too many wrong guesses %s",
                "for one case number" if wait_case else "from one address",
            )
            raise Refused(
                429,
                "too_many_attempts",
                f"查询错误次数过多，请{math.ceil(seconds / 60)}分钟后再试",
                field="case_no" if wait_case else None,
                headers={"Retry-After": str(math.ceil(seconds))},
            )
        if found is None:
            raise Refused(404, "not_found", public.NOT_FOUND_MESSAGE, field="case_no")
        return _json(found)

    @staticmethod
    def _wait(session: Session, key: str, limit: int, now: datetime, window: timedelta) -> float:
        """Seconds until `key` may try again: 0 below `limit` wrong guesses within the window,
        else until the oldest guess that keeps it at the limit leaves the window."""
        failures = session.scalars(
            select(LookupAttempt.at)
            .where(
                LookupAttempt.key == key,
                LookupAttempt.ok.is_(False),
                LookupAttempt.at >= now - window,
            )
            .order_by(LookupAttempt.at)
        ).all()
        if len(failures) < limit:
            return 0.0
        frees_at = failures[len(failures) - limit] + window
        return max(1.0, (frees_at - now).total_seconds())

    def _purge(self, session: Session, before: datetime) -> None:
        """Attempts older than the window count for nothing: deleted, at most once a minute."""
        with self._purge_lock:
            if time.monotonic() - self._purged_at < 60:
                return
            self._purged_at = time.monotonic()
        session.execute(delete(LookupAttempt).where(LookupAttempt.at < before))


class Serving:
    """The consumer server running in its thread; close() stops it from any thread."""

    def __init__(self, server) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.run, name="consumer-http", daemon=True)
        self.thread.start()

    def close(self, timeout: float = 5.0) -> None:
        if self.thread.is_alive():
            # The loop closes its own sockets (closing them from here races with it) and ends
            # when none is left; then the request threads finish what they have.
            sockets = self.server._map
            self.server.trigger.pull_trigger(lambda: wasyncore.close_all(sockets))
            self.thread.join(timeout)
        self.server.task_dispatcher.shutdown(timeout=timeout)


def start(
    cfg: settings_mod.Settings | None = None, factory: sessionmaker[Session] | None = None
) -> Serving:
    """Serves the consumer API and page on bind_host:intake_http_port in a daemon thread;
    exits with one line if the port is taken."""
    cfg = cfg or settings_mod.get()
    app = ConsumerApp(factory or db.session_factory(cases.SERVICE))
    try:
        server = waitress.create_server(
            app,
            host=cfg.bind_host,
            port=cfg.intake_http_port,
            threads=THREADS,
            ident="xiaobao",
            # Bounds what waitress buffers; the app answers 413 well below it.
            max_request_body_size=4 * MAX_BODY,
            channel_timeout=30,
            # Behind an Ingress every consumer would share its address (and its guess limit):
            # trust that proxy's X-Forwarded-For, and only that proxy's.
            **(
                {
                    "trusted_proxy": cfg.intake_trusted_proxy,
                    "trusted_proxy_headers": {"x-forwarded-for"},
                    "trusted_proxy_count": 1,
                }
                if cfg.intake_trusted_proxy
                else {}
            ),
        )
    except OSError as exc:
        raise SystemExit(
            f"intake api: cannot listen on {cfg.bind_host}:{cfg.intake_http_port} for the "
            f"consumer page ({exc.strerror}); free the port or set XIAOBAO_INTAKE_HTTP_PORT"
        ) from None
    serving = Serving(server)
    log.info("consumer page and HTTP API on http://%s:%d/", cfg.bind_host, cfg.intake_http_port)
    return serving
