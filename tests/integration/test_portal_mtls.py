"""The portal in production mode: a routing api that admits only client certificates of the
centre's CA, started as a real process beside the platform, on the same database."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common import certs
from tests.integration.conftest import _free_port, eventually, institution, wait_assigned
from tests.integration.test_portal import code_of, submit
from xiaobao.routing.v1 import routing_pb2 as rpb
from xiaobao.routing.v1 import routing_pb2_grpc

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mtls_portal(platform, tmp_path_factory):
    """(address, pki directory) of a routing api in XIAOBAO_AUTH_MODE=mtls."""
    pki = certs.write_dev_pki(
        tmp_path_factory.mktemp("pki"), ["icbc-tj", "ccb-tj"], [("desk-wang", "operator")]
    )
    port, health = _free_port(), _free_port()
    api = platform.add_api(
        "routing",
        2,
        {
            "XIAOBAO_AUTH_MODE": "mtls",
            "XIAOBAO_TLS_CERT": str(pki / "server.pem"),
            "XIAOBAO_TLS_KEY": str(pki / "server-key.pem"),
            "XIAOBAO_TLS_CLIENT_CA": str(pki / "ca.pem"),
            "XIAOBAO_ROUTING_GRPC_PORT": str(port),
            "XIAOBAO_ROUTING_HEALTH_PORT": str(health),
            "XIAOBAO_ROUTING_METRICS_PORT": str(_free_port()),
        },
    )

    def serving():
        with grpc.insecure_channel(f"127.0.0.1:{health}") as channel:
            try:
                status = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
            except grpc.RpcError:
                return False
            return status.status == health_pb2.HealthCheckResponse.SERVING

    try:
        eventually(serving, timeout=30)  # the plaintext probe port Kubernetes uses
        yield f"127.0.0.1:{port}", pki
    finally:
        platform.stop_process(api)


def portal_as(address: str, pki, name: str | None, ca: str = "ca.pem"):
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(pki / ca).read_bytes(),
        private_key=(pki / f"{name}-key.pem").read_bytes() if name else None,
        certificate_chain=(pki / f"{name}.pem").read_bytes() if name else None,
    )
    channel = grpc.secure_channel(address, credentials)
    return routing_pb2_grpc.InstitutionPortalStub(channel), channel


def test_a_client_certificate_is_the_institution_and_sees_only_its_subtree(
    platform, staff, mtls_portal
):
    address, pki = mtls_portal
    case_no = submit(staff, "工行河西支行", "120103")
    wait_assigned("icbc-tj-hexi", case_no)

    icbc, channel = portal_as(address, pki, "icbc-tj")
    with channel:
        got = icbc.GetAssignedCase(rpb.CaseRequest(case_no=case_no), timeout=10)
        assert got.node_id == "icbc-tj-hexi"
        listed = icbc.ListAssignedCases(rpb.ListAssignedCasesRequest(page_size=500), timeout=10)
        assert case_no in {a.case_no for a in listed.assignments}
        # A development token is no way in, even beside a valid certificate.
        code, _ = code_of(
            lambda: icbc.GetAssignedCase(
                rpb.CaseRequest(case_no=case_no), metadata=institution("icbc-tj"), timeout=10
            )
        )
        assert code == grpc.StatusCode.UNAUTHENTICATED

    ccb, channel = portal_as(address, pki, "ccb-tj")
    with channel:
        code, _ = code_of(lambda: ccb.AcknowledgeCase(rpb.CaseRequest(case_no=case_no), timeout=10))
        assert code == grpc.StatusCode.NOT_FOUND
        listed = ccb.ListAssignedCases(rpb.ListAssignedCasesRequest(page_size=500), timeout=10)
        assert case_no not in {a.case_no for a in listed.assignments}

    # A staff certificate is not an institution.
    desk, channel = portal_as(address, pki, "desk-wang")
    with channel:
        code, _ = code_of(lambda: desk.ListAssignedCases(rpb.ListAssignedCasesRequest()))
        assert code == grpc.StatusCode.PERMISSION_DENIED


def test_no_certificate_or_one_from_another_ca_is_refused(mtls_portal, tmp_path):
    address, pki = mtls_portal
    bare, channel = portal_as(address, pki, None)
    with channel:
        code, _ = code_of(
            lambda: bare.ListAssignedCases(rpb.ListAssignedCasesRequest(), timeout=10)
        )
        assert code == grpc.StatusCode.UNAVAILABLE
    # A certificate naming icbc-tj, signed by some other CA.
    other = certs.write_dev_pki(tmp_path / "other", ["icbc-tj"], [])
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(pki / "ca.pem").read_bytes(),
        private_key=(other / "icbc-tj-key.pem").read_bytes(),
        certificate_chain=(other / "icbc-tj.pem").read_bytes(),
    )
    with grpc.secure_channel(address, credentials) as channel:
        stub = routing_pb2_grpc.InstitutionPortalStub(channel)
        code, _ = code_of(
            lambda: stub.ListAssignedCases(rpb.ListAssignedCasesRequest(), timeout=10)
        )
        assert code == grpc.StatusCode.UNAVAILABLE
    # Plaintext to the TLS port.
    with grpc.insecure_channel(address) as channel:
        stub = routing_pb2_grpc.InstitutionPortalStub(channel)
        code, _ = code_of(
            lambda: stub.ListAssignedCases(rpb.ListAssignedCasesRequest(), timeout=10)
        )
        assert code == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(
    "validity",
    [
        pytest.param((1, -2), id="expired yesterday"),
        pytest.param((30, 1), id="valid only from tomorrow"),
    ],
)
def test_a_certificate_of_the_centres_ca_outside_its_validity_is_refused(mtls_portal, validity):
    """Signed by the right CA, naming a real institution, but not valid now."""
    address, pki = mtls_portal
    days, starts_in_days = validity
    cert, key = certs.issue(
        (pki / "ca.pem").read_bytes(),
        (pki / "ca-key.pem").read_bytes(),
        "icbc-tj",
        "institution",
        days=days,
        not_before=dt.datetime.now(dt.UTC) + dt.timedelta(days=starts_in_days),
    )
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(pki / "ca.pem").read_bytes(), private_key=key, certificate_chain=cert
    )
    with grpc.secure_channel(address, credentials) as channel:
        stub = routing_pb2_grpc.InstitutionPortalStub(channel)
        code, _ = code_of(
            lambda: stub.ListAssignedCases(rpb.ListAssignedCasesRequest(), timeout=10)
        )
        assert code == grpc.StatusCode.UNAVAILABLE
