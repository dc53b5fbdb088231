"""A development PKI for mutual TLS, and the caller's identity read back from its certificate.

A client certificate says who calls: Subject CN is the subject id (an institution's directory node
id such as ``icbc-tj``), Subject OU its role, and a URI SAN ``xiaobao://<role>/<cn>`` says both
again in the place modern verifiers look first.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.common.auth import ROLES, Principal
from services.common.errors import Unauthenticated

URI_SCHEME = "xiaobao"
SERVER = "server"  # the role given to issue() for an api's own certificate
DEFAULT_SERVER_NAMES = ("localhost", "127.0.0.1")
# Backdating covers clocks a little behind the CA's.
_BACKDATE = dt.timedelta(minutes=5)
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _validity(days: int, not_before: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    start = not_before or dt.datetime.now(dt.UTC) - _BACKDATE
    return start, start + dt.timedelta(days=days)


def make_ca(common_name: str, days: int = 3650) -> tuple[bytes, bytes]:
    """A self-signed CA: (certificate PEM, key PEM)."""
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start, end = _validity(days, None)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _cert_pem(cert), _key_pem(key)


def _server_san(names: Iterable[str]) -> list[x509.GeneralName]:
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    return sans


def issue(
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    common_name: str,
    role: str,
    *,
    server_names: Sequence[str] = (),
    days: int = 825,
    not_before: dt.datetime | None = None,
) -> tuple[bytes, bytes]:
    """A certificate signed by the CA: (certificate PEM, key PEM).

    `role` is one of auth.ROLES for a client, or SERVER for an api; a server certificate carries
    `server_names` (DNS names or IP addresses; localhost and 127.0.0.1 when empty) as SANs.
    """
    if role != SERVER and role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected {SERVER} or one of {', '.join(ROLES)}")
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    key = _new_key()
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if role == SERVER:
        usage = ExtendedKeyUsageOID.SERVER_AUTH
        sans = _server_san(server_names or DEFAULT_SERVER_NAMES)
    else:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role))
        usage = ExtendedKeyUsageOID.CLIENT_AUTH
        sans = [x509.UniformResourceIdentifier(f"{URI_SCHEME}://{role}/{common_name}")]
    start, end = _validity(days, not_before)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return _cert_pem(cert), _key_pem(key)


def _write(path: Path, data: bytes, mode: int) -> None:
    # Created with its final mode so a key is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, mode)  # O_CREAT's mode does not apply to a file that already existed


def write_dev_pki(
    directory: str | os.PathLike[str],
    institutions: Iterable[str],
    staff: Iterable[tuple[str, str]],
    *,
    server_names: Sequence[str] = DEFAULT_SERVER_NAMES,
) -> Path:
    """Writes ca.pem (+ ca-key.pem), server.pem/server-key.pem and <name>.pem/<name>-key.pem for
    every institution (role institution, named by its node id) and every (name, role) of staff.

    Key files are mode 0600. Returns the directory.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = make_ca("Xiaobao development CA")
    _write(out / "ca.pem", ca_cert, 0o644)
    _write(out / "ca-key.pem", ca_key, 0o600)
    pairs = {"server": issue(ca_cert, ca_key, "xiaobao-api", SERVER, server_names=server_names)}
    clients = [(node_id, "institution") for node_id in institutions] + list(staff)
    for name, role in clients:
        if name in pairs or name in ("ca", "server") or not _FILE_NAME.fullmatch(name):
            raise ValueError(f"cannot name a certificate file after {name!r}")
        pairs[name] = issue(ca_cert, ca_key, name, role)
    for name, (cert, key) in pairs.items():
        _write(out / f"{name}.pem", cert, 0o644)
        _write(out / f"{name}-key.pem", key, 0o600)
    return out


def _identity_from_uri(cert: x509.Certificate) -> tuple[str, str] | None:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    prefix = f"{URI_SCHEME}://"
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(prefix):
            role, _, subject = uri[len(prefix) :].partition("/")
            if subject:
                return subject, role
    return None


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


@lru_cache(maxsize=1024)
def principal_from_pem(cert_pem: bytes) -> Principal:
    """The caller a (verified) client certificate names; cached, as every call presents one."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise Unauthenticated("client certificate unreadable") from None
    identity = _identity_from_uri(cert)
    if identity is None:
        identity = (
            _first(cert.subject, NameOID.COMMON_NAME),
            _first(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME),
        )
    subject, role = identity
    if role not in ROLES:
        raise Unauthenticated("client certificate carries no known role")
    if not subject:
        raise Unauthenticated("client certificate names no subject")
    return Principal(subject=subject, role=role, node_id=subject if role == "institution" else "")
