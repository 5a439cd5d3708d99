"""The TLS harness: test CAs, OpenSSL's subject hash, CApaths and the loopback server."""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import urllib.request

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pybuildssl.verify import tls
from pybuildssl.verify.sandbox import clean_env

pytestmark = pytest.mark.integration

OPENSSL = "/usr/bin/openssl" if os.path.exists("/usr/bin/openssl") else shutil.which("openssl")
#: ci/setup.sh installs the openssl command: its absence is a missing install step, not a skip
needs_openssl = pytest.mark.usefixtures("_openssl_command")


@pytest.fixture
def _openssl_command():
    assert OPENSSL, "no openssl command on this host (ci/setup.sh installs Debian's openssl package)"

try:
    from cryptography.x509.name import _ASN1Type  # private: only to build odd encodings
except ImportError:  # pragma: no cover
    _ASN1Type = None


def _attr(oid, value, kind=None):
    if kind is None:
        return x509.NameAttribute(oid, value)
    assert _ASN1Type is not None, "cryptography no longer exposes _ASN1Type: build the odd encodings another way"
    return x509.NameAttribute(oid, value, _type=getattr(_ASN1Type, kind))


NAMES = {
    "default": lambda: x509.Name([_attr(NameOID.COMMON_NAME, "pybuildssl test CA")]),
    "upper-case-and-spaces": lambda: x509.Name(
        [_attr(NameOID.COMMON_NAME, "  PyBuildSSL   Test\t\tCA  ")]),
    "full-dn": lambda: x509.Name([
        _attr(NameOID.COUNTRY_NAME, "DE"),                       # PrintableString
        _attr(NameOID.ORGANIZATION_NAME, "Example  GmbH"),
        _attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "IT  Security"),
        _attr(NameOID.COMMON_NAME, "Example Root CA 2026"),
    ]),
    "non-ascii": lambda: x509.Name([_attr(NameOID.COMMON_NAME, "Größe  ÉCOLE Ünïcode CA")]),
    "multi-valued-rdn": lambda: x509.Name([
        x509.RelativeDistinguishedName([
            _attr(NameOID.ORGANIZATION_NAME, "Zeta Org"),
            _attr(NameOID.COMMON_NAME, "Alpha CN"),
        ]),
        x509.RelativeDistinguishedName([_attr(NameOID.COUNTRY_NAME, "US")]),
    ]),
    "bmp-and-t61-and-ia5": lambda: x509.Name([
        _attr(NameOID.ORGANIZATION_NAME, "  BMP  Org ", "BMPString"),
        _attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "T61 UNIT", "T61String"),
        _attr(NameOID.EMAIL_ADDRESS, "Root@Example.COM"),        # IA5String
        _attr(NameOID.COMMON_NAME, "Mixed CA"),
    ]),
}


