"""Vendor trust-store layouts in mount namespaces, checked with real handshakes.

The target interpreters are stock CPython builds linked against the host's
OpenSSL (OPENSSLDIR /usr/lib/ssl; built by ci/stock_pythons.py, see
_interpreters.py): they trust a Debian layout and must NOT trust a Fedora
one.  That failure is the product's reason to exist, and it proves the
sandbox really hides the host store.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import subprocess
import time

import pytest

from pybuildssl import layouts
from pybuildssl.verify import sandbox, tls
from pybuildssl.verify.sandbox import (
    DirSpec, FileSpec, Layout, SandboxError, SandboxUnavailable, clean_env, layout_empty,
    layout_for, run_in_layout,
)

from _interpreters import MINORS, interpreter, namespaces, require_root, stock_prefix  # noqa: F401

pytestmark = pytest.mark.integration

HASH_NAME = re.compile(r"[0-9a-f]{8}\.\d+")

CLIENT = r"""
import ssl, json, sys, urllib.request
try:
    body = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
    print(json.dumps({"ok": True, "body": body}))
except Exception as e:
    r = getattr(e, "reason", e)
    print(json.dumps({"ok": False, "error": str(e),
                      "verify_code": getattr(r, "verify_code", None)}))
"""


# ------------------------------------------------------------- fixtures ----

def _target_python(minor: str | None = None) -> str:
    """A stock CPython linked to the host's OpenSSL, whose compiled defaults are Debian's."""
    python = str(interpreter(stock_prefix(minor)))
    r = subprocess.run([python, "-I", "-c",
                        "import ssl; print(ssl.get_default_verify_paths().openssl_capath)"],
                       capture_output=True, text=True, env=clean_env(), timeout=30)
    assert r.stdout.strip() == "/usr/lib/ssl/certs", \
        f"{python}: OpenSSL's default capath is {r.stdout.strip()!r}, not the Debian one " \
        f"these assertions assume (run on Debian with Debian's libssl-dev) {r.stderr}"
    return python


@pytest.fixture(scope="module")
def target_python(namespaces):
    """The newest stock CPython: its OpenSSL's compiled defaults live in /usr/lib/ssl."""
    return _target_python()


@pytest.fixture(scope="module")
def ca():
    return tls.CA("pybuildssl sandbox CA")


@pytest.fixture(scope="module")
def server(ca):
    with tls.HTTPSServer(ca.issue("localhost", "127.0.0.1")) as srv:
        yield srv


