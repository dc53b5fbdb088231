"""Callers' tokens: who signed them, when they run out, and which roles exist."""

from __future__ import annotations

import time

import grpc
import jwt
import pytest

from services.common import settings as settings_mod
from services.common.auth import (
    ISSUER,
    ROLES,
    Principal,
    bearer,
    issue_token,
    require,
    verify_token,
)
from services.common.errors import InvalidArgument, PermissionDenied, Unauthenticated

SECRET = "centre-test-secret-0123456789abcdef"


def test_an_operators_token_verifies_to_the_operator() -> None:
    token = issue_token("op-wang", "operator", secret=SECRET)
    assert verify_token(token, secret=SECRET) == Principal("op-wang", "operator", "")


def test_an_institutions_token_carries_its_node() -> None:
    token = issue_token("icbc-tj-desk", "institution", node_id="icbc-tj", secret=SECRET)
    assert verify_token(token, secret=SECRET) == Principal("icbc-tj-desk", "institution", "icbc-tj")


def test_an_expired_token_is_refused_as_expired() -> None:
    token = issue_token("op-wang", "operator", ttl_seconds=-10, secret=SECRET)
    with pytest.raises(Unauthenticated, match="expired"):
        verify_token(token, secret=SECRET)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = issue_token("op-wang", "supervisor", secret="someone-elses-secret-0123456789ab")
    with pytest.raises(Unauthenticated, match="invalid"):
        verify_token(token, secret=SECRET)


def test_a_garbled_token_is_refused() -> None:
    with pytest.raises(Unauthenticated):
        verify_token("not-a-token", secret=SECRET)


def test_an_unknown_role_is_refused_by_name() -> None:
    with pytest.raises(InvalidArgument) as caught:
        issue_token("op-wang", "director", secret=SECRET)
    assert caught.value.field == "role"
    assert "director" in str(caught.value)


def test_an_institution_token_without_a_node_is_refused() -> None:
    with pytest.raises(InvalidArgument) as caught:
        issue_token("icbc-tj-desk", "institution", secret=SECRET)
    assert caught.value.field == "node_id"
    assert str(caught.value).startswith("node_id:")


# What an api sees in token mode: the call's metadata, through principal_from / require.


class _Call:
    """The part of a grpc.ServicerContext auth reads."""

    def __init__(self, *metadata: tuple[str, str]) -> None:
        self.metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata

    def auth_context(self) -> dict[str, list[bytes]]:
        return {}


@pytest.fixture()
def token_mode(monkeypatch: pytest.MonkeyPatch) -> settings_mod.Settings:
    cfg = settings_mod.load({"XIAOBAO_AUTH_SECRET": SECRET})
    monkeypatch.setattr(settings_mod, "get", lambda: cfg)
    return cfg


def _refusal(*metadata: tuple[str, str]) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        require(_Call(*metadata), *ROLES)
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    return caught.value


def test_a_bearer_token_is_how_a_caller_is_known_in_token_mode(token_mode) -> None:
    token = issue_token("icbc-tj-desk", "institution", node_id="icbc-tj")
    assert require(_Call(*bearer(token)), "institution") == Principal(
        "icbc-tj-desk", "institution", "icbc-tj"
    )


def test_an_expired_token_is_unauthenticated(token_mode) -> None:
    assert "expired" in str(_refusal(*bearer(issue_token("op-wang", "operator", ttl_seconds=-1))))


def test_a_token_with_a_forged_signature_is_unauthenticated(token_mode) -> None:
    header, payload, _ = issue_token("op-wang", "operator").split(".")
    forged = jwt.encode(
        {"iss": ISSUER, "sub": "op-wang", "role": "supervisor", "exp": int(time.time()) + 60},
        "guessed-secret-0123456789abcdefgh",
        algorithm="HS256",
    ).split(".")[2]
    _refusal(*bearer(f"{header}.{payload}.{forged}"))


def test_an_unsigned_token_is_unauthenticated(token_mode) -> None:
    unsigned = jwt.encode(
        {"iss": ISSUER, "sub": "op-wang", "role": "supervisor", "exp": int(time.time()) + 60},
        None,
        algorithm="none",
    )
    _refusal(*bearer(unsigned))


def test_a_token_from_another_issuer_is_unauthenticated(token_mode) -> None:
    other = jwt.encode(
        {"iss": "someone-else", "sub": "op-wang", "role": "operator", "exp": int(time.time()) + 60},
        SECRET,
        algorithm="HS256",
    )
    _refusal(*bearer(other))


def test_a_call_without_a_token_is_unauthenticated(token_mode) -> None:
    _refusal()
    _refusal(("authorization", "Basic b3A6cGFzcw=="))


def test_a_known_caller_in_the_wrong_role_is_denied(token_mode) -> None:
    token = issue_token("icbc-tj-desk", "institution", node_id="icbc-tj")
    with pytest.raises(PermissionDenied):
        require(_Call(*bearer(token)), "operator", "supervisor")


# Tokens an attacker might hand in: each is refused as UNAUTHENTICATED, never let through with a
# role it does not carry.


def _signed(claims: dict, secret: str = SECRET) -> str:
    return jwt.encode({"iss": ISSUER, "exp": int(time.time()) + 60, **claims}, secret, "HS256")


def test_a_token_whose_payload_was_changed_after_signing_is_unauthenticated(token_mode) -> None:
    import base64
    import json

    header, payload, signature = issue_token("op-wang", "operator").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["role"] == "operator"
    claims["role"] = "supervisor"
    raised = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert "invalid" in str(_refusal(*bearer(f"{header}.{raised}.{signature}")))


def test_a_signed_token_with_a_role_the_centre_does_not_have_is_unauthenticated(token_mode) -> None:
    token = _signed({"sub": "op-wang", "role": "director"})
    assert "role" in str(_refusal(*bearer(token)))
    assert "role" in str(_refusal(*bearer(_signed({"sub": "op-wang"}))))


def test_a_signed_institution_token_without_a_node_is_unauthenticated(token_mode) -> None:
    # issue_token refuses to make one; a token made by hand must not pass either, or the portal
    # would take a caller that belongs to no node for an institution.
    for claims in ({}, {"node": ""}):
        token = _signed({"sub": "icbc-tj-desk", "role": "institution", **claims})
        assert "node" in str(_refusal(*bearer(token)))


def test_a_token_without_an_expiry_is_unauthenticated(token_mode) -> None:
    forever = jwt.encode({"iss": ISSUER, "sub": "op-wang", "role": "operator"}, SECRET, "HS256")
    _refusal(*bearer(forever))


@pytest.mark.parametrize(
    "value",
    [
        "Bearer",
        "Bearer ",
        "Bearer not-a-token",
        "Bearer a.b.c",
        "Token abc",
        "bearer-abc",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30",
    ],
)
def test_garbage_in_the_authorization_header_is_unauthenticated(token_mode, value: str) -> None:
    _refusal(("authorization", value))


def test_a_refused_token_is_not_remembered_as_good(token_mode, monkeypatch) -> None:
    # The cache of verified tokens must hold only tokens that verified: a forged token asked
    # for twice is refused twice, and a good token expires on time even when cached.
    forged = _signed({"sub": "op-wang", "role": "supervisor"}, "guessed-secret-0123456789abcdefgh")
    _refusal(*bearer(forged))
    _refusal(*bearer(forged))
    token = issue_token("op-wang", "operator", ttl_seconds=60)
    assert require(_Call(*bearer(token)), "operator").subject == "op-wang"
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)
    assert "expired" in str(_refusal(*bearer(token)))
