"""Shared test configuration.

Unit tests (tests/unit) need nothing running. Integration tests (tests/integration) need the
real RabbitMQ and PostgreSQL and fail, never skip, when either is missing: a skipped
integration suite would hide a broken CI machine.
"""