def fetch(layout: Layout, python: str, url: str, env: dict | None = None) -> dict:
    r = run_in_layout(layout, [python, "-I", "-c", CLIENT, url],
                      env=clean_env(env), timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def shell(layout: Layout, script: str) -> subprocess.CompletedProcess:
    return run_in_layout(layout, ["/bin/sh", "-c", script], timeout=30)


# ------------------------------------------------------ pure: layout_for ----

def test_layout_for_is_pure_and_deterministic(ca):
    a = layout_for("debian", [ca.cert_pem], host_roots=False)
    b = layout_for("debian", [ca.cert_pem], host_roots=False)
    assert a == b
    assert layout_for("debian", [ca.cert_pem]).files != a.files  # host roots are an input
    assert set(a.hide) >= {"/etc/ssl", "/etc/pki", "/usr/lib/ssl"}


def test_every_trust_root_of_every_linux_vendor_is_hidden():
    hide = layout_empty().hide
    for root in layouts.load().trust_roots("linux"):
        assert any(root == h or root.startswith(h + "/") for h in hide), root
    assert layout_empty().files == () and layout_empty().links == ()



EXPECTED = {
    "debian": {
        "bundle": ["/etc/ssl/certs/ca-certificates.crt"],
        "hashed": ["/etc/ssl/certs/{h}.0"],
        "links": {"/usr/lib/ssl/cert.pem": "/etc/ssl/certs/ca-certificates.crt",
                  "/usr/lib/ssl/certs": "/etc/ssl/certs",
                  "/usr/lib/ssl/private": "/etc/ssl/private",
                  "/usr/lib/ssl/openssl.cnf": "/etc/ssl/openssl.cnf"},
        "decoys": [],
        "dirs": ["/usr/lib/ssl"],
    },
    "fedora": {
        "bundle": ["/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"],
        "hashed": ["/etc/pki/ca-trust/extracted/pem/directory-hash/{h}.0"],
        "links": {"/etc/ssl/certs": "/etc/pki/tls/certs"},
        "decoys": ["/etc/pki/tls/certs"],
        "dirs": ["/etc/pki/tls"],
        "absent": ["/etc/pki/tls/cert.pem", "/etc/pki/tls/certs/ca-bundle.crt",
                   "/etc/ssl/cert.pem"],
    },
    "rhel": {
        "bundle": ["/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"],
        "hashed": ["/etc/pki/ca-trust/extracted/pem/directory-hash/{h}.0"],
        "links": {"/etc/pki/tls/cert.pem": "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
                  "/etc/pki/tls/certs/ca-bundle.crt":
                      "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
                  "/etc/ssl/certs": "/etc/pki/tls/certs"},
        "decoys": ["/etc/pki/tls/certs"],
        "dirs": ["/etc/pki/tls"],
    },
    "suse": {
        "bundle": ["/etc/ssl/ca-bundle.pem"],
        "hashed": ["/etc/ssl/certs/{h}.0"],
        "links": {},
        "decoys": [],
        "dirs": ["/etc/ssl"],
    },
    "alpine": {
        "bundle": ["/etc/ssl/certs/ca-certificates.crt"],
        "hashed": ["/etc/ssl/certs/{h}.0"],
        "links": {"/etc/ssl/cert.pem": "/etc/ssl/certs/ca-certificates.crt"},
        "decoys": [],
        "dirs": ["/etc/ssl"],
    },
    "arch": {  # the first CA file is a link: the bundle lives at its target
        "bundle": ["/etc/ca-certificates/extracted/tls-ca-bundle.pem"],
        "hashed": ["/etc/ssl/certs/{h}.0"],
        "links": {"/etc/ssl/cert.pem": "/etc/ca-certificates/extracted/tls-ca-bundle.pem",
                  "/etc/ssl/certs/ca-certificates.crt":
                      "/etc/ca-certificates/extracted/tls-ca-bundle.pem"},
        "decoys": [],
        "dirs": ["/etc/ssl"],
    },
}


@pytest.mark.parametrize("vendor", sorted(EXPECTED))
def test_layout_for_lays_out_the_vendor_store(vendor, ca):
    exp = EXPECTED[vendor]
    layout = layout_for(vendor, [ca.cert_pem], host_roots=False)
    h = ca.subject_hash()
    for path in exp["bundle"]:
        assert layout.file(path).content == ca.cert_pem
    for path in exp["hashed"]:
        assert layout.file(path.format(h=h)).content == ca.cert_pem
    assert {p: t for p, t in layout.links if p in exp["links"]} == exp["links"]
    assert len(layout.links) == len(exp["links"])
    for decoy in exp["decoys"]:
        assert isinstance(layout.entry(decoy), DirSpec)
        names = layout.listdir(decoy)
        assert names and not any(HASH_NAME.fullmatch(n) for n in names), names
    for d in exp["dirs"]:
        assert isinstance(layout.entry(d), DirSpec)
    for path in exp.get("absent", []):
        assert layout.entry(path) is None


@pytest.mark.parametrize("vendor", sorted(v.name for v in layouts.load().vendors_for_os("linux")))
def test_every_table_location_resolves_to_the_ca(vendor, ca):
    """Each CA file and hashed dir of the table, followed through the layout's links,
    holds the CA: the layout and the table cannot drift apart."""
    layout = layout_for(vendor, [ca.cert_pem], host_roots=False)
    links = dict(layout.links)

    def resolve(path):
        for _ in range(10):
            parent = path
            while parent != "/" and parent not in links:
                parent = posixpath.dirname(parent)
            if parent == "/":
                return path
            path = links[parent] + path[len(parent):]
        raise AssertionError(f"link loop at {path}")

    v = layouts.load().vendor(vendor)
    for cafile in v.cafiles:
        assert layout.file(resolve(cafile)).content == ca.cert_pem, cafile
    for capath in v.capaths:
        assert layout.listdir(resolve(capath)).count(f"{ca.subject_hash()}.0") == 1, capath
    for decoy in v.decoys:
        assert not any(HASH_NAME.fullmatch(n) for n in layout.listdir(resolve(decoy)))


def test_admin_added_cas_land_where_the_admin_tool_leaves_them(ca):
    admin = tls.CA("Corp Proxy CA")
    h = admin.subject_hash()
    deb = layout_for("debian", [ca.cert_pem], host_roots=False, admin_added=[admin.cert_pem])
    assert deb.file("/usr/local/share/ca-certificates/pybuildssl-admin-1.crt").content \
        == admin.cert_pem
    assert deb.file("/etc/ssl/certs/ca-certificates.crt").content == ca.cert_pem + admin.cert_pem
    assert deb.file(f"/etc/ssl/certs/{h}.0").content == admin.cert_pem

    fed = layout_for("fedora", [], host_roots=False, admin_added=[admin.cert_pem])
    assert fed.file("/etc/pki/ca-trust/source/anchors/pybuildssl-admin-1.pem").content \
        == admin.cert_pem
    assert fed.file("/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem").content \
        == admin.cert_pem
    assert fed.file(f"/etc/pki/ca-trust/extracted/pem/directory-hash/{h}.0").content \
        == admin.cert_pem

    void = layout_for("void", [], host_roots=False, admin_added=[admin.cert_pem])
    assert void.file("/etc/ssl/certs/ca-certificates.crt").content == admin.cert_pem
    assert void.entry(f"/etc/ssl/certs/{h}.0") is None  # its tool writes no hash links


def test_layouts_refuse_to_write_outside_their_hidden_roots():
    with pytest.raises(ValueError, match="not inside a hidden root"):
        Layout(hide=("/etc/ssl",), files=(FileSpec("/tmp/planted.pem", b""),))
    with pytest.raises(ValueError, match="too close to /"):
        Layout(hide=("/etc",))
    with pytest.raises(ValueError, match="below the link"):
        Layout(hide=("/etc/ssl",), links=(("/etc/ssl/certs", "/tmp"),),
               files=(FileSpec("/etc/ssl/certs/x.pem", b""),))


def test_clean_env_drops_what_changes_trust(monkeypatch):
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                 "PIP_CERT", "PIP_INDEX_URL", "NODE_EXTRA_CA_CERTS", "OPENSSL_CONF",
                 "OPENSSL_MODULES", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "GIT_SSL_CAINFO",
                 "NIX_SSL_CERT_FILE", "AWS_CA_BUNDLE", "PYTHONPATH", "PYTHONHOME",
                 "PYTHONSTARTUP", "LD_LIBRARY_PATH"):
        monkeypatch.setenv(name, "/planted")
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = clean_env({"EXTRA": "1"})
    assert not [k for k, v in env.items() if v == "/planted"]
    assert env["NO_PROXY"] == "*" and env["EXTRA"] == "1"
    assert env["PATH"] == os.environ["PATH"] and env["LANG"] == "C.UTF-8"


