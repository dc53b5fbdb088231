"""gRPC clients of the platform's APIs, at the addresses from settings."""

from __future__ import annotations

import importlib
from functools import cache

import grpc

from services.common import settings as settings_mod

_STUBS = {
    "intake": ("xiaobao.intake.v1.intake_pb2_grpc", "IntakeServiceStub"),
    "portal": ("xiaobao.routing.v1.routing_pb2_grpc", "InstitutionPortalStub"),
    "directory": ("xiaobao.routing.v1.routing_pb2_grpc", "DirectoryServiceStub"),
    "mediation": ("xiaobao.mediation.v1.mediation_pb2_grpc", "MediationServiceStub"),
    "education": ("xiaobao.education.v1.education_pb2_grpc", "EducationServiceStub"),
    "blacklist": ("xiaobao.blacklist.v1.blacklist_pb2_grpc", "BlacklistServiceStub"),
}
_SERVICE_OF = {"portal": "routing", "directory": "routing"}


@cache
def channel(address: str) -> grpc.Channel:
    return grpc.insecure_channel(address)


def stub(name: str, address: str | None = None):
    """A stub by api name: intake, portal, directory, mediation, education, blacklist."""
    module, cls = _STUBS[name]
    service = _SERVICE_OF.get(name, name)
    target = address or settings_mod.get().service(service).address
    return getattr(importlib.import_module(module), cls)(channel(target))
