"""A vendor's openssl.cnf, as shipped, never makes ``ssl`` unusable.

RHEL 9's /etc/pki/tls/openssl.cnf sets ``config_diagnostics = 1`` and
crypto-policies put ``rh-allow-sha1-signatures`` in its alg_section (and, in
the FIPS layout, a vendor-only ssl Option, a FIPS provider section without the
module and an ENGINE module this OpenSSL lacks).  Upstream OpenSSL 3.5 fails
its first SSL_CTX_new on that file, whatever OpenSSL's first user is (in a
pybuildssl artifact _ssl and _hashlib each carry their own static OpenSSL;
with one shared libcrypto, hashlib first hides it in that thread only:
python-build-standalone issues 207, 999, 1013).  The files are the vendor's (pybuildssl/data/vendor-cnf/),
laid out in a private mount namespace; the artifact's OPENSSLDIR (/etc/ssl)
links to the vendor's file, as with OPENSSL_CONF set to it.

The policy must still apply: CPython sets its own TLS 1.2 minimum and TLS 1.2
cipher list on every context, so what the wire can show of the policy is what
CPython leaves alone, the TLS 1.3 suites: FUTURE allows AES-256-GCM and
ChaCha20 only, so a server that offers only TLS_AES_128_GCM_SHA256 is refused
under FUTURE and accepted under DEFAULT and without the vendor file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pybuildssl.verify import sandbox, tls, vendorconf, verify
from pybuildssl.verify.sandbox import clean_env

from _helpers import REPO, run_cli

pytestmark = pytest.mark.integration

CONFIGS = vendorconf.names()


@pytest.fixture(scope="module")
def world():
    ca = tls.CA("vendor-config CA")
    with tls.HTTPSServer(ca.issue("localhost", "127.0.0.1")) as srv:
        yield ca, srv


@pytest.fixture(scope="module")
def openssldir(built_python) -> str:
    r = subprocess.run([str(built_python), "-I", "-c",
                        "import ssl; print(ssl.get_default_verify_paths().openssl_cafile)"],
                       capture_output=True, text=True, env=clean_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    return os.path.dirname(r.stdout.strip())


@pytest.mark.parametrize("order", vendorconf.ORDERS)
@pytest.mark.parametrize("name", CONFIGS)
def test_ssl_works_and_the_policy_applies_whatever_the_first_user(built_python, openssldir, world, name, order):
    ca, srv = world
    lay = vendorconf.layout(name, [ca.cert_pem], openssldir=openssldir)
    assert lay.file("/etc/pki/tls/openssl.cnf").content.count(b"config_diagnostics = 1") == 1
    res = vendorconf.run_client(built_python, lay, srv.url(), order)
    assert res.get("ok"), res
    assert vendorconf.judge(vendorconf.load()[name], [res]) == [], res


@pytest.mark.parametrize("order", ["ssl", "hashlib"])
def test_openssl_conf_naming_the_vendor_file_works_too(built_python, world, order):
    ca, srv = world
    lay = vendorconf.layout("rhel-config-fips", [ca.cert_pem])  # no link: only the variable names it
    res = vendorconf.run_client(built_python, lay, srv.url(), order,
                                env=clean_env({"OPENSSL_CONF": "/etc/pki/tls/openssl.cnf"}))
    assert res.get("ok"), res
    assert vendorconf.judge(vendorconf.load()["rhel-config-fips"], [res]) == []


SERVER = textwrap.dedent(r"""
    import http.server, ssl, sys
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
            self.wfile.write(b"ok")
        def log_message(self, *a):
            pass
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
""")

#: The server's own OpenSSL configuration: TLS 1.3 with TLS_AES_128_GCM_SHA256 only.
SERVER_CNF = ("openssl_conf = init\n[init]\nssl_conf = ssl_sect\n[ssl_sect]\nsystem_default = only128\n"
              "[only128]\nCiphersuites = TLS_AES_128_GCM_SHA256\n")


@pytest.fixture(scope="module")
def aes128_server(tmp_path_factory, world):
    ca, _ = world
    d = tmp_path_factory.mktemp("aes128")
    leaf = ca.issue("localhost", "127.0.0.1")
    (d / "chain.pem").write_bytes(leaf.chain_pem)
    (d / "key.pem").write_bytes(leaf.key_pem)
    (d / "server.cnf").write_text(SERVER_CNF)
    proc = subprocess.Popen([sys.executable, "-I", "-c", SERVER, str(d / "chain.pem"), str(d / "key.pem")],
                            stdout=subprocess.PIPE, text=True,
                            env=clean_env({"OPENSSL_CONF": str(d / "server.cnf")}))
    try:
        port = int(proc.stdout.readline())
        yield f"https://localhost:{port}/"
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("order", ["ssl", "hashlib"])
def test_the_policy_shows_on_the_wire(built_python, openssldir, world, aes128_server, order):
    ca, _ = world
    # without the vendor's file: TLS_AES_128_GCM_SHA256 is offered and negotiated
    plain = vendorconf.run_client(built_python, sandbox.layout_for("rhel", [ca.cert_pem]), aes128_server, order)
    assert plain.get("ok") and plain["cipher"] == "TLS_AES_128_GCM_SHA256", plain
    # DEFAULT allows it too
    default = vendorconf.run_client(built_python, vendorconf.layout("rhel-config", [ca.cert_pem],
                                                                    openssldir=openssldir), aes128_server, order)
    assert default.get("ok") and default["cipher"] == "TLS_AES_128_GCM_SHA256", default
    # FUTURE does not: the client offers only AES-256-GCM and ChaCha20, the handshake fails
    future = vendorconf.run_client(built_python, vendorconf.layout("rhel-config-future", [ca.cert_pem],
                                                                   openssldir=openssldir), aes128_server, order)
    assert not future.get("ok"), future
    assert future["tls13"] == ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
    assert "SSLError" in future["error"] and "CONF" not in future["error"], future


def test_verify_passes_the_vendor_config_layouts(artifact):
    report = verify(Path(artifact), layouts_arg=",".join(CONFIGS))
    found = {f.id: f for f in report.findings}
    for name in CONFIGS:
        f = found[f"layout.{name}"]
        assert f.status == "pass", f.detail
        assert [c["order"] for c in f.data["clients"]] == list(vendorconf.ORDERS)
        assert all(c["ok"] for c in f.data["clients"])
    assert json.dumps(report.to_json())  # the findings serialise (JSON and JUnit reports)


# ------------------------------------------------------------------ doctor ----


def _doctor(python, lay, env: dict | None = None) -> dict:
    argv = [sys.executable, "-m", "pybuildssl", "doctor", "--python", str(python), "--json"]
    r = sandbox.run_in_layout(lay, argv, env=clean_env({"PYTHONPATH": str(REPO), **(env or {})}),
                              cwd=REPO, timeout=120)
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)


def test_doctor_sees_the_artifact_work_under_the_vendor_config(built_python, openssldir, world):
    ca, _ = world
    out = _doctor(built_python, vendorconf.layout("rhel-config-fips", [ca.cert_pem], openssldir=openssldir))
    ids = [p["id"] for p in out["problems"]]
    assert "ssl.vendor-config" not in ids and "ssl.config" not in ids, out["problems"]


@pytest.fixture(scope="module")
def unpatched(tmp_path_factory, source_sets) -> tuple[Path, str]:
    """(interpreter, OPENSSLDIR) of the default recipe built WITHOUT openssl-host-config-tolerant.patch
    (``--set openssl.patches=[]``): the control that shows what the patch prevents.  It shares
    every component but OpenSSL and CPython with the session's build, and is cached like it.
    PYBUILDSSL_TEST_UNPATCHED_ARTIFACT may point at such an archive instead.
    """
    from pybuildssl import archive, relocate

    given = os.environ.get("PYBUILDSSL_TEST_UNPATCHED_ARTIFACT")
    if not given:
        dist = tmp_path_factory.mktemp("unpatched-dist")
        r = run_cli("build", "--dist", str(dist), "--json", "--no-verify", *source_sets,
                    "--set", "openssl.patches=[]")
        assert r.returncode == 0, f"the unpatched control build failed:\n{r.stderr[-3000:]}"
        given = json.loads(r.stdout)["artifact"]
    dest = tmp_path_factory.mktemp("unpatched") / "py"
    archive.extract(Path(given), dest, strip_top=True)
    return relocate.interpreter(dest), "/etc/ssl"


@pytest.mark.parametrize("name", CONFIGS)
def test_an_unpatched_openssl_fails_and_verify_catches_it(unpatched, world, name):
    unpatched_python, openssldir = unpatched
    ca, srv = world
    lay = vendorconf.layout(name, [ca.cert_pem], openssldir=openssldir)
    results = [vendorconf.run_client(unpatched_python, lay, srv.url(), o) for o in vendorconf.ORDERS]
    problems = vendorconf.judge(vendorconf.load()[name], results)
    # ssl first always fails; with one shared libcrypto (a stock Python) hashlib first hides it,
    # with a static one in each of _ssl and _hashlib (a pybuildssl artifact) every order fails
    assert not results[0].get("ok") and "[CONF: " in results[0]["error"], results
    assert problems and problems[0].startswith("ssl first: "), problems  # verify's judge catches it


@pytest.mark.parametrize("name", CONFIGS)
def test_doctor_names_the_cause_and_its_first_fix_works(unpatched, world, tmp_path, name):
    unpatched_python, openssldir = unpatched
    ca, srv = world
    lay = vendorconf.layout(name, [ca.cert_pem], openssldir=openssldir)
    out = _doctor(unpatched_python, lay)
    assert out["verdict"]["status"] == "fail"
    p = {x["id"]: x for x in out["problems"]}["ssl.vendor-config"]
    assert p["subject"] == f"{openssldir}/openssl.cnf" and "config_diagnostics = 1" in p["message"]
    fix = out["fixes"][0]
    assert fix["id"] == "openssl-conf-wrapper"
    # apply it: the commands as printed, in a shell, HOME in a scratch directory
    home = tmp_path / "home"
    home.mkdir()
    script = "\n".join(fix["commands"]) + f"\nexec {unpatched_python} -I -B -c \"$0\" \"$@\""
    r = sandbox.run_in_layout(lay, ["sh", "-c", script, vendorconf.CLIENT, "ssl", srv.url()],
                              env=clean_env({"HOME": str(home)}), timeout=60)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res.get("ok"), (res, r.stderr)
    assert vendorconf.judge(vendorconf.load()[name], [res]) == []  # the policy still applies
    # and doctor, run with the variable set, finds nothing wrong with the configuration
    again = _doctor(unpatched_python, lay, env={"HOME": str(home),
                                                "OPENSSL_CONF": str(home / ".config/pybuildssl/openssl.cnf")})
    found = {x["id"] for x in again["problems"]}
    assert not {"ssl.vendor-config", "ssl.config"} & found, again["problems"]


# ------------------------------------------------- what tolerance must not do ----

PROBE_CONTEXT = r"""
import json, ssl, _hashlib
out = {}
try:
    out["max"] = int(ssl.create_default_context().maximum_version)