# ------------------------------------------------ real mount namespaces ----

def test_debian_layout_trusts_the_ca_over_loopback(target_python, ca, server):
    started = time.monotonic()
    result = fetch(layout_for("debian", [ca.cert_pem]), target_python, server.url())
    elapsed = time.monotonic() - started
    assert result == {"ok": True, "body": tls.OK_BODY.decode()}
    assert elapsed < 10


@pytest.mark.parametrize("minor", MINORS)
def test_every_target_python_trusts_only_what_the_layout_holds(namespaces, minor, ca, server):
    python = _target_python(minor)
    layout = layout_for("debian", [ca.cert_pem], host_roots=False)
    assert fetch(layout, python, server.url("127.0.0.1"))["ok"]
    stranger = tls.CA("not in the store")
    with tls.HTTPSServer(stranger.issue("localhost")) as other:
        result = fetch(layout, python, other.url())
    assert not result["ok"] and "CERTIFICATE_VERIFY_FAILED" in result["error"]


def test_wrong_hostname_fails(target_python, ca):
    with tls.HTTPSServer(ca.issue("elsewhere.invalid")) as srv:
        result = fetch(layout_for("debian", [ca.cert_pem]), target_python, srv.url())
    assert not result["ok"]
    assert "CERTIFICATE_VERIFY_FAILED" in result["error"]
    assert "hostname mismatch" in result["error"].lower()


@pytest.mark.parametrize("vendor", ["fedora", "rhel"])
def test_a_debian_built_python_finds_nothing_on_a_red_hat_layout(target_python, ca, server,
                                                                  vendor):
    """Stock behaviour the product fixes; also proves the host store is hidden."""
    layout = layout_for(vendor, [ca.cert_pem])
    result = fetch(layout, target_python, server.url())
    assert not result["ok"] and "CERTIFICATE_VERIFY_FAILED" in result["error"]
    # ... while the CA is there, where the table says: explicit configuration works
    bundle = layouts.load().vendor(vendor).cafiles[0]
    assert fetch(layout, target_python, server.url(), {"SSL_CERT_FILE": bundle})["ok"]


def test_nothing_is_trusted_in_the_empty_layout(target_python, server):
    result = fetch(layout_empty(), target_python, server.url())
    assert not result["ok"] and "CERTIFICATE_VERIFY_FAILED" in result["error"]


