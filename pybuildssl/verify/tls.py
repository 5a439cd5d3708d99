"""Private test CAs and loopback HTTPS servers (on ``cryptography``).

A tiny API in the spirit of trustme, but our own code::

    ca = CA()
    leaf = ca.issue("localhost", "127.0.0.1")
    with HTTPSServer(leaf) as srv:
        ...  # a client that trusts ca.cert_pem can GET srv.url() -> b"pybuildssl-ok\\n"

Also OpenSSL's subject-name hash (:func:`subject_hash`, the ``<hash>.<n>``
names of ``openssl rehash``), computed in pure Python, and
:func:`write_hashed_dir` to make a CApath.

No pytest here: the library is used by tests, ``verify`` and ``doctor``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import ipaddress
import os
import shutil
import ssl
import tempfile
import threading
from dataclasses import dataclass
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CA", "Leaf", "HTTPSServer", "OK_BODY",
    "subject_hash", "name_hash", "hashed_names", "write_hashed_dir", "split_pem",
]

#: What :class:`HTTPSServer` answers to any GET (without ``directory``).
OK_BODY = b"pybuildssl-ok\n"

_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
_PEM_END = b"-----END CERTIFICATE-----"


# --------------------------------------------------------------- CAs ------

@dataclass(frozen=True)
class Leaf:
    """A server certificate issued by a :class:`CA`."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    ca_cert_pem: bytes

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def chain_pem(self) -> bytes:
        """Leaf then issuing CA (what a server sends)."""
        return self.cert_pem + self.ca_cert_pem


class CA:
    """A private root CA (EC P-256, valid from now-1 day to now+10 years)."""

    def __init__(self, common_name: str = "pybuildssl test CA", *,
                 subject: x509.Name | None = None) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.subject = subject or x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = _now()
        ski = x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.subject)
            .issuer_name(self.subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False, content_commitment=False,
                    key_encipherment=False, data_encipherment=False,
                    key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False),
                critical=True)
            .add_extension(ski, critical=False)
            .sign(self.key, hashes.SHA256())
        )

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def subject_hash(self) -> str:
        """OpenSSL's ``X509_NAME_hash`` of the subject (``openssl x509 -subject_hash``)."""
        return subject_hash(self.cert)

    def issue(self, *hostnames: str) -> Leaf:
        """A serverAuth leaf for DNS names and IP addresses (``"127.0.0.1"``, ``"::1"``)."""
        if not hostnames:
            raise ValueError("issue() needs at least one hostname or IP address")
        sans: list[x509.GeneralName] = []
        for name in hostnames:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        ca_ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
            .issuer_name(self.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False,
                    key_encipherment=False, data_encipherment=False,
                    key_agreement=False, key_cert_sign=False, crl_sign=False,
                    encipher_only=False, decipher_only=False),
                critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return Leaf(cert=cert, key=key, ca_cert_pem=self.cert_pem)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


# ------------------------------------------------- OpenSSL's name hash ------
# X509_NAME_hash_ex (crypto/x509/x509_cmp.c) hashes the name's *canonical*
# encoding (x509_name_canon in crypto/x509/x_name.c): every RDN as a DER
# SET OF its AVAs (no outer SEQUENCE); string values of the "canon" types
# converted to UTF8String, ASCII-lowercased, leading/trailing whitespace
# dropped and inner runs of whitespace collapsed to one space.  The hash is
# the first four bytes of SHA-1 read as a little-endian number.

_UTF8, _PRINTABLE, _T61, _IA5, _VISIBLE, _UNIVERSAL, _BMP = 12, 19, 20, 22, 26, 28, 30
_CANON_TAGS = {_UTF8, _PRINTABLE, _T61, _IA5, _VISIBLE, _UNIVERSAL, _BMP}
_SPACE = b" \t\n\v\f\r"


