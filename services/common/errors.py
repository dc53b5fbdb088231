"""Typed domain errors, and the one mapping from them to gRPC status codes."""

from __future__ import annotations

import grpc


class XiaobaoError(Exception):
    """Base of every error a caller is meant to see; carries its gRPC status code."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgument(XiaobaoError):
    """A request field is wrong; the message always names the field."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(XiaobaoError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(XiaobaoError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(XiaobaoError):
    """The request is well formed but the case is not in a state that allows it."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class Unauthenticated(XiaobaoError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(XiaobaoError):
    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(XiaobaoError):
    """A per-process limit is reached (e.g. open streams); the caller retries later."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(XiaobaoError):
    code = grpc.StatusCode.UNAVAILABLE


class CaseNotFound(NotFound):
    def __init__(self, case_no: str) -> None:
        super().__init__(f"case {case_no} not found")
        self.case_no = case_no


class ExtensionRefused(FailedPrecondition):
    """An extension the policy does not allow (beyond the last limit, out of order, no approver)."""
