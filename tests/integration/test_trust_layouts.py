"""The built Python trusts each vendor's system store, and only what it should.

Every case runs the relocated artifact's interpreter inside a private mount
namespace laid out like a vendor's trust store (host roots plus a test CA made
with `cryptography`), against loopback HTTPS servers.  ``ssl`` is the first
use of OpenSSL in each client process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pybuildssl.verify import sandbox, tls
from pybuildssl.verify.sandbox import clean_env

pytestmark = pytest.mark.integration

VENDORS = ["debian", "rhel", "fedora", "suse", "alpine", "arch"]
FEDORA_BUNDLE = "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"
FEDORA_HASHDIR = "/etc/pki/ca-trust/extracted/pem/directory-hash"

CLIENT = r"""
import sys
import ssl  # first use of OpenSSL in this process
import json, urllib.request
first_use = not any(m in sys.modules for m in ("_hashlib",)) or True
out = {"paths": list(ssl.get_default_verify_paths()), "resolve": ssl._pybuildssl_resolve()}
try:
    out["body"] = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
    out["ok"] = True
except Exception as e:
    reason = getattr(e, "reason", e)
    out["ok"] = False
    out["error"] = "%s: %s" % (type(reason).__name__, reason)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def ca():
    return tls.CA("pybuildssl layouts test CA")


@pytest.fixture(scope="module")
def servers(ca):
    other = tls.CA("someone else's CA")
    with tls.HTTPSServer(ca.issue("localhost", "127.0.0.1")) as good, \
            tls.HTTPSServer(other.issue("localhost")) as unknown, \
            tls.HTTPSServer(ca.issue("not-localhost.invalid")) as wrong:
        yield {"good": good.url(), "unknown": unknown.url(), "wrong": wrong.url()}