def test_hashed_dirs_work_alone_and_decoys_do_not(target_python, ca, server):
    twin = tls.CA("  PYBUILDSSL sandbox   CA")  # same canonical name: lands in <hash>.1
    assert twin.subject_hash() == ca.subject_hash()
    layout = layout_for("debian", [ca.cert_pem, twin.cert_pem], host_roots=False) \
        .remove("/etc/ssl/certs/ca-certificates.crt")
    assert {f"{ca.subject_hash()}.0", f"{ca.subject_hash()}.1"} <= \
        set(layout.listdir("/etc/ssl/certs"))
    assert fetch(layout, target_python, server.url())["ok"]
    with tls.HTTPSServer(twin.issue("localhost")) as srv:
        assert fetch(layout, target_python, srv.url())["ok"]

    fedora = layout_for("fedora", [ca.cert_pem], host_roots=False)
    decoy = fetch(fedora, target_python, server.url(), {"SSL_CERT_DIR": "/etc/ssl/certs"})
    assert not decoy["ok"]
    hashed = fetch(fedora, target_python, server.url(),
                   {"SSL_CERT_DIR": "/etc/pki/ca-trust/extracted/pem/directory-hash"})
    assert hashed["ok"]


def test_admin_added_ca_is_trusted(target_python, server, ca):
    layout = layout_for("debian", [], host_roots=False, admin_added=[ca.cert_pem])
    assert fetch(layout, target_python, server.url())["ok"]


def _host_state() -> dict:
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    state = {"mounts": open("/proc/self/mountinfo").read(),
             "pki": os.path.lexists("/etc/pki"),
             "etc_ssl": sorted(os.listdir("/etc/ssl")) if os.path.isdir("/etc/ssl") else None}
    if os.path.exists(bundle):
        with open(bundle, "rb") as f:
            state["bundle"] = hashlib.sha256(f.read()).hexdigest()
    return state


def test_the_host_store_is_hidden_inside_and_untouched_after(namespaces):
    before = _host_state()
    roots = " ".join(layout_empty().hide)
    r = shell(layout_empty(), f'for d in {roots}; do echo "$d $(ls -A $d | wc -l)"; done; '
                              "grep -c localhost /etc/hosts")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:-1] == [f"{d} 0" for d in layout_empty().hide]
    assert int(lines[-1]) >= 1  # the rest of /etc is the real one
    assert _host_state() == before


VIEW = r"""
import json, os, re, ssl
p = ssl.get_default_verify_paths()
capath = p.openssl_capath
hashed = [n for n in os.listdir(capath) if re.fullmatch(r"[0-9a-f]{8}[.][0-9]+", n)] \
    if os.path.isdir(capath) else []
print(json.dumps({"cafile": os.path.exists(p.openssl_cafile), "hashed": len(hashed)}))
"""


def test_the_targets_openssl_sees_the_layout_not_the_host(target_python, ca):
    """What the target's own compiled defaults (/usr/lib/ssl) resolve to in each layout."""
    host = len(tls.hashed_names(sandbox.host_roots_pem()))
    seen = {}
    for name, layout in [("debian+host", layout_for("debian", [ca.cert_pem])),
                         ("debian", layout_for("debian", [ca.cert_pem], host_roots=False)),
                         ("fedora+host", layout_for("fedora", [ca.cert_pem])),
                         ("empty", layout_empty())]:
        r = run_in_layout(layout, [target_python, "-I", "-c", VIEW], timeout=30)
        assert r.returncode == 0, r.stderr
        seen[name] = json.loads(r.stdout)["hashed"]
    assert seen == {"debian+host": host + 1, "debian": 1, "fedora+host": 0, "empty": 0}


