"""Alembic environment: the shared runner in services.common.migrations."""

from services.common.migrations import run_env

run_env()
