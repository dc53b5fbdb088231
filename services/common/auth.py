"""Callers of the gRPC APIs: client certificate (mtls) or signed token (dev), role, node."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import grpc
import jwt

from services.common import settings as settings_mod
from services.common.errors import InvalidArgument, PermissionDenied, Unauthenticated

ROLES = ("operator", "institution", "mediator", "educator", "investigator", "supervisor")
ISSUER = "xiaobao"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    node_id: str = ""  # institutions only: the root of the subtree they may see


def issue_token(
    subject: str,
    role: str,
    node_id: str = "",
    ttl_seconds: int = 12 * 3600,
    secret: str | None = None,
) -> str:
    if role not in ROLES:
        raise InvalidArgument("role", f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if role == "institution" and not node_id:
        raise InvalidArgument("node_id", "an institution token must name its node")
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": subject, "role": role, "iat": now, "exp": now + ttl_seconds}
    if node_id:
        claims["node"] = node_id
    return jwt.encode(claims, secret or settings_mod.get().auth_secret, algorithm="HS256")


def verify_token(token: str, secret: str | None = None) -> Principal:
    principal, expires = _verified(token, secret or settings_mod.get().auth_secret)
    if time.time() > expires:
        raise Unauthenticated("token expired")
    return principal


@functools.lru_cache(maxsize=4096)
def _verified(token: str, secret: str) -> tuple[Principal, float]:
    """A good token's principal and expiry, remembered: a portal client sends the same token on
    every call, and checking its signature each time was a tenth of a listing's cost. Refusals
    raise and are not remembered."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("token expired") from None
    except jwt.PyJWTError:
        raise Unauthenticated("token invalid") from None
    role = claims.get("role")
    if role not in ROLES:
        raise Unauthenticated("token carries no known role")
    node_id = str(claims.get("node") or "")
    if role == "institution" and not node_id:
        # issue_token never signs one; a caller without a node is no institution at all.
        raise Unauthenticated("an institution token must name its node")
    principal = Principal(subject=str(claims["sub"]), role=role, node_id=node_id)
    return principal, float(claims["exp"])


def principal_from(context: grpc.ServicerContext) -> Principal:
    """The caller: its verified client certificate in mtls mode, else its bearer token."""
    if settings_mod.get().auth_mode == "mtls":
        return _principal_from_certificate(context)
    for key, value in context.invocation_metadata():
        if key == "authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise Unauthenticated("authorization must be 'Bearer <token>'")
            return verify_token(token)
    raise Unauthenticated("missing authorization metadata")


def _principal_from_certificate(context: grpc.ServicerContext) -> Principal:
    # A token is refused outright, even beside a good certificate: a development token that
    # leaked must not work against production, and a client sending one is misconfigured.
    if any(key == "authorization" for key, _ in context.invocation_metadata()):
        raise Unauthenticated("bearer tokens are not accepted here; present a client certificate")
    peer_certs = context.auth_context().get("x509_pem_cert")
    if not peer_certs:
        raise Unauthenticated("missing client certificate")
    # Imported here: certs builds on this module's Principal and ROLES.
    from services.common.certs import principal_from_pem

    return principal_from_pem(peer_certs[0])


def require(context: grpc.ServicerContext, *roles: str) -> Principal:
    principal = principal_from(context)
    if principal.role not in roles:
        raise PermissionDenied(f"role {principal.role} may not call this method")
    return principal


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """Call metadata for a client."""
    return (("authorization", f"Bearer {token}"),)
