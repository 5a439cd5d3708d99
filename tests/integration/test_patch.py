"""`pybuildssl patch` on real CPython installations, proven over loopback TLS.

A stock CPython (built by ci/stock_pythons.py, see _interpreters.py: linked to
the host's OpenSSL, whose OPENSSLDIR is Debian's /usr/lib/ssl) is copied (hard links: cheap, and the original is never
written: every write replaces a file) and patched.  Its interpreter then
runs in private mount namespaces laid out like Fedora, RHEL, Debian or
nothing at all (pybuildssl.verify.sandbox), with a clean environment, and
talks to a loopback HTTPS server whose CA is only in that layout's store.

Run with ``python3 -m pytest -m integration tests/integration/test_patch.py``.
Set PYBUILDSSL_TEST_PYTHON to an installation prefix to test another Python.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from pathlib import Path

import pytest

from pybuildssl import trust
from pybuildssl.fsutil import copy_prefix
from pybuildssl.verify import sandbox, tls

from _interpreters import MINORS, interpreter, require_namespaces, source_prefix as _source_prefix, stock_prefix

pytestmark = pytest.mark.integration

RHEL_BUNDLE = "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"
RHEL_HASHDIR = "/etc/pki/ca-trust/extracted/pem/directory-hash"

#: Runs inside the namespace.  ``ssl`` is the first use of OpenSSL in the
#: process (a vendor openssl.cnf is read at the first use: hashlib first
#: would hide a failure).  Prints one JSON line.
CLIENT = r'''
import sys
first = [m for m in ("_hashlib", "_ssl", "hashlib") if m in sys.modules]
import ssl
import json, os
mode, url = sys.argv[1], sys.argv[2]
out = {"first_use_ok": not first, "patched": hasattr(ssl, "_pybuildssl_resolve")}
if out["patched"]:
    out["resolve"] = ssl._pybuildssl_resolve(explain=True)
out["paths"] = list(ssl.get_default_verify_paths())
try:
    import urllib.request, urllib.error, http.client, urllib.parse
    if mode == "urllib":
        body = urllib.request.urlopen(url, timeout=10).read()
    elif mode == "http.client":
        u = urllib.parse.urlsplit(url)
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=10,
                                           context=ssl.create_default_context())
        conn.request("GET", "/")
        body = conn.getresponse().read()
    elif mode == "set_default_verify_paths":  # truststore's (and so pip's) path
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.set_default_verify_paths()
        body = urllib.request.urlopen(url, timeout=10, context=ctx).read()
    elif mode == "truststore-like":
        # truststore/_openssl.py::_configure_context, the logic pip 24.2+ runs
        defaults = ssl.get_default_verify_paths()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if defaults.cafile or (defaults.capath and os.listdir(defaults.capath)):
            ctx.set_default_verify_paths()
        body = urllib.request.urlopen(url, timeout=10, context=ctx).read()
    else:
        raise SystemExit("unknown mode " + mode)
    out["result"] = "ok" if body == b"pybuildssl-ok\n" else "bad body %r" % body[:80]
except urllib.error.URLError as e:
    reason = e.reason
    out["result"] = type(reason).__name__
    out["message"] = str(reason)
except Exception as e:
    out["result"] = type(e).__name__
    out["message"] = str(e)
print(json.dumps(out))
'''


# --------------------------------------------------------------- fixtures ----

@pytest.fixture(scope="session", autouse=True)
def _sandbox_available():
    require_namespaces()


@pytest.fixture(scope="session")
def source_prefix() -> Path:
    return _source_prefix()


@pytest.fixture(scope="session")
def source_sha(source_prefix):
    (ssl_py,) = trust.find_ssl_py(source_prefix)
    return hashlib.sha256(ssl_py.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def stock(tmp_path_factory, source_prefix) -> Path:
    return interpreter(copy_prefix(source_prefix, tmp_path_factory.mktemp("stock") / "py"))


@pytest.fixture(scope="session")
def patched(tmp_path_factory, source_prefix, source_sha) -> Path:
    prefix = copy_prefix(source_prefix, tmp_path_factory.mktemp("patched") / "py")
    result = trust.patch_prefix(prefix)
    assert result.files[0].action == "patched"
    return interpreter(prefix)


@pytest.fixture(scope="session")
def ca():
    return tls.CA("pybuildssl patch-test CA")


@pytest.fixture(scope="session")
def server(ca):
    with tls.HTTPSServer(ca.issue("localhost", "127.0.0.1")) as srv:
        yield srv


def run(exe: Path, layout, url: str, mode: str = "urllib", env: dict | None = None) -> dict:
    full_env = sandbox.clean_env()
    full_env.pop(trust.OPT_OUT_ENV, None)  # a developer's own opt-out must not leak in
    full_env.update(env or {})
    proc = sandbox.run_in_layout(layout, [str(exe), "-I", "-c", CLIENT, mode, url],
                                 env=full_env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["first_use_ok"], "ssl was not the first use of OpenSSL in the client"
    return out


def assert_verify_failed(out: dict) -> None:
    assert out["result"] == "SSLCertVerificationError", out
    assert "CERTIFICATE_VERIFY_FAILED" in out["message"]


# ------------------------------------------------------------------ tests ----

@pytest.mark.parametrize("vendor", ["fedora", "rhel"])
def test_patched_python_verifies_through_the_vendor_store(patched, stock, ca, server, vendor):
    layout = sandbox.layout_for(vendor, [ca.cert_pem])
    out = run(patched, layout, server.url())
    assert out["result"] == "ok", out
    assert out["resolve"]["source"] == "fallback"
    # the vendor's hashed directory, the cheaper form of its store, comes before its bundle
    assert out["resolve"]["capath"] == RHEL_HASHDIR and out["resolve"]["cafile"] is None
    assert out["paths"][:2] == [None, RHEL_HASHDIR]            # get_default_verify_paths()
    assert out["paths"][3] == "/usr/lib/ssl/cert.pem"          # openssl_cafile: compiled, unchanged
    assert_verify_failed(run(stock, layout, server.url()))     # and stock CPython does not


@pytest.mark.parametrize("mode", ["http.client", "set_default_verify_paths", "truststore-like"])
def test_every_client_path_loads_what_is_reported(patched, stock, ca, server, mode):
    layout = sandbox.layout_for("fedora", [ca.cert_pem])
    assert run(patched, layout, server.url(), mode)["result"] == "ok"
    assert_verify_failed(run(stock, layout, server.url(), mode))


def test_unknown_ca_fails(patched, ca, server):
    layout = sandbox.layout_for("fedora", [tls.CA("another CA").cert_pem])
    assert_verify_failed(run(patched, layout, server.url()))


def test_wrong_hostname_fails(patched, ca):
    layout = sandbox.layout_for("fedora", [ca.cert_pem])
    with tls.HTTPSServer(ca.issue("elsewhere.test")) as srv:
        out = run(patched, layout, srv.url())
    assert_verify_failed(out)
    assert "hostname" in out["message"].lower() or "ip address" in out["message"].lower()


def test_ssl_cert_file_wins_over_the_fallback(patched, ca, server, tmp_path):
    only_ca = tmp_path / "only-test-ca.pem"
    only_ca.write_bytes(ca.cert_pem)
    other = tmp_path / "other-ca.pem"
    other.write_bytes(tls.CA("not the server's CA").cert_pem)
    # the store lacks the CA, SSL_CERT_FILE has it: verifies
    out = run(patched, sandbox.layout_for("fedora"), server.url(),
              env={"SSL_CERT_FILE": str(only_ca)})
    assert out["result"] == "ok" and out["resolve"]["source"] == "env"
    assert out["paths"][0] == str(only_ca)
    # the store has the CA, SSL_CERT_FILE does not: explicit config wins, no fallback
    out = run(patched, sandbox.layout_for("fedora", [ca.cert_pem]), server.url(),
              env={"SSL_CERT_FILE": str(other)})
    assert out["resolve"]["source"] == "env"
    assert_verify_failed(out)


def test_opt_out_restores_stock_failure(patched, ca, server):
    layout = sandbox.layout_for("rhel", [ca.cert_pem])
    out = run(patched, layout, server.url(), env={trust.OPT_OUT_ENV: "1"})
    assert out["resolve"]["source"] == "disabled"
    assert out["paths"][0] is None
    assert_verify_failed(out)


def test_world_writable_candidate_is_skipped(patched, ca, server):
    layout = sandbox.layout_for("fedora", [ca.cert_pem]).modify(RHEL_HASHDIR, mode=0o777)
    out = run(patched, layout, server.url())
    checked = {c[2]: c[3] for c in out["resolve"]["checked"]}
    assert checked[RHEL_HASHDIR] == f"unsafe: {RHEL_HASHDIR!r} is world-writable"
    # the next candidate, Fedora's bundle, is used instead: reported in cafile
    assert out["resolve"]["cafile"] == RHEL_BUNDLE and out["resolve"]["capath"] is None
    assert out["result"] == "ok"
    alone = layout.modify(RHEL_BUNDLE, mode=0o666)
    out = run(patched, alone, server.url())
    assert out["resolve"]["source"] == "none"
    assert_verify_failed(out)


def test_candidate_owned_by_another_user_is_skipped(patched, ca, server):
    layout = (sandbox.layout_for("fedora", [ca.cert_pem]).remove(RHEL_HASHDIR)
              .modify(RHEL_BUNDLE, uid=4242))
    out = run(patched, layout, server.url())
    assert {c[2]: c[3] for c in out["resolve"]["checked"]}[RHEL_BUNDLE] == \
        f"unsafe: {RHEL_BUNDLE!r} is owned by uid 4242"
    assert_verify_failed(out)


def test_no_usable_store_anywhere_is_the_stdlib_error(patched, server):
    out = run(patched, sandbox.layout_empty(), server.url())
    assert out["resolve"]["source"] == "none"
    assert out["paths"][0] is None and out["paths"][1] is None
    assert_verify_failed(out)


def test_usable_compiled_defaults_are_left_alone(patched, stock, ca, server):
    layout = sandbox.layout_for("debian", [ca.cert_pem])  # OPENSSLDIR /usr/lib/ssl is there
    out = run(patched, layout, server.url())
    assert out["resolve"]["source"] == "compiled" and out["result"] == "ok"
    stock_out = run(stock, layout, server.url())
    assert stock_out["result"] == "ok"
    assert out["paths"] == stock_out["paths"]


def test_original_installation_is_untouched(patched, source_prefix, source_sha):
    (ssl_py,) = trust.find_ssl_py(source_prefix)
    assert hashlib.sha256(ssl_py.read_bytes()).hexdigest() == source_sha
    assert not trust.is_patched(ssl_py.read_text(encoding="utf-8"))
    assert not ssl_py.with_name(trust.RECORD_NAME).exists()


def test_bytecode_matches_the_patched_source(patched):
    lib = next(p for p in (patched.parent.parent / "lib").glob("python3.*") if (p / "ssl.py").is_file())
    ssl_py = lib / "ssl.py"
    pycs = sorted((lib / "__pycache__").glob("ssl.*.pyc"))
    assert pycs, "the source installation had ssl pycs: they must be refreshed, not dropped"
    st = ssl_py.stat()
    for pyc in pycs:
        header = pyc.read_bytes()[:16]
        flags, mtime, size = struct.unpack("<4xIII", header)
        assert flags == 0
        assert (mtime, size) == (int(st.st_mtime) & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF), pyc.name


def test_patch_revert_cycle_restores_stock_behaviour(tmp_path, source_prefix, ca, server):
    prefix = copy_prefix(source_prefix, tmp_path / "py")
    (ssl_py,) = trust.find_ssl_py(prefix)
    original = ssl_py.read_bytes()
    first = trust.patch_prefix(prefix)
    patched_bytes = ssl_py.read_bytes()
    assert trust.patch_prefix(prefix).files[0].action == "unchanged"
    assert ssl_py.read_bytes() == patched_bytes
    layout = sandbox.layout_for("rhel", [ca.cert_pem])
    assert run(interpreter(prefix), layout, server.url())["result"] == "ok"
    reverted = trust.patch_prefix(prefix, revert=True)
    assert reverted.files[0].action == "reverted"
    assert ssl_py.read_bytes() == original
    assert first.files[0].original_sha256 == hashlib.sha256(original).hexdigest()
    out = run(interpreter(prefix), layout, server.url())
    assert not out["patched"]
    assert_verify_failed(out)


@pytest.mark.parametrize("minor", MINORS)
def test_every_stock_cpython_version(tmp_path, minor, ca, server):
    copy = copy_prefix(stock_prefix(minor), tmp_path / "py")
    trust.patch_prefix(copy)
    layout = sandbox.layout_for("fedora", [ca.cert_pem])
    out = run(interpreter(copy), layout, server.url(), "truststore-like")
    assert out["result"] == "ok", out
    assert out["resolve"]["capath"] == RHEL_HASHDIR
    assert run(interpreter(copy), layout, server.url())["result"] == "ok"


def test_dry_run_leaves_the_copy_unchanged(tmp_path, source_prefix):
    prefix = copy_prefix(source_prefix, tmp_path / "py")
    before = {p: p.stat().st_ino for p in prefix.rglob("*") if p.is_file()}
    result = trust.patch_prefix(prefix, dry_run=True)
    assert "+" + trust.START_MARKER in result.diff
    assert {p: p.stat().st_ino for p in prefix.rglob("*") if p.is_file()} == before


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-m", "integration", "-v"]))