def fetch(python: Path, layout, url: str, env: dict | None = None) -> dict:
    r = sandbox.run_in_layout(layout, [str(python), "-I", "-c", CLIENT, url],
                              env=clean_env(env), timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_vendor_store_is_trusted_and_nothing_else(built_python, ca, servers, vendor):
    layout = sandbox.layout_for(vendor, [ca.cert_pem])
    good = fetch(built_python, layout, servers["good"])
    assert good["ok"], good
    assert good["body"] == tls.OK_BODY.decode()
    unknown = fetch(built_python, layout, servers["unknown"])
    assert not unknown["ok"] and "CERTIFICATE_VERIFY_FAILED" in unknown["error"]
    wrong = fetch(built_python, layout, servers["wrong"])
    assert not wrong["ok"] and "Hostname mismatch" in wrong["error"]


def test_on_fedora_the_fallback_is_what_is_reported(built_python, ca, servers):
    got = fetch(built_python, sandbox.layout_for("fedora", [ca.cert_pem]), servers["good"])
    assert got["ok"]
    assert got["resolve"]["source"] == "fallback"
    cafile, capath, _, openssl_cafile, _, openssl_capath = got["paths"]
    assert (cafile, capath) == (None, FEDORA_HASHDIR)  # the hashed directory before the bundle
    assert (openssl_cafile, openssl_capath) == ("/etc/ssl/cert.pem", "/etc/ssl/certs")


@pytest.mark.parametrize("vendor", ["debian", "rhel"])
def test_a_ca_added_the_administrators_way_is_trusted(built_python, servers, ca, vendor):
    layout = sandbox.layout_for(vendor, [], admin_added=[ca.cert_pem])
    got = fetch(built_python, layout, servers["good"])
    assert got["ok"], got


def test_ssl_cert_file_wins_over_everything(built_python, ca, servers, tmp_path):
    mine = tls.CA("only in SSL_CERT_FILE")
    bundle = tmp_path / "only-mine.pem"
    bundle.write_bytes(mine.cert_pem)
    layout = sandbox.layout_for("fedora", [ca.cert_pem])  # the fallback would trust `ca`
    with tls.HTTPSServer(mine.issue("localhost")) as srv:
        got = fetch(built_python, layout, srv.url(), {"SSL_CERT_FILE": str(bundle)})
    assert got["ok"] and got["resolve"]["source"] == "env"
    refused = fetch(built_python, layout, servers["good"], {"SSL_CERT_FILE": str(bundle)})
    assert not refused["ok"] and "CERTIFICATE_VERIFY_FAILED" in refused["error"]


def test_the_opt_out_variable_turns_the_fallback_off(built_python, ca, servers):
    layout = sandbox.layout_for("fedora", [ca.cert_pem])
    got = fetch(built_python, layout, servers["good"], {"PYBUILDSSL_NO_FALLBACK": "1"})
    assert not got["ok"] and "CERTIFICATE_VERIFY_FAILED" in got["error"]
    assert got["resolve"]["source"] == "disabled"


def test_a_world_writable_candidate_is_skipped(built_python, ca, servers):
    layout = sandbox.layout_for("fedora", [ca.cert_pem]).modify(FEDORA_BUNDLE, mode=0o666)
    got = fetch(built_python, layout, servers["good"])
    assert got["ok"] and got["paths"][0] is None and got["paths"][1] == FEDORA_HASHDIR
    alone = layout.remove(FEDORA_HASHDIR)
    got = fetch(built_python, alone, servers["good"])
    assert not got["ok"] and got["resolve"]["source"] == "none"


def test_no_usable_store_gives_the_stdlib_error_not_a_crash(built_python, servers):
    code = ("import ssl, socket\n"
            "ctx = ssl.create_default_context()\n"
            "s = socket.create_connection(('127.0.0.1', int(__import__('sys').argv[1])))\n"
            "try:\n    ctx.wrap_socket(s, server_hostname='localhost')\n"
            "except ssl.SSLCertVerificationError as e:\n    print('SSLCertVerificationError', e.verify_code)\n")
    port = servers["good"].rsplit(":", 1)[1].strip("/")
    r = sandbox.run_in_layout(sandbox.layout_empty(), [str(built_python), "-I", "-c", code, port],
                              env=clean_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    # 19: self-signed certificate in chain (the server sends its CA); 20: unable to get local issuer
    assert r.stdout.split() in (["SSLCertVerificationError", "19"], ["SSLCertVerificationError", "20"]), r.stdout


def test_http_client_and_set_default_verify_paths_agree(built_python, ca, servers):
    code = r"""
import ssl, sys, socket, http.client, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
c = http.client.HTTPSConnection(u.hostname, u.port, timeout=10)
c.request("GET", "/"); assert c.getresponse().status == 200
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.set_default_verify_paths()          # what truststore (and so pip) calls
with socket.create_connection((u.hostname, u.port)) as s:
    with ctx.wrap_socket(s, server_hostname=u.hostname) as t:
        print("ok", t.version())
"""
    r = sandbox.run_in_layout(sandbox.layout_for("rhel", [ca.cert_pem]),
                              [str(built_python), "-I", "-c", code, servers["good"]], env=clean_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok TLSv1.3")


# --------------------------------------------------------------- real clients ---

@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    """requests + truststore and their dependencies, fetched once by the host's pip."""
    d = tmp_path_factory.mktemp("wheels")
    r = subprocess.run([sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--dest", str(d),
                        "--python-version", "3.13", "requests", "truststore"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return d


@pytest.fixture(scope="module")
def private_index(tmp_path_factory, wheelhouse, ca) -> str:
    """A PEP 503 index over HTTPS whose CA is only in the (sandboxed) system store."""
    root = tmp_path_factory.mktemp("index")
    simple = root / "simple"
    files = root / "files"
    files.mkdir()
    projects: dict[str, list[str]] = {}
    for whl in wheelhouse.glob("*.whl"):
        (files / whl.name).write_bytes(whl.read_bytes())
        name = whl.name.split("-")[0].lower().replace("_", "-")
        projects.setdefault(name, []).append(whl.name)
    for name, wheels in projects.items():
        (simple / name).mkdir(parents=True)
        links = "".join(f'<a href="../../files/{w}">{w}</a>\n' for w in wheels)
        (simple / name / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    with tls.HTTPSServer(ca.issue("localhost", "127.0.0.1"), directory=str(root)) as srv:
        yield srv.url() + "simple/"


def test_pip_and_requests_with_truststore_trust_the_system_store(built_python, moved_prefix, ca, servers,
                                                                  private_index, tmp_path):
    # Fedora layout: only the baked fallback finds the CA.  pip verifies through
    # its vendored truststore, which reads get_default_verify_paths() and calls
    # set_default_verify_paths(): the contract's item 8.
    layout = sandbox.layout_for("fedora", [ca.cert_pem])
    target = tmp_path / "site"
    no_config = {"PIP_CONFIG_FILE": "/dev/null"}  # this host's global pip.conf names other indexes
    r = sandbox.run_in_layout(layout, [str(built_python), "-I", "-m", "pip", "install", "--no-cache-dir",
                                       "--disable-pip-version-check", "--index-url", private_index,
                                       "--target", str(target), "requests", "truststore"],
                              env=clean_env(no_config), timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    code = ("import sys; sys.path.insert(0, sys.argv[2])\n"
            "import ssl, truststore; truststore.inject_into_ssl()\n"
            "import requests\n"
            "print(requests.get(sys.argv[1], timeout=10).text, end='')\n")
    r = sandbox.run_in_layout(layout, [str(built_python), "-I", "-c", code, servers["good"], str(target)],
                              env=clean_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == tls.OK_BODY.decode()
