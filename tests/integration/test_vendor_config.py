"""A vendor's openssl.cnf comes with its OPENSSLDIR.

RHEL and Fedora's openssl.cnf pulls in crypto-policies and carries keys only
Red Hat's OpenSSL knows (python-build-standalone issues 999, 1013, 1028:
create_default_context() failed on RHEL).  The built Python must read it,
honour the system policy where upstream OpenSSL can (the policy here caps
TLS at 1.2, which the handshake must show), and never fail on a vendor-only
key, whether ``ssl`` or ``hashlib`` is OpenSSL's first user in the process.

The generic artifact's OPENSSLDIR is /etc/ssl, so OPENSSL_CONF points it at
the RHEL file: the parser and the init path are the same ones a
linux-x86_64-rhel build (OPENSSLDIR /etc/pki/tls) uses without the variable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pybuildssl.verify import sandbox, tls
from pybuildssl.verify.sandbox import FileSpec, clean_env

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vendor-cnf"

CLIENT = r"""
import sys
first = sys.argv[2]
if first == "hashlib":
    import hashlib  # OpenSSL reads its configuration now, before ssl
import ssl, json, socket, urllib.parse
ctx = ssl.create_default_context()
u = urllib.parse.urlsplit(sys.argv[1])
with socket.create_connection((u.hostname, u.port), timeout=10) as s:
    with ctx.wrap_socket(s, server_hostname=u.hostname) as t:
        print(json.dumps({"version": t.version(), "max": int(ctx.maximum_version)}))
"""


@pytest.fixture(scope="module")
def rhel_layout_with_policy():
    ca = tls.CA("rhel policy CA")
    layout = sandbox.layout_for("rhel", [ca.cert_pem]).add(
        FileSpec("/etc/pki/tls/openssl.cnf", (FIXTURES / "rhel-openssl.cnf").read_bytes()))
    # crypto-policies lives in /etc/crypto-policies: a root of its own
    layout = sandbox.Layout(hide=layout.hide + ("/etc/crypto-policies",), files=layout.files + (
        FileSpec("/etc/crypto-policies/back-ends/opensslcnf.config",
                 (FIXTURES / "rhel-opensslcnf.config").read_bytes()),), dirs=layout.dirs, links=layout.links,
        name="rhel+policy")
    return ca, layout


@pytest.mark.parametrize("first", ["ssl", "hashlib"])
def test_rhel_openssl_cnf_is_honoured_and_never_fatal(built_python, rhel_layout_with_policy, first):
    ca, layout = rhel_layout_with_policy
    with tls.HTTPSServer(ca.issue("localhost", "127.0.0.1")) as srv:
        r = sandbox.run_in_layout(layout, [str(built_python), "-I", "-c", CLIENT, srv.url(), first],
                                  env=clean_env({"OPENSSL_CONF": "/etc/pki/tls/openssl.cnf"}), timeout=60)
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)
        # the policy's TLS.MaxProtocol = TLSv1.2 reached the default context and the wire
        assert got == {"version": "TLSv1.2", "max": 771}
        # without the vendor file the same handshake is TLS 1.3: the file made the difference
        r = sandbox.run_in_layout(layout, [str(built_python), "-I", "-c", CLIENT, srv.url(), first],
                                  env=clean_env(), timeout=60)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["version"] == "TLSv1.3"
