"""Typed domain errors, and the one mapping from them to gRPC status codes.

Workers raise these too, and DESIGN keeps grpcio out of them (it hangs under eventlet, and its
import alone is ~20 MiB): the status code is looked up in grpc only when it is asked for, which
only the apis do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import grpc


class _Status:
    """A class attribute that reads as `grpc.StatusCode.<name>`, grpc imported on first use."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance, owner) -> grpc.StatusCode:
        import grpc

        return getattr(grpc.StatusCode, self.name)


class XiaobaoError(Exception):
    """Base of every error a caller is meant to see; carries its gRPC status code."""

    code = _Status("INTERNAL")

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgument(XiaobaoError):
    """A request field is wrong; the message always names the field."""

    code = _Status("INVALID_ARGUMENT")

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(XiaobaoError):
    code = _Status("NOT_FOUND")


class AlreadyExists(XiaobaoError):
    code = _Status("ALREADY_EXISTS")


class FailedPrecondition(XiaobaoError):
    """The request is well formed but the case is not in a state that allows it."""

    code = _Status("FAILED_PRECONDITION")


class Unauthenticated(XiaobaoError):
    code = _Status("UNAUTHENTICATED")


class PermissionDenied(XiaobaoError):
    code = _Status("PERMISSION_DENIED")


class ResourceExhausted(XiaobaoError):
    """A per-process limit is reached (e.g. open streams); the caller retries later."""

    code = _Status("RESOURCE_EXHAUSTED")


class Unavailable(XiaobaoError):
    code = _Status("UNAVAILABLE")


class CaseNotFound(NotFound):
    def __init__(self, case_no: str) -> None:
        super().__init__(f"case {case_no} not found")
        self.case_no = case_no


class ExtensionRefused(FailedPrecondition):
    """An extension the policy does not allow (beyond the last limit, out of order, no approver)."""
