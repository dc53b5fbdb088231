"""gRPC clients of the platform's APIs, at the addresses from settings."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

import grpc

from services.common import settings as settings_mod

_STUBS = {
    "intake": ("xiaobao.intake.v1.intake_pb2_grpc", "IntakeServiceStub"),
    "portal": ("xiaobao.routing.v1.routing_pb2_grpc", "InstitutionPortalStub"),
    "directory": ("xiaobao.routing.v1.routing_pb2_grpc", "DirectoryServiceStub"),
    "desk": ("xiaobao.routing.v1.routing_pb2_grpc", "RoutingDeskStub"),
    "mediation": ("xiaobao.mediation.v1.mediation_pb2_grpc", "MediationServiceStub"),
    "education": ("xiaobao.education.v1.education_pb2_grpc", "EducationServiceStub"),
    "blacklist": ("xiaobao.blacklist.v1.blacklist_pb2_grpc", "BlacklistServiceStub"),
}
_SERVICE_OF = {"portal": "routing", "directory": "routing", "desk": "routing"}


@cache
def channel(
    address: str, ca_file: str = "", cert_file: str = "", key_file: str = ""
) -> grpc.Channel:
    """Plaintext; or, with `ca_file`, TLS trusting that CA and presenting the client certificate
    if one is given. The server's certificate must list the address's host (no name override)."""
    if not ca_file:
        return grpc.insecure_channel(address)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=Path(ca_file).read_bytes(),
        private_key=Path(key_file).read_bytes() if key_file else None,
        certificate_chain=Path(cert_file).read_bytes() if cert_file else None,
    )
    return grpc.secure_channel(address, credentials)


def stub(name: str, address: str | None = None):
    """A stub by api name: intake, portal, directory, desk, mediation, education, blacklist."""
    module, cls = _STUBS[name]
    service = _SERVICE_OF.get(name, name)
    cfg = settings_mod.get()
    target = address or cfg.service(service).address
    tls = (cfg.tls_ca_file, cfg.tls_client_cert_file, cfg.tls_client_key_file)
    return getattr(importlib.import_module(module), cls)(channel(target, *tls))


def call_or_fail(
    name: str,
    method: str,
    request,
    role: str,
    subject: str = "cli",
    timeout: float = 30.0,
    token: str = "",
):
    """One call of a staff command line: signed as `subject` with `role` (or with `token`), and a
    refusal turned into one line on stderr and the exit code (2 for bad input, 1 otherwise)."""
    from services.common import auth
    from services.common.console import fail

    label = _SERVICE_OF.get(name, name)
    try:
        return getattr(stub(name), method)(
            request,
            metadata=auth.bearer(token or auth.issue_token(subject, role)),
            timeout=timeout,
        )
    except grpc.RpcError as exc:
        code = 2 if exc.code() == grpc.StatusCode.INVALID_ARGUMENT else 1
        fail(f"{label} api: {exc.code().name}: {exc.details()}", code)