def openssl(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([OPENSSL, *args], input=input, capture_output=True,
                          env=clean_env(), timeout=30)


@needs_openssl
@pytest.mark.parametrize("name", sorted(NAMES))
def test_subject_hash_equals_openssl_x509_subject_hash(name):
    ca = tls.CA(subject=NAMES[name]())
    r = openssl("x509", "-noout", "-subject_hash", input=ca.cert_pem)
    assert r.returncode == 0, r.stderr
    assert ca.subject_hash() == r.stdout.decode().strip()
    assert re.fullmatch(r"[0-9a-f]{8}", ca.subject_hash())


def test_subject_hash_matches_the_hosts_rehash_links():
    """Real roots (BMPString names, odd spacing, ...) hash as `openssl rehash` named them."""
    certs_dir = "/etc/ssl/certs"
    links = [n for n in (os.listdir(certs_dir) if os.path.isdir(certs_dir) else [])
             if re.fullmatch(r"[0-9a-f]{8}\.\d+", n)]
    assert len(links) >= 10, (f"{certs_dir} holds no rehashed store on this host "
                              "(ci/setup.sh installs ca-certificates, whose update-ca-certificates makes it)")
    wrong = []
    for n in links:
        with open(os.path.join(certs_dir, n), "rb") as f:
            if tls.subject_hash(f.read()) != n[:8]:
                wrong.append(n)
    assert wrong == []


def test_leaf_and_ca_carry_what_verifiers_check():
    ca = tls.CA()
    leaf = ca.issue("localhost", "127.0.0.1", "::1")
    bc = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    assert ca.cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value

    san = leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    eku = leaf.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    aki = leaf.cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert leaf.cert.issuer == ca.cert.subject
    assert leaf.chain_pem.startswith(leaf.cert_pem) and leaf.chain_pem.endswith(ca.cert_pem)
    assert b"PRIVATE KEY" in leaf.key_pem


@needs_openssl
def test_hashed_dir_is_a_capath_openssl_uses_even_on_hash_collisions(tmp_path):
    first, second = tls.CA("Same Name CA"), tls.CA("  same   NAME ca ")  # same canonical name
    assert first.subject_hash() == second.subject_hash()
    capath = tmp_path / "capath"
    paths = tls.write_hashed_dir(capath, [first.cert_pem, second.cert_pem, first.cert_pem])
    h = first.subject_hash()
    assert [os.path.basename(p) for p in paths] == [f"{h}.0", f"{h}.1"]  # duplicate skipped
    for ca in (first, second):
        leaf_file = tmp_path / "leaf.pem"
        leaf_file.write_bytes(ca.issue("localhost").cert_pem)
        r = openssl("verify", "-no-CAfile", "-no-CAstore", "-CApath", str(capath), str(leaf_file))
        assert r.returncode == 0, r.stdout + r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = openssl("verify", "-no-CAfile", "-no-CAstore", "-CApath", str(empty), str(leaf_file))
    assert r.returncode != 0


def _client_context(ca: tls.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=ca.cert_pem.decode())
    return ctx


def test_https_server_answers_ok_over_loopback_and_stops_on_exit():
    ca = tls.CA()
    with tls.HTTPSServer(ca.issue("localhost", "127.0.0.1")) as srv:
        port = srv.port
        assert srv.url() == f"https://localhost:{port}/"
        for host in ("localhost", "127.0.0.1"):
            with urllib.request.urlopen(srv.url(host), context=_client_context(ca),
                                        timeout=10) as resp:
                assert resp.status == 200
                assert resp.read() == tls.OK_BODY
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_https_server_serves_a_directory_as_a_simple_index(tmp_path):
    pkg = tmp_path / "simple" / "demo"
    pkg.mkdir(parents=True)
    (pkg / "demo-1.0.tar.gz").write_bytes(b"not really a tarball")
    ca = tls.CA()
    with tls.HTTPSServer(ca.issue("localhost"), directory=tmp_path) as srv:
        ctx = _client_context(ca)
        listing = urllib.request.urlopen(srv.url(path="/simple/demo/"), context=ctx,
                                         timeout=10).read().decode()
        assert 'href="demo-1.0.tar.gz"' in listing
        data = urllib.request.urlopen(srv.url(path="/simple/demo/demo-1.0.tar.gz"),
                                      context=ctx, timeout=10).read()
        assert data == b"not really a tarball"


def test_failed_handshakes_are_recorded_not_printed(capfd):
    trusted, other = tls.CA(), tls.CA("someone else")
    with tls.HTTPSServer(other.issue("localhost")) as srv:
        with pytest.raises(urllib.error.URLError) as info:
            urllib.request.urlopen(srv.url(), context=_client_context(trusted), timeout=10)
        assert isinstance(info.value.reason, ssl.SSLCertVerificationError)
        # a client that connects and says nothing must not block other clients
        with socket.create_connection(("127.0.0.1", srv.port)):
            with urllib.request.urlopen(srv.url(), context=_client_context(other),
                                        timeout=10) as resp:
                assert resp.read() == tls.OK_BODY
    assert any("UNKNOWN_CA" in e.upper() or "unknown ca" in e for e in srv.errors), srv.errors
    out, err = capfd.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
