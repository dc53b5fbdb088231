"""Alembic per service: one history in services/<service>/migrations, run against its own schema."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from services.common import db
from services.common.settings import SERVICES

ROOT = Path(__file__).resolve().parents[1]


def config(service: str, url: str | None = None) -> Config:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / service / "migrations"))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["service"] = service
    cfg.attributes["url"] = url or db.database_url(service)
    return cfg


def upgrade(service: str, revision: str = "head", url: str | None = None) -> None:
    command.upgrade(config(service, url), revision)


def status(service: str, url: str | None = None) -> tuple[str | None, str]:
    """(the revision the database is at, or None if never migrated; the code's head)."""
    cfg = config(service, url)
    head = ScriptDirectory.from_config(cfg).get_current_head() or ""
    url = cfg.attributes["url"]
    engine = db.make_engine(service, url)
    try:
        with engine.connect() as connection:
            ctx = MigrationContext.configure(
                connection, opts={"version_table_schema": db.schema_for(service, url)}
            )
            return ctx.get_current_revision(), head
    finally:
        engine.dispose()


def run_env() -> None:
    """The body of every service's migrations/env.py."""
    cfg = context.config
    service = (
        cfg.attributes.get("service") or Path(cfg.get_main_option("script_location")).parent.name
    )
    url = cfg.attributes.get("url") or db.database_url(service)
    metadata = importlib.import_module(f"services.{service}.models").Base.metadata
    schema = db.schema_for(service, url)
    engine = db.make_engine(service, url)
    try:
        db.ensure_schema(engine, service, url)
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                version_table_schema=schema,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        engine.dispose()