except ssl.SSLError as e:
    out["ssl_error"] = str(e)
try:
    _hashlib.new("sha256", b"")
    out["openssl_sha256"] = True
except Exception as e:
    out["openssl_sha256"] = False
print(json.dumps(out))
"""


def _with_conf(built_python, tmp_path, text: str) -> dict:
    cnf = tmp_path / "openssl.cnf"
    cnf.write_text(text)
    r = subprocess.run([str(built_python), "-I", "-c", PROBE_CONTEXT], capture_output=True, text=True,
                       env=clean_env({"OPENSSL_CONF": str(cnf)}), timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_a_module_this_openssl_lacks_does_not_drop_the_tls_policy_after_it(built_python, tmp_path):
    # upstream stops at the first failing module: the ssl_conf after it would be lost silently
    got = _with_conf(built_python, tmp_path, "openssl_conf = init\n[init]\nengines = eng\nssl_conf = ssl_sect\n"
                     "[eng]\npkcs11 = p11\n[p11]\ninit = 1\n"
                     "[ssl_sect]\nsystem_default = s\n[s]\nMaxProtocol = TLSv1.2\n")
    assert got["max"] == 771, got  # TLSVersion.TLSv1_2


def test_a_fips_demand_after_an_unknown_key_still_fails_closed(built_python, tmp_path):
    # the key after the vendor key applies: fips=yes, and this build has no FIPS provider
    got = _with_conf(built_python, tmp_path, "config_diagnostics = 1\nopenssl_conf = init\n[init]\n"
                     "alg_section = evp\n[evp]\nrh-allow-sha1-signatures = no\ndefault_properties = fips=yes\n")
    assert "ssl_error" in got and got["openssl_sha256"] is False, got
