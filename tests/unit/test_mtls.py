"""Mutual TLS: institutions and staff are known by their client certificates, nobody else gets in.

Each test starts a real grpcio server on a free port with the credentials serve() uses in
production, and a tiny method that answers with whoever auth.require says is calling.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.common import auth, certs, clients, grpc_server, settings
from services.common.errors import Unauthenticated

WHOAMI = "/xiaobao.test.v1.Whoami/Who"


def _who(request: bytes, context: grpc.ServicerContext) -> bytes:
    caller = auth.require(context, *auth.ROLES)
    return f"{caller.subject}|{caller.role}|{caller.node_id}".encode()


@dataclass(frozen=True)
class Pki:
    directory: Path
    rogue_ca: bytes  # a CA the centre never trusted

    def read(self, name: str) -> bytes:
        return (self.directory / name).read_bytes()

    def path(self, name: str) -> str:
        return str(self.directory / name)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = certs.write_dev_pki(
        tmp_path_factory.mktemp("pki"),
        institutions=["icbc-tj", "pingan-sz"],
        staff=[("op-wang", "operator")],
    )
    ca_cert, ca_key = directory / "ca.pem", directory / "ca-key.pem"
    # Issued by the right CA, but it ran out yesterday.
    expired = certs.issue(
        ca_cert.read_bytes(),
        ca_key.read_bytes(),
        "icbc-tj",
        "institution",
        days=1,
        not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=2),
    )
    (directory / "expired.pem").write_bytes(expired[0])
    (directory / "expired-key.pem").write_bytes(expired[1])
    # Same name and role, signed by a CA of the attacker's own making.
    rogue_ca, rogue_key = certs.make_ca("Xiaobao development CA", days=30)
    forged = certs.issue(rogue_ca, rogue_key, "icbc-tj", "institution")
    (directory / "forged.pem").write_bytes(forged[0])
    (directory / "forged-key.pem").write_bytes(forged[1])
    return Pki(directory=directory, rogue_ca=rogue_ca)


@pytest.fixture()
def mtls_settings(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> settings.Settings:
    cfg = settings.load(
        {
            "XIAOBAO_AUTH_MODE": "mtls",
            "XIAOBAO_TLS_CERT": pki.path("server.pem"),
            "XIAOBAO_TLS_KEY": pki.path("server-key.pem"),
            "XIAOBAO_TLS_CLIENT_CA": pki.path("ca.pem"),
        }
    )
    monkeypatch.setattr(settings, "get", lambda: cfg)
    return cfg


@pytest.fixture()
def address(mtls_settings: settings.Settings) -> Iterator[str]:
    """The secure address of a server built as serve() builds it in mtls mode."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        interceptors=[grpc_server.ErrorsAndMetrics()],
    )
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "xiaobao.test.v1.Whoami", {"Who": grpc.unary_unary_rpc_method_handler(_who)}
            )
        ]
    )
    port = grpc_server.listen(server, "127.0.0.1:0", mtls_settings)
    assert port
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(grace=None)
    clients.channel.cache_clear()


def _call(channel: grpc.Channel, metadata=()) -> str:
    return channel.unary_unary(WHOAMI)(b"", timeout=5, metadata=metadata).decode()


def _channel(address: str, ca: bytes, cert: bytes | None = None, key: bytes | None = None):
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )
    return grpc.secure_channel(address, credentials)


def _refused(channel: grpc.Channel, metadata=()) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        _call(channel, metadata)
    return caught.value.code()


def test_an_institution_is_known_by_its_certificate_and_sees_its_own_node(
    pki: Pki, address: str
) -> None:
    channel = clients.channel(
        address, pki.path("ca.pem"), pki.path("icbc-tj.pem"), pki.path("icbc-tj-key.pem")
    )
    assert _call(channel) == "icbc-tj|institution|icbc-tj"


def test_staff_are_known_by_their_certificate_with_no_node(pki: Pki, address: str) -> None:
    channel = clients.channel(
        address, pki.path("ca.pem"), pki.path("op-wang.pem"), pki.path("op-wang-key.pem")
    )
    assert _call(channel) == "op-wang|operator|"


def test_a_certificate_from_another_ca_is_refused_at_the_handshake(pki: Pki, address: str) -> None:
    channel = _channel(
        address, pki.read("ca.pem"), pki.read("forged.pem"), pki.read("forged-key.pem")
    )
    assert _refused(channel) == grpc.StatusCode.UNAVAILABLE


