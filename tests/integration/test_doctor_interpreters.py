"""`pybuildssl doctor` for real: every interpreter on the machine, and broken cases.

Each case runs ``python3 -m pybuildssl doctor --python X --json`` as a user
would, with an environment the test controls (``sandbox.clean_env()``: the
host's own SSL_CERT_FILE & co. never leak in).  Cases that need another
vendor's trust store run doctor itself (host-side code and probe alike)
inside a private mount namespace laid out by ``sandbox.layout_for``.  Each
asserts the verdict and the first suggested fix, and most then *apply* that
fix and run doctor again to prove it works.

Run with ``python3 -m pytest -m integration tests/integration/test_doctor_interpreters.py``.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pybuildssl.fsutil import copy_prefix
from pybuildssl import layouts, trust
from pybuildssl.verify import sandbox, tls

from _interpreters import MINORS, namespaces, require_namespaces, source_prefix, stock_prefix  # noqa: F401

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "json-schema" / "doctor-v1.json").read_text())
RHEL_BUNDLE = "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"
RHEL_HASHDIR = "/etc/pki/ca-trust/extracted/pem/directory-hash"
SYSTEM_PYTHON = Path("/usr/bin/python3")  # Debian's own (ci/setup.sh installs python3)


def _interpreter(which: str) -> Path:
    """``system`` (Debian's /usr/bin/python3) or a stock minor's bin/python3."""
    if which == "system":
        assert SYSTEM_PYTHON.exists(), f"{SYSTEM_PYTHON} is missing: install Debian's python3"
        return SYSTEM_PYTHON
    return stock_prefix(which) / "bin" / "python3"


# ----------------------------------------------------------------- running ----

def run_doctor(python: Path, *, env: dict | None = None, layout=None, args: tuple = (),
               json_out: bool = True) -> tuple[int, dict | str]:
    argv = [sys.executable, "-m", "pybuildssl", "doctor", "--python", str(python), *args]
    if json_out:
        argv.append("--json")
    full_env = sandbox.clean_env({"PYTHONPATH": str(REPO), **(env or {})})
    if layout is None:
        proc = subprocess.run(argv, env=full_env, cwd=REPO, capture_output=True, text=True, timeout=120)
    else:
        proc = sandbox.run_in_layout(layout, argv, env=full_env, cwd=REPO, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    if not json_out:
        return proc.returncode, proc.stdout
    out = json.loads(proc.stdout)
    _validate(out)
    assert (out["verdict"]["status"] == "fail") == (proc.returncode == 1)
    return proc.returncode, out


def _validate(out: dict) -> None:
    import jsonschema
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(out))
    assert not errors, [f"{e.json_path}: {e.message}" for e in errors[:5]]


def problems(out: dict) -> dict[str, dict]:
    return {p["id"]: p for p in out["problems"]}


def first_fix(out: dict) -> list[str]:
    assert out["fixes"], out["problems"]
    return out["fixes"][0]["commands"]


# ---------------------------------------------------------------- fixtures ----

@pytest.fixture(scope="session")
def source() -> Path:
    """The prefix copied, patched and probed: PYBUILDSSL_TEST_PYTHON or the newest stock CPython."""
    return source_prefix()


@pytest.fixture
def stock(tmp_path, source) -> Path:
    """A fresh, unpatched copy (a test may patch it: that is how fixes are followed)."""
    return copy_prefix(source, tmp_path / "stock py")


@pytest.fixture(scope="session")
def patched(tmp_path_factory, source) -> Path:
    prefix = copy_prefix(source, tmp_path_factory.mktemp("patched") / "py")
    assert trust.patch_prefix(prefix).files[0].action == "patched"
    return prefix


def py(prefix: Path) -> Path:
    return prefix / "bin" / "python3"


@pytest.fixture(scope="session")
def ca():
    return tls.CA("pybuildssl doctor-test CA")


# ------------------------------------------------ every interpreter present ----

@pytest.mark.parametrize("which", ["system", *MINORS])
def test_every_interpreter(which):
    """Debian's python3 and each stock CPython (the built artifact: test_built_artifact)."""
    python = _interpreter(which)
    code, out = run_doctor(python)
    assert code == 0 and out["verdict"]["status"] == "ok" and out["verdict"]["works"]
    assert out["fixes"] == [] and out["check_url"] is None
    real = subprocess.run([str(python), "-I", "-c", "import ssl,sys; print(sys.version.split()[0]); "
                           "print(ssl.OPENSSL_VERSION); print(ssl.get_default_verify_paths().openssl_cafile)"],
                          capture_output=True, text=True, env=sandbox.clean_env()).stdout.split("\n")
    assert out["interpreter"]["version"] == real[0]
    assert out["openssl"]["version"] == real[1]
    assert out["compiled"]["cafile"] == real[2]
    assert out["compiled"]["openssldir"] == os.path.dirname(real[2])
    assert out["host"]["vendor"] == layouts.detect_vendor() and out["host"]["store"]
    assert out["patch"]["present"] is False
    assert isinstance(out["seconds"], float) and out["seconds"] >= 0  # speed: ci/bench_doctor.py, not a test


def test_patched_copy_on_this_host_keeps_the_compiled_defaults(patched):
    code, out = run_doctor(py(patched))
    assert code == 0 and out["verdict"]["status"] == "ok"
    assert out["patch"]["present"] and out["patch"]["source"] == "compiled"
    assert out["patch"]["version"] == trust.PATCH_VERSION


def test_built_artifact(built_python):
    """The session's pybuildssl build (tests/integration/conftest.py), relocated: patched, and working
    on this host and on an RHEL layout through its baked fallback."""
    code, out = run_doctor(built_python)
    assert code == 0 and out["verdict"]["works"], out["problems"]
    assert out["patch"]["present"] is True and out["patch"]["version"] == trust.PATCH_VERSION
    assert out["openssl"]["linked"] == out["openssl"]["built_against"]
    require_namespaces()
    code, out = run_doctor(built_python, layout=sandbox.layout_for("rhel"))
    assert code == 0 and out["verdict"]["works"], out["problems"]
    assert out["patch"]["source"] in ("compiled", "fallback")


def test_text_output_for_people(source):
    code, text = run_doctor(source / "bin" / "python3", json_out=False)
    assert code == 0
    assert text.splitlines()[0] == "✓ default-context HTTPS verification works"
    assert "OpenSSL's compiled defaults (OPENSSLDIR /usr/lib/ssl)" in text and "\033[" not in text


# ----------------------------------------------------------- broken cases ----

def test_openssldir_without_a_usable_store(namespaces, stock, ca):
    """Debian-built OpenSSL (OPENSSLDIR /usr/lib/ssl) on an RHEL layout; then each fix is followed."""
    layout = sandbox.layout_for("rhel", [ca.cert_pem])
    code, out = run_doctor(py(stock), layout=layout)
    assert code == 1 and out["verdict"]["status"] == "fail" and not out["verdict"]["works"]
    assert problems(out)["store.compiled"]["severity"] == "error"
    assert "/usr/lib/ssl" in problems(out)["store.compiled"]["message"]
    assert [f["commands"] for f in out["fixes"]] == [
        [f"pybuildssl patch {shlex.quote(str(stock))}"],
        [f"export SSL_CERT_FILE={RHEL_BUNDLE}"],
        ["pybuildssl build linux-x86_64-rhel"],
    ]
    assert out["host"]["store"] == RHEL_BUNDLE and out["host"]["store_vendor"] == "rhel"
    assert out["patch"]["would_use"] == RHEL_HASHDIR  # the patch prefers the hashed directory

    # fix 2: the variable
    code, out = run_doctor(py(stock), layout=layout, env={"SSL_CERT_FILE": RHEL_BUNDLE})
    assert code == 0 and out["verdict"]["works"] and "env.overrides" in problems(out)

    # fix 1: the patch
    trust.patch_prefix(stock)
    code, out = run_doctor(py(stock), layout=layout)
    assert code == 0 and out["verdict"]["status"] == "ok"
    assert out["patch"]["source"] == "fallback" and out["patch"]["capath"] == RHEL_HASHDIR
    assert out["reported"]["capath"] == RHEL_HASHDIR


def test_ssl_cert_file_pointing_at_a_missing_file(namespaces, patched, stock):
    # where the compiled capath still serves: works, with a warning and the fix
    code, out = run_doctor(py(stock), env={"SSL_CERT_FILE": "/nonexistent/ca.pem"})
    assert code == 0 and out["verdict"]["status"] == "warn"
    assert problems(out)["env.unusable"]["subject"] == "SSL_CERT_FILE"
    assert first_fix(out) == ["unset SSL_CERT_FILE"]
    # on RHEL, with a patched Python: the variable turns the fallback off, nothing works
    layout = sandbox.layout_for("rhel")
    code, out = run_doctor(py(patched), layout=layout, env={"SSL_CERT_FILE": "/nonexistent/ca.pem"})
    assert code == 1 and out["verdict"]["status"] == "fail"
    p = problems(out)["env.unusable"]
    assert p["severity"] == "error" and "missing" in p["message"]
    assert first_fix(out) == ["unset SSL_CERT_FILE"]
    assert out["fixes"][1]["commands"] == [f"export SSL_CERT_FILE={RHEL_BUNDLE}"]
    # following it
    code, out = run_doctor(py(patched), layout=layout)
    assert code == 0 and out["patch"]["source"] == "fallback"


def test_empty_hashed_directory(namespaces, stock, tmp_path):
    empty = tmp_path / "empty hashed dir"
    empty.mkdir()
    code, out = run_doctor(py(stock), env={"SSL_CERT_DIR": str(empty)})
    assert code == 0 and out["verdict"]["status"] == "warn"  # the compiled cafile still serves
    layout = sandbox.layout_for("rhel")
    code, out = run_doctor(py(stock), layout=layout, env={"SSL_CERT_DIR": str(empty)})
    assert code == 1 and not out["verdict"]["works"]
    p = problems(out)["env.unusable"]
    assert p["subject"] == "SSL_CERT_DIR" and "no readable certificate in a <hash>.0 entry" in p["message"]
    assert first_fix(out) == [f"export SSL_CERT_DIR={RHEL_HASHDIR}"]
    code, out = run_doctor(py(stock), layout=layout, env={"SSL_CERT_DIR": RHEL_HASHDIR})
    assert code == 0 and out["verdict"]["works"]


def test_world_writable_bundle(namespaces, patched, tmp_path):
    # the system store is world-writable: the patch refuses it
    layout = sandbox.layout_for("fedora").modify(RHEL_BUNDLE, mode=0o666).remove(RHEL_HASHDIR)
    code, out = run_doctor(py(patched), layout=layout)
    assert code == 1 and not out["verdict"]["works"]
    assert "world-writable" in problems(out)["store.host-unsafe"]["message"]
    assert first_fix(out) == [f"chmod o-w {RHEL_BUNDLE}"]
    assert out["host"]["unsafe_store"] == RHEL_BUNDLE
    code, out = run_doctor(py(patched), layout=layout.modify(RHEL_BUNDLE, mode=0o644))
    assert code == 0 and out["patch"]["cafile"] == RHEL_BUNDLE
    # SSL_CERT_FILE names a world-writable bundle: OpenSSL uses it anyway; doctor warns
    with tempfile.TemporaryDirectory(dir=Path.home()) as safe_dir:
        bundle = Path(safe_dir) / "ca.pem"
        shutil.copy("/etc/ssl/certs/ca-certificates.crt", bundle)
        bundle.chmod(0o666)
        code, out = run_doctor(py(patched), env={"SSL_CERT_FILE": str(bundle)})
    assert code == 0 and out["verdict"]["status"] == "warn"
    assert problems(out)["env.unsafe"]["subject"] == "SSL_CERT_FILE"
    assert first_fix(out) == [f"chmod o-w {shlex.quote(str(bundle))}"]
    # below sticky /tmp, in a directory of your own: others cannot replace it, so no warning
    with tempfile.TemporaryDirectory(dir="/tmp") as below_tmp:
        sticky = Path(below_tmp) / "ca.pem"
        shutil.copy("/etc/ssl/certs/ca-certificates.crt", sticky)
        code, out = run_doctor(py(patched), env={"SSL_CERT_FILE": str(sticky)})
    assert "env.unsafe" not in problems(out), problems(out)


def test_no_store_at_all(namespaces, patched):
    code, out = run_doctor(py(patched), layout=sandbox.layout_empty())
    assert code == 1 and "store.host-missing" in problems(out)
    assert out["fixes"][0]["id"] == "install-store" and out["fixes"][-1]["id"] == "certifi"


def test_opt_out(namespaces, patched):
    code, out = run_doctor(py(patched), layout=sandbox.layout_for("rhel"), env={trust.OPT_OUT_ENV: "1"})
    assert code == 1 and out["patch"]["source"] == "disabled"
    assert first_fix(out) == [f"unset {trust.OPT_OUT_ENV}"]


# -------------------------------------------------------------- check-url ----

def _expired_leaf(ca: tls.CA) -> tls.Leaf:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=30)).not_valid_after(now - datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            # CPython 3.13+ verifies with VERIFY_X509_STRICT: without an AKI the leaf is refused as
            # "Missing Authority Key Identifier" before its dates are looked at
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value), critical=False)
            .sign(ca.key, hashes.SHA256()))
    return tls.Leaf(cert=cert, key=key, ca_cert_pem=ca.cert_pem)


