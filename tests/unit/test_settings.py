"""Settings: the fixed default ports, XIAOBAO_* overrides, and no dev secret in production."""

from __future__ import annotations

import os

import pytest

from services.common import settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start each test from no XIAOBAO_* variable at all, whatever the shell has set."""
    for name in list(os.environ):
        if name.startswith("XIAOBAO_"):
            monkeypatch.delenv(name)


def test_every_service_has_its_guessable_default_ports() -> None:
    cfg = settings.load()
    assert cfg.env == "dev"
    assert cfg.service("intake").grpc_port == 50051
    assert cfg.service("intake").address == "127.0.0.1:50051"
    assert cfg.service("routing").api_metrics_port == 9102
    assert cfg.service("blacklist").worker_metrics_port == 9205
    assert cfg.service("blacklist").grpc_port == 50055


def test_moving_intakes_port_moves_the_address_clients_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOBAO_INTAKE_GRPC_PORT", "60051")
    cfg = settings.load()
    assert cfg.service("intake").grpc_port == 60051
    assert cfg.service("intake").address == "127.0.0.1:60051"
    assert cfg.service("routing").grpc_port == 50052


def test_an_explicit_address_wins_over_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOBAO_INTAKE_GRPC_PORT", "60051")
    monkeypatch.setenv("XIAOBAO_INTAKE_ADDR", "intake.xiaobao.svc:50051")
    assert settings.load().service("intake").address == "intake.xiaobao.svc:50051"


def test_an_empty_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOBAO_INTAKE_GRPC_PORT", "")
    assert settings.load().service("intake").grpc_port == 50051


def test_a_port_that_is_not_a_number_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XIAOBAO_ROUTING_METRICS_PORT", "nine-one-zero-two")
    with pytest.raises(ValueError, match="XIAOBAO_ROUTING_METRICS_PORT"):
        settings.load()


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOBAO_ENV", "prod")
    with pytest.raises(ValueError, match="XIAOBAO_AUTH_SECRET"):
        settings.load()


def test_production_refuses_the_development_pii_key_even_with_a_real_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XIAOBAO_ENV", "prod")
    monkeypatch.setenv("XIAOBAO_AUTH_SECRET", "a-real-secret-from-the-vault")
    with pytest.raises(ValueError, match="XIAOBAO_PII_KEY"):
        settings.load()


def test_production_starts_with_its_own_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOBAO_ENV", "prod")
    monkeypatch.setenv("XIAOBAO_AUTH_SECRET", "a-real-secret-from-the-vault")
    monkeypatch.setenv("XIAOBAO_PII_KEY", "a-real-pii-key-from-the-vault")
    cfg = settings.load()
    assert cfg.env == "prod"
    assert cfg.auth_secret == "a-real-secret-from-the-vault"


def test_an_unknown_service_is_refused_by_name() -> None:
    with pytest.raises(KeyError, match="payments"):
        settings.load().service("payments")