def test_a_caller_without_a_certificate_is_refused_at_the_handshake(pki: Pki, address: str) -> None:
    assert _refused(_channel(address, pki.read("ca.pem"))) == grpc.StatusCode.UNAVAILABLE


def test_an_expired_certificate_is_refused(pki: Pki, address: str) -> None:
    channel = _channel(
        address, pki.read("ca.pem"), pki.read("expired.pem"), pki.read("expired-key.pem")
    )
    assert _refused(channel) == grpc.StatusCode.UNAVAILABLE


def test_a_bearer_token_is_refused_in_mtls_mode_even_beside_a_good_certificate(
    pki: Pki, address: str
) -> None:
    token = auth.issue_token("op-wang", "supervisor", secret="leaked-dev-secret-0123456789abcdef")
    channel = _channel(
        address, pki.read("ca.pem"), pki.read("icbc-tj.pem"), pki.read("icbc-tj-key.pem")
    )
    assert _refused(channel, auth.bearer(token)) == grpc.StatusCode.UNAUTHENTICATED


def test_a_bearer_token_without_a_certificate_does_not_get_past_the_handshake(
    pki: Pki, address: str
) -> None:
    token = auth.issue_token("op-wang", "supervisor")
    channel = _channel(address, pki.read("ca.pem"))
    assert _refused(channel, auth.bearer(token)) == grpc.StatusCode.UNAVAILABLE


def test_a_client_that_does_not_trust_the_centres_ca_refuses_the_server(
    pki: Pki, address: str
) -> None:
    channel = _channel(address, pki.rogue_ca, pki.read("icbc-tj.pem"), pki.read("icbc-tj-key.pem"))
    assert _refused(channel) == grpc.StatusCode.UNAVAILABLE


def test_the_secure_port_refuses_plaintext(address: str) -> None:
    token = auth.issue_token("op-wang", "operator")
    assert _refused(grpc.insecure_channel(address), auth.bearer(token)) == (
        grpc.StatusCode.UNAVAILABLE
    )


def test_the_plaintext_probe_port_answers_health_in_step_with_readiness() -> None:
    servicer = health.HealthServicer()
    probes, port = grpc_server.health_server(servicer, "127.0.0.1:0")
    assert port
    probes.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            check = health_pb2_grpc.HealthStub(channel).Check
            servicer.set("", health_pb2.HealthCheckResponse.SERVING)
            assert check(health_pb2.HealthCheckRequest(), timeout=5).status == (
                health_pb2.HealthCheckResponse.SERVING
            )
            servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
            assert check(health_pb2.HealthCheckRequest(), timeout=5).status == (
                health_pb2.HealthCheckResponse.NOT_SERVING
            )
            # Nothing but Health is reachable without a certificate.
            with pytest.raises(grpc.RpcError) as caught:
                _call(channel)
            assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        probes.stop(grace=None)


# The identity inside a certificate.


def test_the_uri_san_names_role_and_subject(pki: Pki) -> None:
    cert = x509.load_pem_x509_certificate(pki.read("icbc-tj.pem"))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        "xiaobao://institution/icbc-tj"
    ]
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == (
        "institution"
    )


