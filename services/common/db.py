"""The one database session factory: SQLite files for the demo, a schema per service on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from functools import cache

from sqlalchemy import DateTime, Engine, TypeDecorator, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from services.common import settings as settings_mod


def database_url(service: str, cfg: settings_mod.Settings | None = None) -> str:
    cfg = cfg or settings_mod.get()
    own = cfg.service(service).database_url
    if own:
        return own
    if cfg.database_url:
        return cfg.database_url
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{cfg.data_dir / f'{service}.db'}"


def is_unavailable(error: BaseException) -> bool:
    """The database is down, restarting or unreachable (or SQLite is locked): the call may
    succeed when retried, so it is neither the caller's fault nor a poison event."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.DisconnectionError
    )


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def schema_for(service: str, url: str) -> str | None:
    """On a shared PostgreSQL database each service owns one schema, named after it."""
    if not is_postgres(url):
        return None
    return make_url(url).query.get("xiaobao_schema", service)  # type: ignore[return-value]


def engine_url(url: str, driver: str = "postgresql+psycopg") -> str:
    """A database URL as SQLAlchemy takes it (psycopg for PostgreSQL), without Xiaobao's own
    `xiaobao_schema` parameter; `driver="postgresql"` gives the libpq URL psycopg itself takes."""
    u = make_url(url)
    if u.get_backend_name() == "postgresql" and u.get_driver_name() in ("", "psycopg2", "psycopg"):
        u = u.set(drivername=driver)
    if "xiaobao_schema" in u.query:
        u = u.difference_update_query(["xiaobao_schema"])
    return u.render_as_string(hide_password=False)


def make_engine(service: str, url: str | None = None, **kwargs) -> Engine:
    url = url or database_url(service)
    schema = schema_for(service, url)
    if schema is None:
        engine = create_engine(
            engine_url(url), connect_args={"timeout": 30}, pool_pre_ping=True, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            # WAL lets the worker and the api of one service write the same file.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(
        engine_url(url),
        connect_args={"options": f"-csearch_path={schema}", "connect_timeout": 5},
        pool_pre_ping=True,
        # A worker runs up to 10 handlers at once (nameko's max_workers) beside its relay; a
        # pool smaller than that closed a connection after nearly every burst and opened
        # another for the next (PostgreSQL forks a backend for each): ~1 a case under load.
        pool_size=10,
        max_overflow=2,
        **kwargs,
    )


def ensure_schema(engine: Engine, service: str, url: str) -> None:
    schema = schema_for(service, url)
    if schema:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))


@cache
def engine_for(service: str) -> Engine:
    return make_engine(service)


@cache
def session_factory(service: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(service), expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping(service: str) -> bool:
    try:
        with engine_for(service).connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def on_commit(session: Session, callback) -> None:
    """Runs callback after the session's transaction commits (metrics that must not double-count
    a retried transaction)."""
    session.info.setdefault("on_commit", []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_on_commit(session: Session) -> None:
    for callback in session.info.pop("on_commit", []):
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_on_commit(session: Session) -> None:
    session.info.pop("on_commit", None)


class UTCDateTime(TypeDecorator):
    """Stores every instant in UTC and hands it back aware, on SQLite (which keeps no offset)
    as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give an offset")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
