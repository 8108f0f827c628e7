"""DICOM over TLS: C-ECHO and C-GET with a CA-verified Orthanc and a client certificate; a wrong CA is refused."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import pytest
from orthanc_server import (
    Orthanc,
    dicomweb_plugin,
    dimse_node,
    orthanc_binary,
    write_series,
)

from textdifuse_desktop.errors import NetworkError
from textdifuse_desktop.net import service


def _pair(name: str, issuer=None, ca: bool = False):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
               .not_valid_after(now + dt.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                        critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def _write(folder: Path, name: str, cert, key) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization

    crt, pem = folder / f"{name}.crt", folder / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption()))
    return crt, pem


@pytest.fixture(scope="module")
def tls_orthanc(tmp_path_factory):
    pytest.importorskip("cryptography")
    if orthanc_binary() is None or dicomweb_plugin() is None:
        pytest.skip("Orthanc with its DICOMweb plugin is not installed (apt-get install orthanc orthanc-dicomweb)")
    work = tmp_path_factory.mktemp("orthanc-tls")
    ca = _pair("test CA", ca=True)
    ca_crt, _ = _write(work, "ca", *ca)
    server_crt, server_key = _write(work, "server", *_pair("orthanc", issuer=ca))
    client_crt, client_key = _write(work, "client", *_pair("textdifuse", issuer=ca))
    other_crt, _ = _write(work, "other-ca", *_pair("another CA", ca=True))
    server = Orthanc(work, extra_config={
        "DicomTlsEnabled": True, "DicomTlsCertificate": str(server_crt), "DicomTlsPrivateKey": str(server_key),
        "DicomTlsTrustedCertificates": str(ca_crt), "DicomTlsRemoteCertificateRequired": True}).start()
    series = write_series(work / "ct", count=3, seed=5)
    server.upload(series["paths"])
    yield {"server": server, "ct": series, "ca": ca_crt, "cert": client_crt, "key": client_key, "other": other_crt}
    server.stop()


def test_tls_echo_and_retrieve(tls_orthanc) -> None:
    node = dimse_node(tls_orthanc, tls=True, ca_file=str(tls_orthanc["ca"]), cert_file=str(tls_orthanc["cert"]),
                      key_file=str(tls_orthanc["key"]))
    assert service.echo(node).startswith("C-ECHO")
    ct = tls_orthanc["ct"]
    gen = service.retrieve_series(node, ct["study"], ct["series"])
    result = None
    while result is None:
        try:
            next(gen)
        except StopIteration as stop:
            result = stop.value
    assert result.count == 3


def test_tls_with_an_untrusted_server_certificate_fails_clearly(tls_orthanc) -> None:
    node = dimse_node(tls_orthanc, tls=True, ca_file=str(tls_orthanc["other"]), cert_file=str(tls_orthanc["cert"]),
                      key_file=str(tls_orthanc["key"]), timeout_s=5)
    with pytest.raises(NetworkError, match="TLS handshake .* failed: CERTIFICATE_VERIFY_FAILED"):
        service.echo(node)