def test_the_layout_is_what_the_target_sees(namespaces, ca):
    layout = layout_for("fedora", [ca.cert_pem], host_roots=False)
    r = shell(layout, "readlink /etc/ssl/certs; ls /etc/pki/tls/certs; "
                      "ls /etc/pki/ca-trust/extracted/pem/directory-hash; "
                      "cat /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:3] == ["/etc/pki/tls/certs", "README", f"{ca.subject_hash()}.0"]
    assert "\n".join(lines[3:]).encode() + b"\n" == ca.cert_pem


def test_modes_and_owners_are_applied(namespaces, ca):
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    layout = layout_for("debian", [ca.cert_pem], host_roots=False) \
        .modify(bundle, mode=0o666, uid=1000, gid=1000) \
        .modify("/etc/ssl/certs", mode=0o777)
    r = shell(layout, f"stat -c '%a %u %g' {bundle} /etc/ssl/certs")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["666 1000 1000", "777 0 0"]


def test_a_custom_hidden_root_below_a_missing_directory(namespaces, tmp_path):
    base = tmp_path / "exists"
    base.mkdir()
    (base / "keep.txt").write_text("kept\n")
    root = str(base / "missing" / "root")
    layout = Layout(hide=(root,), files=(FileSpec(root + "/x.pem", b"x\n"),))
    r = shell(layout, f"cat {root}/x.pem {base}/keep.txt")
    assert (r.returncode, r.stdout) == (0, "x\nkept\n"), r.stderr
    assert not os.path.exists(base / "missing")


def test_a_hidden_root_that_is_a_symlink_is_replaced_not_followed(namespaces, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "host.pem").write_text("host\n")
    base = tmp_path / "base"
    base.mkdir()
    (base / "store").symlink_to(real)
    root = str(base / "store")
    layout = Layout(hide=(root,), files=(FileSpec(root + "/x.pem", b"x\n"),))
    r = shell(layout, f"ls -A {root}; test -L {root} && echo LINK; ls -A {real}")
    assert (r.returncode, r.stdout) == (0, "x.pem\nhost.pem\n"), r.stderr
    assert sorted(os.listdir(real)) == ["host.pem"] and os.path.islink(root)


UNPRIVILEGED = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from pybuildssl.verify import sandbox, tls
ca = tls.CA()
bundle = "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"
with tls.HTTPSServer(ca.issue("localhost")) as srv:
    r = sandbox.run_in_layout(
        sandbox.layout_for("fedora", [ca.cert_pem], host_roots=False),
        [sys.executable, "-I", "-c",
         "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read())",
         srv.url()],
        env=sandbox.clean_env({"SSL_CERT_FILE": bundle}))
print(json.dumps([r.returncode, r.stdout, r.stderr]))
"""


@pytest.fixture
def code_nobody_can_read():
    """pybuildssl and cryptography (abi3: any CPython 3.7+ loads it) copied into a directory
    nobody can read: the checkout and the virtualenv may sit under /root (mode 0700)."""
    import shutil
    import tempfile
    from pathlib import Path

    import cryptography

    import pybuildssl

    d = Path(tempfile.mkdtemp(prefix="pybuildssl-nobody-", dir="/tmp"))
    try:
        d.chmod(0o755)
        for pkg in (pybuildssl, cryptography):
            src = Path(pkg.__file__).parent
            shutil.copytree(src, d / src.name, ignore=shutil.ignore_patterns("__pycache__"))
        yield str(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_unprivileged_users_get_a_user_namespace(namespaces, code_nobody_can_read):
    """Not root: `unshare --user --map-root-user --mount` (checked as nobody)."""
    import shutil

    python = "/usr/bin/python3"  # readable by nobody, unlike a prefix under /root
    require_root("switching to nobody with setpriv")
    assert shutil.which("setpriv"), "setpriv is missing: install util-linux"
    assert os.path.exists(python), f"{python} is missing: install Debian's python3"
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
    r = subprocess.run(nobody + [python, "-I", "-c", UNPRIVILEGED, code_nobody_can_read],
                       capture_output=True, text=True, env=env, cwd="/", timeout=60)
    assert r.returncode == 0, r.stderr
    rc, out, err = json.loads(r.stdout)
    assert (rc, out) == (0, "b'pybuildssl-ok\\n'\n"), err


def test_setup_failures_and_missing_commands_raise_sandbox_error(namespaces):
    with pytest.raises(SandboxError, match="cannot run /nonexistent/python"):
        run_in_layout(layout_empty(), ["/nonexistent/python", "-V"])


def test_the_command_is_killed_on_timeout(namespaces):
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        run_in_layout(layout_empty(), ["/bin/sh", "-c", "sleep 30 & sleep 30"], timeout=1)
    assert time.monotonic() - started < 10


def test_no_unshare_means_sandbox_unavailable(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable) as info:
        run_in_layout(layout_empty(), ["true"])
    assert "unshare" in info.value.reason


def test_the_target_gets_a_clean_environment(namespaces, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", "/planted.pem")
    r = run_in_layout(layout_empty(), ["/bin/sh", "-c", "env"])
    assert r.returncode == 0
    names = {line.split("=", 1)[0] for line in r.stdout.splitlines() if "=" in line}
    assert not names & {"SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "PIP_CERT"}
    assert "PATH" in names