def test_the_server_certificate_names_localhost_and_its_address(pki: Pki) -> None:
    cert = x509.load_pem_x509_certificate(pki.read("server.pem"))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def _hand_made(subject: list[tuple[x509.ObjectIdentifier, str]], uris: list[str]) -> bytes:
    """A certificate as another tool might have made it: any subject, any URI SANs."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid, value) for oid, value in subject])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if uris:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(u) for u in uris]),
            critical=False,
        )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def test_the_uri_san_wins_over_the_subject_name() -> None:
    pem = _hand_made(
        [(NameOID.COMMON_NAME, "icbc-tj"), (NameOID.ORGANIZATIONAL_UNIT_NAME, "supervisor")],
        ["https://example.invalid/", "xiaobao://institution/icbc-tj"],
    )
    assert certs.principal_from_pem(pem) == auth.Principal("icbc-tj", "institution", "icbc-tj")


def test_without_a_uri_san_the_subject_name_says_who_calls() -> None:
    pem = _hand_made(
        [(NameOID.COMMON_NAME, "med-li"), (NameOID.ORGANIZATIONAL_UNIT_NAME, "mediator")], []
    )
    assert certs.principal_from_pem(pem) == auth.Principal("med-li", "mediator", "")


def test_a_certificate_without_a_known_role_is_refused() -> None:
    pem = _hand_made(
        [(NameOID.COMMON_NAME, "boss"), (NameOID.ORGANIZATIONAL_UNIT_NAME, "director")], []
    )
    with pytest.raises(Unauthenticated, match="no known role"):
        certs.principal_from_pem(pem)
    with pytest.raises(Unauthenticated, match="no known role"):
        certs.principal_from_pem(_hand_made([(NameOID.COMMON_NAME, "icbc-tj")], []))


def test_a_certificate_is_parsed_once(pki: Pki) -> None:
    pem = pki.read("pingan-sz.pem")
    assert certs.principal_from_pem(pem) is certs.principal_from_pem(pem)


def test_no_certificate_is_issued_for_an_unknown_role(pki: Pki) -> None:
    with pytest.raises(ValueError, match="director"):
        certs.issue(pki.read("ca.pem"), pki.read("ca-key.pem"), "boss", "director")


def test_key_files_are_readable_by_their_owner_only(pki: Pki) -> None:
    keys = sorted(pki.directory.glob("*-key.pem"))
    written = {"ca-key.pem", "server-key.pem", "icbc-tj-key.pem", "pingan-sz-key.pem"}
    assert written <= {key.name for key in keys}
    for name in [*written, "op-wang-key.pem"]:
        assert stat.S_IMODE(os.stat(pki.directory / name).st_mode) == 0o600, name
    assert stat.S_IMODE(os.stat(pki.directory / "ca.pem").st_mode) == 0o644


# Settings.


def test_token_mode_is_the_default_and_probes_sit_100_above_the_grpc_port() -> None:
    cfg = settings.load({})
    assert cfg.auth_mode == "token"
    assert cfg.service("routing").health_port == cfg.service("routing").grpc_port + 100
    assert settings.load({"XIAOBAO_ROUTING_HEALTH_PORT": "8086"}).service(
        "routing"
    ).health_port == (8086)


def test_an_unknown_auth_mode_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="XIAOBAO_AUTH_MODE"):
        settings.load({"XIAOBAO_AUTH_MODE": "tls"})


@pytest.mark.parametrize(
    "missing", ["XIAOBAO_TLS_CERT", "XIAOBAO_TLS_KEY", "XIAOBAO_TLS_CLIENT_CA"]
)
def test_mtls_without_a_server_file_is_refused_naming_it(missing: str) -> None:
    env = {
        "XIAOBAO_AUTH_MODE": "mtls",
        "XIAOBAO_TLS_CERT": "server.pem",
        "XIAOBAO_TLS_KEY": "server-key.pem",
        "XIAOBAO_TLS_CLIENT_CA": "ca.pem",
    }
    del env[missing]
    with pytest.raises(ValueError, match=missing):
        settings.load(env)


def test_a_client_certificate_without_its_key_is_refused() -> None:
    with pytest.raises(ValueError, match="XIAOBAO_TLS_CLIENT_KEY"):
        settings.load({"XIAOBAO_TLS_CA": "ca.pem", "XIAOBAO_TLS_CLIENT_CERT": "icbc-tj.pem"})


def test_an_unreadable_server_file_is_named(tmp_path: Path) -> None:
    cfg = settings.load(
        {
            "XIAOBAO_AUTH_MODE": "mtls",
            "XIAOBAO_TLS_CERT": str(tmp_path / "server.pem"),
            "XIAOBAO_TLS_KEY": str(tmp_path / "server-key.pem"),
            "XIAOBAO_TLS_CLIENT_CA": str(tmp_path / "ca.pem"),
        }
    )
    with pytest.raises(ValueError, match="XIAOBAO_TLS_KEY"):
        grpc_server.server_credentials(cfg)


def test_stub_opens_a_tls_channel_with_the_client_settings(
    pki: Pki, address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = settings.load(
        {
            "XIAOBAO_TLS_CA": pki.path("ca.pem"),
            "XIAOBAO_TLS_CLIENT_CERT": pki.path("pingan-sz.pem"),
            "XIAOBAO_TLS_CLIENT_KEY": pki.path("pingan-sz-key.pem"),
        }
    )
    seen = []
    real_channel = clients.channel
    with monkeypatch.context() as client_side:
        client_side.setattr(settings, "get", lambda: cfg)
        client_side.setattr(
            clients, "channel", lambda *args: seen.append(args) or real_channel(*args)
        )
        clients.stub("portal", address)
    assert seen == [
        (address, pki.path("ca.pem"), pki.path("pingan-sz.pem"), pki.path("pingan-sz-key.pem"))
    ]
    # That channel is the one an institution's certificate gets through with.
    assert _call(real_channel(*seen[0])) == "pingan-sz|institution|pingan-sz"
