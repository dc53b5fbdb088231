"""Callers' tokens: who signed them, when they run out, and which roles exist."""

from __future__ import annotations

import pytest

from services.common.auth import Principal, issue_token, verify_token
from services.common.errors import InvalidArgument, Unauthenticated

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