def _der_read(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(tag byte, start of content, end of element) of the DER element at pos."""
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("high-tag-number form not supported")
    n = buf[pos + 1]
    pos += 2
    if n & 0x80:
        count = n & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("bad DER length")
        n = int.from_bytes(buf[pos:pos + count], "big")
        pos += count
    if pos + n > len(buf):
        raise ValueError("truncated DER")
    return tag, pos, pos + n


def _der_children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, content start, end) for each element in buf[start:end]."""
    out = []
    while start < end:
        tag, cstart, stop = _der_read(buf, start)
        out.append((tag, start, cstart, stop))
        start = stop
    return out


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def _canon_value(tag: int, content: bytes) -> bytes:
    """The canonical TLV of one attribute value."""
    if tag not in _CANON_TAGS:
        return _der(tag, content)
    if tag == _UTF8:
        text = content.decode("utf-8")
    elif tag == _BMP:
        text = content.decode("utf-16-be")
    elif tag == _UNIVERSAL:
        text = content.decode("utf-32-be")
    else:  # Printable, T61 (OpenSSL reads it as Latin-1), IA5, Visible
        text = content.decode("latin-1")
    data = text.encode("utf-8").strip(_SPACE)
    out = bytearray()
    i = 0
    while i < len(data):
        c = data[i]
        if c >= 0x80:
            out.append(c)
            i += 1
        elif c in _SPACE:
            out.append(0x20)
            while i < len(data) and data[i] in _SPACE:
                i += 1
        else:
            out.append(c + 32 if 0x41 <= c <= 0x5A else c)
            i += 1
    return _der(_UTF8, bytes(out))


def name_hash(name_der: bytes) -> str:
    """OpenSSL's X509_NAME_hash of a DER-encoded Name, as 8 lower-case hex digits."""
    tag, start, end = _der_read(name_der, 0)
    if tag != 0x30:
        raise ValueError("a Name is a SEQUENCE")
    canon = bytearray()
    for set_tag, _, s_start, s_end in _der_children(name_der, start, end):
        if set_tag != 0x31:
            raise ValueError("an RDN is a SET")
        avas = []
        for _, _, a_start, a_end in _der_children(name_der, s_start, s_end):
            (oid_tag, oid_pos, _, oid_end), (v_tag, _, v_start, v_end) = \
                _der_children(name_der, a_start, a_end)
            avas.append(_der(0x30, name_der[oid_pos:oid_end]
                             + _canon_value(v_tag, name_der[v_start:v_end])))
        canon += _der(0x31, b"".join(sorted(avas)))  # DER SET OF: sorted encodings
    md = hashlib.sha1(bytes(canon)).digest()
    return "%08x" % int.from_bytes(md[:4], "little")


def _cert_der(cert: x509.Certificate | bytes) -> bytes:
    """DER of a certificate given as an object, PEM or DER.

    PEM is decoded here, not by ``cryptography``: some roots that OpenSSL
    accepts (a negative serial number, say) make ``cryptography`` warn or fail.
    """
    if isinstance(cert, x509.Certificate):
        return cert.public_bytes(serialization.Encoding.DER)
    if _PEM_BEGIN in cert:
        blocks = split_pem(cert)
        if len(blocks) != 1:
            raise ValueError(f"expected one PEM certificate, found {len(blocks)}")
        body = blocks[0][len(_PEM_BEGIN):blocks[0].index(_PEM_END)]
        return base64.b64decode(b"".join(body.split()), validate=True)
    return bytes(cert)


def _pem(der: bytes) -> bytes:
    b64 = base64.b64encode(der)
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return _PEM_BEGIN + b"\n" + b"\n".join(lines) + b"\n" + _PEM_END + b"\n"


def _subject_der(cert_der: bytes) -> bytes:
    """The subject Name exactly as encoded in the certificate (no re-encoding)."""
    _, start, end = _der_read(cert_der, 0)           # Certificate
    _, start, end = _der_read(cert_der, start)       # TBSCertificate
    fields = _der_children(cert_der, start, end)
    if fields and fields[0][0] == 0xA0:  # [0] version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject
    _, pos, _, stop = fields[4]
    return cert_der[pos:stop]


def subject_hash(cert: x509.Certificate | bytes) -> str:
    """``openssl x509 -noout -subject_hash`` of a certificate (PEM, DER or object)."""
    return name_hash(_subject_der(_cert_der(cert)))


def split_pem(data: bytes) -> list[bytes]:
    """Every ``CERTIFICATE`` block of a PEM bundle, each ending with a newline."""
    out = []
    pos = 0
    while True:
        begin = data.find(_PEM_BEGIN, pos)
        if begin < 0:
            return out
        end = data.find(_PEM_END, begin)
        if end < 0:
            return out
        pos = end + len(_PEM_END)
        out.append(data[begin:pos] + b"\n")


def hashed_names(pem_certs: Iterable[bytes]) -> list[tuple[str, bytes]]:
    """(``<hash>.<n>``, PEM) as ``openssl rehash`` would name them.

    ``n`` counts up on hash collisions; a certificate identical to one
    already listed is skipped (rehash does the same).
    """
    seen: set[bytes] = set()
    counts: dict[str, int] = {}
    out = []
    for pem in pem_certs:
        der = _cert_der(pem)
        if der in seen:
            continue
        seen.add(der)
        h = name_hash(_subject_der(der))
        n = counts.get(h, 0)
        counts[h] = n + 1
        out.append((f"{h}.{n}", _pem(der)))
    return out


def write_hashed_dir(directory: str | os.PathLike, pem_certs: Iterable[bytes]) -> list[str]:
    """Write a CApath: each certificate as ``<hash>.<n>``; returns the paths written."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    for name, pem in hashed_names(pem_certs):
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.write(pem)
        paths.append(path)
    return paths


# ------------------------------------------------------ loopback server ------

class _OKHandler(http.server.BaseHTTPRequestHandler):
    timeout = 10
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(OK_BODY)))
        self.end_headers()
        self.wfile.write(OK_BODY)

    def do_HEAD(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", str(len(OK_BODY)))
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        self.server.requests.append(self.requestline)  # type: ignore[attr-defined]


class _FileHandler(http.server.SimpleHTTPRequestHandler):
    timeout = 10

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        self.server.requests.append(self.requestline)  # type: ignore[attr-defined]


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, addr, handler, context: ssl.SSLContext) -> None:
        self.context = context
        self.errors: list[str] = []
        self.requests: list[str] = []
        super().__init__(addr, handler)

    def finish_request(self, request, client_address) -> None:
        # The handshake runs in the per-connection thread, so a silent or
        # failing client never blocks the accept loop.
        request.settimeout(10)
        tls = self.context.wrap_socket(request, server_side=True)
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()

    def handle_error(self, request, client_address) -> None:
        # Failed handshakes are the point of many tests: record, never print.
        import sys

        exc = sys.exc_info()[1]
        self.errors.append(f"{type(exc).__name__}: {exc}")


class HTTPSServer:
    """HTTPS on 127.0.0.1 (ephemeral port) in a daemon thread.

    ``with HTTPSServer(leaf) as srv: srv.url()``.  Without ``directory`` every
    GET answers 200 :data:`OK_BODY`; with it, files (and directory listings,
    which pip reads as a simple index) are served from there.  Handshake and
    connection errors are recorded in ``srv.errors``, never printed.
    """

    def __init__(self, leaf: Leaf, *, directory: str | os.PathLike | None = None,
                 host: str = "127.0.0.1") -> None:
        self.leaf = leaf
        self.directory = os.fspath(directory) if directory is not None else None
        self.host = host
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tmp: str | None = None
        self._port = 0

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the server has not been started")
        return self._port

    @property
    def errors(self) -> list[str]:
        return self._server.errors if self._server else []

    @property
    def requests(self) -> list[str]:
        return self._server.requests if self._server else []

    def url(self, host: str = "localhost", path: str = "/") -> str:
        return f"https://{host}:{self.port}/{path.lstrip('/')}"

    def __enter__(self) -> "HTTPSServer":
        self._tmp = tempfile.mkdtemp(prefix="pybuildssl-srv-")
        cert = os.path.join(self._tmp, "chain.pem")
        key = os.path.join(self._tmp, "key.pem")
        with open(cert, "wb") as f:
            f.write(self.leaf.chain_pem)
        with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(self.leaf.key_pem)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if self.directory is None:
            handler = _OKHandler
        else:
            directory = self.directory

            class handler(_FileHandler):  # type: ignore[no-redef]
                def __init__(self, *args, **kwargs):
                    super().__init__(*args, directory=directory, **kwargs)

        self._server = _Server((self.host, 0), handler, ctx)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="pybuildssl-https", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and close the socket (idempotent; errors stay readable)."""
        if self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._thread = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

