"""The trust patch's safety rule, attacked for real (issue 11, part 2).

Each test lays out a vendor's store in a private mount namespace
(pybuildssl.verify.sandbox) with one weakness, then:

1. the victim interpreter (root, the current user) makes a context the way
   pip's truststore does: ``get_default_verify_paths()``, then
   ``SSLContext.set_default_verify_paths()``;
2. the attacker, uid/gid 65534 with no other group (``setpriv``), really
   performs the write, rename or plant the weakness allows (and the test
   asserts it succeeded: the attack is possible, only the patch stops it);
3. the victim makes a second context; with BOTH contexts (the first one
   matters for lazily read hashed directories: OpenSSL opens ``<hash>.0``
   at verification time), a handshake to a loopback server signed by the
   attacker's CA must fail, and one signed by the real store's CA must work.

Victims: the built artifact (OPENSSLDIR /etc/ssl) and a stock CPython linked
to the host's OpenSSL (Debian: OPENSSLDIR /usr/lib/ssl), each copied and
patched with this checkout's patch (``pybuildssl patch`` replaces the marked
block: what a build with this template bakes in).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from _interpreters import require_namespaces, require_root, stock_prefix
from pybuildssl import trust
from pybuildssl.fsutil import copy_prefix
from pybuildssl.verify import sandbox, tls
from pybuildssl.verify.sandbox import DirSpec, FileSpec, clean_env

pytestmark = pytest.mark.integration

ATTACKER = 65534
HASHDIR = "/etc/pki/ca-trust/extracted/pem/directory-hash"
EXTRACTED = "/etc/pki/ca-trust/extracted"
DEBIAN_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
SUSE_BUNDLE = "/etc/ssl/ca-bundle.pem"
DROP = "/etc/pki/drop"  # a directory the attacker's group may write

#: The victim, inside the namespace.  argv: attack argv (JSON, or null), real URL, attacker URL.
VICTIM = r'''
import sys
import ssl  # the first use of OpenSSL in this process
import json, socket, subprocess, urllib.parse
attack, urls = json.loads(sys.argv[1]), {"real": sys.argv[2], "attacker": sys.argv[3]}

def context():
    before = list(ssl.get_default_verify_paths())[:2]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_default_verify_paths()
    return ctx, {"get": before, "get_after_set": list(ssl.get_default_verify_paths())[:2],
                 "resolve": ssl._pybuildssl_resolve(explain=True)}

def handshake(ctx, url):
    u = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((u.hostname, u.port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname=u.hostname):
                return "ok"
    except ssl.SSLCertVerificationError as e:
        return "verify-failed"
    except Exception as e:
        return "%s: %s" % (type(e).__name__, e)

out = {}
first, out["first"] = context()
if attack:
    r = subprocess.run(attack, capture_output=True, text=True)
    out["attack"] = {"rc": r.returncode, "stdout": r.stdout[-2000:], "stderr": r.stderr[-2000:]}
second, out["second"] = context()
for name, ctx in (("first", first), ("second", second)):
    for who, url in urls.items():
        out["%s:%s" % (name, who)] = handshake(ctx, url)
print(json.dumps(out))
'''

#: The attacker's moves, run as uid/gid 65534.  argv: move, then its arguments.
ATTACK = r'''
import os, sys
move, args = sys.argv[1], sys.argv[2:]
if move == "append":            # PATH PEM
    with open(args[0], "a") as f:
        f.write(args[1])
elif move == "write":           # PATH PEM (a new file, or replace one)
    tmp = args[0] + ".tmp"
    with open(tmp, "w") as f:
        f.write(args[1])
    os.rename(tmp, args[0])
elif move == "swap-subtree":    # DIR NEWLEAF NAME PEM: DIR away, a fresh DIR/NEWLEAF/NAME
    os.rename(args[0], args[0] + ".old")
    os.makedirs(os.path.join(args[0], args[1]))
    with open(os.path.join(args[0], args[1], args[2]), "w") as f:
        f.write(args[3])
elif move == "repoint":         # LINK NEWDIR NAME PEM: NEWDIR/NAME, then LINK -> NEWDIR
    os.makedirs(args[1])
    with open(os.path.join(args[1], args[2]), "w") as f:
        f.write(args[3])
    os.symlink(args[1], args[0] + ".new")
    os.rename(args[0] + ".new", args[0])
else:
    sys.exit("unknown move " + move)
print("done", move)
'''


# --------------------------------------------------------------- fixtures ----

@pytest.fixture(scope="module", autouse=True)
def _gates():
    require_namespaces()
    require_root("playing another user with setpriv")
    assert shutil.which("setpriv"), "setpriv is missing (ci/setup.sh installs util-linux)"


def _patched_copy(src: Path, dest: Path, interpreter_rel: str | None) -> Path:
    prefix = copy_prefix(src, dest)
    result = trust.patch_prefix(prefix)  # replaces a baked block with this checkout's
    assert result.files and all(f.action in ("patched", "unchanged") for f in result.files)
    if interpreter_rel:
        return prefix / interpreter_rel
    (ssl_py,) = trust.find_ssl_py(prefix)
    exe = prefix / "bin" / ssl_py.parent.name
    return exe if exe.exists() else prefix / "bin" / "python3"


@pytest.fixture(scope="module", params=["artifact", "stock"])
def victim(request, tmp_path_factory) -> dict:
    """{"python": interpreter, "cafile", "capath": its OpenSSL's compiled defaults}."""
    dest = tmp_path_factory.mktemp(f"victim-{request.param}") / "python"
    if request.param == "artifact":
        manifest = request.getfixturevalue("manifest")
        src = request.getfixturevalue("moved_prefix")
        python = _patched_copy(src, dest, manifest["cpython"]["interpreter"])
    else:
        python = _patched_copy(stock_prefix(), dest, None)
    r = sandbox.run_in_layout(sandbox.layout_empty(), [str(python), "-I", "-c",
                              "import _ssl, json; print(json.dumps(_ssl.get_default_verify_paths()))"],
                              env=clean_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    parts = json.loads(r.stdout)
    return {"python": python, "cafile": parts[1], "capath": parts[3], "name": request.param}


@pytest.fixture(scope="module")
def cas():
    return {"real": tls.CA("the real store's CA"), "attacker": tls.CA("uid 65534's CA")}


@pytest.fixture(scope="module")
def servers(cas):
    with tls.HTTPSServer(cas["real"].issue("localhost", "127.0.0.1")) as real, \
            tls.HTTPSServer(cas["attacker"].issue("localhost", "127.0.0.1")) as evil:
        yield {"real": real.url(), "attacker": evil.url()}


def base(cas) -> sandbox.Layout:
    """Fedora's store (a hashed directory, then its bundle) trusting the real CA."""
    return sandbox.layout_for("fedora", [cas["real"].cert_pem], host_roots=False)


def hashed_name(pem: bytes) -> str:
    ((name, _),) = tls.hashed_names([pem])
    return name


def attack(move: str, *args: str) -> list[str]:
    return ["setpriv", f"--reuid={ATTACKER}", f"--regid={ATTACKER}", "--clear-groups",
            "/usr/bin/python3", "-I", "-S", "-c", ATTACK, move, *args]


def run(victim: dict, layout: sandbox.Layout, servers: dict, argv: list[str] | None) -> dict:
    r = sandbox.run_in_layout(layout, [str(victim["python"]), "-I", "-c", VICTIM, json.dumps(argv),
                                       servers["real"], servers["attacker"]],
                              env=clean_env(), timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if argv:  # the attack itself worked: only the patch stands in the way
        assert out["attack"]["rc"] == 0, out["attack"]
    return out


def assert_attacker_refused(out: dict) -> None:
    for ctx in ("first", "second"):
        assert out[f"{ctx}:attacker"] == "verify-failed", (ctx, out)
        assert out[f"{ctx}:real"] == "ok", (ctx, out)
        # what get reports is what set loaded (contract item 8)
        assert out[ctx]["get"] == out[ctx]["get_after_set"], out[ctx]


def as_dir(layout: sandbox.Layout, path: str, **kw) -> sandbox.Layout:
    """``path`` as a real directory (Fedora has a link at /etc/ssl/certs)."""
    return layout.remove(path).add(DirSpec(path, **kw))


# ------------------------------------------------------------------ tests ----

def test_group_writable_bundle_is_refused(victim, cas, servers):
    # Debian's bundle comes before Fedora's store; its group (65534) may write it.
    layout = as_dir(base(cas), "/etc/ssl/certs").add(
        FileSpec(DEBIAN_BUNDLE, cas["real"].cert_pem, mode=0o664, gid=ATTACKER))
    out = run(victim, layout, servers, attack("append", DEBIAN_BUNDLE, cas["attacker"].cert_pem.decode()))
    assert_attacker_refused(out)
    assert out["second"]["get"][:2] == [None, HASHDIR]


def test_writable_grandparent_is_refused(victim, cas, servers):
    # Only Fedora's hashed directory (whatever the list's order, it is the
    # location chosen); .../extracted, two levels up, is group-writable: the
    # attacker renames pem/ away and plants pem/directory-hash/<hash>.0.
    layout = base(cas).remove(f"{EXTRACTED}/pem/tls-ca-bundle.pem").modify(
        EXTRACTED, mode=0o775, gid=ATTACKER).add(
        FileSpec(SUSE_BUNDLE, cas["real"].cert_pem))  # a safe store further down the list
    argv = attack("swap-subtree", f"{EXTRACTED}/pem", "directory-hash",
                  hashed_name(cas["attacker"].cert_pem), cas["attacker"].cert_pem.decode())
    out = run(victim, layout, servers, argv)
    assert_attacker_refused(out)
    assert out["first"]["get"] == [SUSE_BUNDLE, None]


def test_symlink_hop_in_writable_dir_is_refused(victim, cas, servers):
    # /etc/ssl/certs -> DROP/certs -> the real hashed directory; DROP is the
    # attacker group's: they repoint the middle hop after the first context.
    layout = base(cas).remove("/etc/ssl/certs").add(
        DirSpec(DROP, mode=0o775, gid=ATTACKER), (f"{DROP}/certs", HASHDIR),
        ("/etc/ssl/certs", f"{DROP}/certs"))
    argv = attack("repoint", f"{DROP}/certs", f"{DROP}/evil",
                  hashed_name(cas["attacker"].cert_pem), cas["attacker"].cert_pem.decode())
    out = run(victim, layout, servers, argv)
    assert_attacker_refused(out)
    assert out["first"]["get"] == [None, HASHDIR]


def test_hashed_entry_linking_into_writable_dir_is_refused(victim, cas, servers):
    # A root-owned hashed directory, first in the list, holding the real CA
    # and one entry that links into DROP, where the attacker writes their CA.
    real_name = hashed_name(cas["real"].cert_pem)
    evil_name = hashed_name(cas["attacker"].cert_pem)
    layout = as_dir(base(cas), "/etc/ssl/certs").add(
        FileSpec(f"/etc/ssl/certs/{real_name}", cas["real"].cert_pem),
        (f"/etc/ssl/certs/{evil_name}", f"{DROP}/ca.pem"),
        DirSpec(DROP, mode=0o775, gid=ATTACKER))
    out = run(victim, layout, servers, attack("write", f"{DROP}/ca.pem", cas["attacker"].cert_pem.decode()))
    assert_attacker_refused(out)
    assert out["first"]["get"] == [None, HASHDIR]
    verdict = {c[2]: c[3] for c in out["first"]["resolve"]["checked"]}
    assert verdict["/etc/ssl/certs"].startswith(f"unsafe: entry {evil_name}: ")


def test_unsafe_compiled_cafile_is_skipped(victim, cas, servers):
    cafile = victim["cafile"]
    layout = base(cas).remove(cafile).add(FileSpec(cafile, cas["real"].cert_pem, mode=0o666))
    out = run(victim, layout, servers, attack("append", cafile, cas["attacker"].cert_pem.decode()))
    assert_attacker_refused(out)
    assert out["second"]["resolve"]["source"] == "fallback"
    assert out["second"]["resolve"]["checked"][0][3] == f"unsafe: {cafile!r} is world-writable"


def test_unsafe_compiled_capath_is_skipped(victim, cas, servers):
    # The compiled hashed directory belongs to an ordinary user (the attacker).
    capath = victim["capath"]
    real_name = hashed_name(cas["real"].cert_pem)
    layout = as_dir(base(cas), capath, uid=ATTACKER, gid=ATTACKER).add(
        FileSpec(f"{capath}/{real_name}", cas["real"].cert_pem))
    argv = attack("write", f"{capath}/{hashed_name(cas['attacker'].cert_pem)}",
                  cas["attacker"].cert_pem.decode())
    out = run(victim, layout, servers, argv)
    assert_attacker_refused(out)
    assert out["first"]["get"] == [None, HASHDIR]


def test_junk_hash_names_do_not_suppress_the_fallback(victim, cas, servers):
    # The compiled hashed directory holds <hash>.0 names that are no certificates
    # (a broken rehash, or a CRL-only directory): the fallback must still be tried.
    capath = victim["capath"]
    layout = as_dir(base(cas), capath).add(
        FileSpec(f"{capath}/0badf00d.0", b"not a certificate\n"),
        FileSpec(f"{capath}/{hashed_name(cas['real'].cert_pem)[:8]}.r0", b"-----BEGIN X509 CRL-----\n"))
    out = run(victim, layout, servers, None)
    assert_attacker_refused(out)
    assert out["first"]["get"] == [None, HASHDIR]
    verdict = {c[2]: c[3] for c in out["first"]["resolve"]["checked"]}
    assert verdict[capath] == "no readable certificate in a <hash>.0 entry"


def test_get_and_set_agree_when_first_bundle_is_corrupt(victim, cas, servers):
    # The first usable-looking location holds a PEM marker OpenSSL cannot parse.
    corrupt = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    layout = as_dir(base(cas), "/etc/ssl/certs").add(FileSpec(DEBIAN_BUNDLE, corrupt))
    out = run(victim, layout, servers, None)
    assert_attacker_refused(out)
    assert out["first"]["get"] == [None, HASHDIR]  # asked before any context loaded it