@pytest.fixture(scope="module")
def servers(ca):
    with tls.HTTPSServer(ca.issue("localhost", "127.0.0.1")) as good, \
            tls.HTTPSServer(tls.CA("not trusted").issue("localhost")) as unknown, \
            tls.HTTPSServer(ca.issue("elsewhere.test")) as wrong, \
            tls.HTTPSServer(_expired_leaf(ca)) as expired:
        yield {"good": good, "unknown": unknown, "wrong": wrong, "expired": expired}


@pytest.fixture(scope="module")
def ca_file(ca, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_bytes(ca.cert_pem)
    return str(path)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("server, outcome, code, words", [
    ("good", "verified", 0, "trusted CA"),
    ("unknown", "unknown-issuer", 1, "does not trust"),
    ("wrong", "hostname-mismatch", 1, "not for this host name"),
    ("expired", "expired", 1, "expired"),
    ("closed", "no-network", 1, "refused"),
])
def test_check_url(source, servers, ca_file, server, outcome, code, words):
    url = f"https://localhost:{_closed_port()}/" if server == "closed" else servers[server].url()
    got, out = run_doctor(source / "bin" / "python3", env={"SSL_CERT_FILE": ca_file}, args=("--check-url", url))
    assert got == code
    u = out["check_url"]
    assert u["url"] == url and u["outcome"] == outcome and u["ok"] is (code == 0)
    assert words in u["explanation"]
    if code:
        assert problems(out)["url.failed"]["subject"] == url
    if outcome == "unknown-issuer":  # SSL_CERT_FILE replaces the system store: say so first
        assert first_fix(out) == ["unset SSL_CERT_FILE"]


def test_check_url_is_explained_in_text_too(source, servers):
    code, text = run_doctor(source / "bin" / "python3", args=("--check-url", servers["unknown"].url()),
                            json_out=False)
    assert code == 1
    assert f"Check {servers['unknown'].url()}: ✗ unknown issuer" in text
    assert "update-ca-certificates" in text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-m", "integration", "-v", "-s"]))
