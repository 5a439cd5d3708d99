"""Private test CAs and loopback HTTPS servers (on ``cryptography``).

A tiny API in the spirit of trustme, but our own code::

    ca = CA()
    leaf = ca.issue("localhost", "127.0.0.1")
    with HTTPSServer(leaf) as srv:
        ...  # a client that trusts ca.cert_pem can GET srv.url() -> b"pybuildssl-ok\\n"

Also, from :mod:`.namehash`, OpenSSL's subject-name hash (:func:`subject_hash`,
the ``<hash>.<n>`` names of ``openssl rehash``), computed in pure Python, and
:func:`write_hashed_dir` to make a CApath.

No pytest here: the library is used by tests, ``verify`` and ``doctor``.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import os
import shutil
import ssl
import tempfile
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .namehash import hashed_names, name_hash, split_pem, subject_hash, write_hashed_dir

__all__ = [
    "CA", "Leaf", "HTTPSServer", "OK_BODY",
    "subject_hash", "name_hash", "hashed_names", "write_hashed_dir", "split_pem",
]

#: What :class:`HTTPSServer` answers to any GET (without ``directory``).
OK_BODY = b"pybuildssl-ok\n"



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

