"""uv installs the artifact unchanged, through the downloads list `publish-index` writes.

Real uv from PyPI (the ``uv`` test dependency), no network: the list and the
archive are file:// URLs, uv's cache, install and bin directories are private
temp directories, and its configuration files are ignored.  Then, from the
uv-installed interpreter: a venv, a local wheel installed with ``uv pip``,
HTTPS in an RHEL layout to a loopback server whose CA is only in that
layout's store (trusted) and to an unknown CA (refused), `pybuildssl verify`
on the uv-installed tree, and sysconfig/python3-config paths both there and
in a tree unpacked by hand and moved.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from pybuildssl import package, relocate
from pybuildssl.verify import sandbox, tls
from pybuildssl.verify.sandbox import clean_env

from _helpers import py, run_cli, uv, uv_environment

pytestmark = pytest.mark.integration

CLIENT = r"""
import sys
import ssl  # first use of OpenSSL in this process
import json, urllib.request
try:
    body = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
    print(json.dumps({"ok": True, "body": body}))
except Exception as e:
    print(json.dumps({"ok": False, "error": "%s: %s" % (type(e).__name__, getattr(e, "reason", e))}))
"""

PATHS = ("import json, sysconfig; print(json.dumps({k: sysconfig.get_config_var(k) "
         "for k in ('prefix', 'LIBDIR', 'INCLUDEPY', 'LIBPL', 'BINDIR')}))")


def make_wheel(dest: Path, name: str = "pybuildssl_uv_demo", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel (PEP 427), written by hand: no build backend needed offline."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"ANSWER = 42\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: pybuildssl-test\nRoot-Is-Purelib: true\n"
                              b"Tag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
    return wheel


@pytest.fixture(scope="module")
def uv_env(tmp_path_factory) -> dict:
    return uv_environment(tmp_path_factory.mktemp("uv"))


@pytest.fixture(scope="module")
def published(artifact, tmp_path_factory) -> dict:
    """The artifact in a dist directory of its own, with what `publish-index` writes beside it."""
    dist = tmp_path_factory.mktemp("dist")
    copy = dist / artifact.name
    shutil.copyfile(artifact, copy)
    r = run_cli("publish-index", "--dist", str(dist))
    assert r.returncode == 0, r.stderr
    listing = json.loads((dist / "python-downloads.json").read_text())
    return {"dist": dist, "archive": copy, "list": listing}


@pytest.fixture(scope="module")
def installed(published, uv_env, manifest) -> dict:
    """`uv python install` of the artifact through the generated list."""
    (key,) = published["list"]
    env = dict(uv_env, UV_PYTHON_DOWNLOADS_JSON_URL=(published["dist"] / "python-downloads.json").as_uri())
    start = time.monotonic()
    r = uv(env, "python", "install", key)
    seconds = time.monotonic() - start
    version = uv(env, "--version").stdout.strip()
    print(f"\n{version}: `uv python install {key}` took {seconds:.2f} s")
    (prefix,) = [p for p in Path(env["UV_PYTHON_INSTALL_DIR"]).iterdir() if p.name.startswith(key)]
    return {"key": key, "prefix": prefix, "python": prefix / manifest["cpython"]["interpreter"],
            "env": env, "stderr": r.stderr, "seconds": seconds}


def test_build_wrote_the_list_sums_and_sbom_beside_the_artifact(build_result):
    if os.environ.get("PYBUILDSSL_TEST_ARTIFACT"):
        pytest.skip("PYBUILDSSL_TEST_ARTIFACT given: no build ran (CI never sets it)")
    dist = Path(build_result["artifact"]).parent
    name = Path(build_result["artifact"]).name
    assert (dist / (name + ".cdx.json")).is_file() and (dist / "python-downloads.json").is_file()
    sums = dict(line.split("  ")[::-1] for line in (dist / "SHA256SUMS").read_text().splitlines())
    assert sums[name] == hashlib.sha256((dist / name).read_bytes()).hexdigest()


def test_the_published_sbom_is_valid_cyclonedx_and_complete(published, manifest):
    from pybuildssl import sbom

    doc = json.loads((published["dist"] / (published["archive"].name + sbom.SUFFIX)).read_text())
    errors = list(sbom.schema_validator().iter_errors(doc))
    assert not errors, errors[0]
    names = {c["name"] for c in doc["components"]}
    assert {"cpython", "openssl", "pybuildssl ssl trust patch", *(c["name"] for c in manifest["components"])} <= names
    for c in doc["components"]:
        assert c["hashes"][0]["alg"] == "SHA-256" and len(c["hashes"][0]["content"]) == 64
        if c["type"] != "file":
            assert c["version"] and c["licenses"] and c["externalReferences"][0]["url"].startswith("https://")
    print(f"\nSBOM: {len(doc['components'])} components")


def test_published_list_and_names_follow_uv_and_python_build_standalone(published, manifest):
    (key, entry), = published["list"].items()
    assert key == f"cpython-{manifest['cpython']['version']}-linux-x86_64-gnu"
    assert entry["sha256"] == hashlib.sha256(published["archive"].read_bytes()).hexdigest()
    assert entry["url"] == published["archive"].resolve().as_uri()
    name = published["archive"].name
    assert name.startswith(f"cpython-{manifest['cpython']['version']}+openssl") and \
        name.endswith("-x86_64-unknown-linux-gnu-install_only.tar.gz")
    assert package.read_manifest(published["archive"])  # python/ top directory, manifest first


def test_uv_installs_it_and_rewrites_sysconfigdata_as_data(installed):
    prefix = installed["prefix"]
    (data,) = prefix.glob("lib/python3.*/_sysconfigdata_*.py")
    values = relocate.check_sysconfigdata(data.read_text())  # still a literal after uv's rewrite
    assert values["PYTHON_BUILD_STANDALONE"] == 1  # uv parsed it and wrote it back
    assert values["LIBDIR"] == f"{prefix}/lib" and values["prefix"] == str(prefix)
    r = py(installed["python"], PATHS)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["LIBDIR"] == f"{prefix}/lib" and got["INCLUDEPY"].startswith(f"{prefix}/include/python3.")
    assert got["prefix"] == str(prefix)


def _config_ldflags(prefix: Path) -> str:
    (cfg,) = [p for p in (prefix / "bin").glob("python3.*-config") if p.is_file()]
    r = subprocess.run(["sh", str(cfg), "--ldflags"], capture_output=True, text=True, env=clean_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_python_config_points_inside_the_install_after_uv(installed):
    prefix = os.path.realpath(installed["prefix"])
    assert f"-L{prefix}/lib" in _config_ldflags(installed["prefix"])


def test_a_plain_move_reports_its_own_paths(moved_prefix, built_python):
    (data,) = moved_prefix.glob("lib/python3.*/_sysconfigdata_*.py")
    assert relocate.check_sysconfigdata(data.read_text())["LIBDIR"] == relocate.SYSCONFIG_PLACEHOLDER + "/lib"
    r = py(built_python, PATHS)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["LIBDIR"] == f"{moved_prefix}/lib" and got["INCLUDEPY"].startswith(f"{moved_prefix}/include/python3.")
    assert f"-L{os.path.realpath(moved_prefix)}/lib" in _config_ldflags(moved_prefix)


def test_uv_venv_and_pip_install_of_a_local_wheel(installed, tmp_path):
    env = dict(installed["env"], UV_OFFLINE="1")
    venv = tmp_path / "venv"
    uv(env, "venv", "-p", str(installed["python"]), str(venv))
    wheels = tmp_path / "wheels"
    make_wheel(wheels)
    uv(env, "pip", "install", "--python", str(venv / "bin" / "python"), "--no-index", "--find-links", str(wheels),
       "pybuildssl_uv_demo")
    r = py(venv / "bin" / "python", "import sys, pybuildssl_uv_demo as d; print(d.ANSWER, sys.base_prefix)")
    assert r.returncode == 0, r.stderr
    answer, base = r.stdout.split()
    assert answer == "42" and os.path.realpath(base) == os.path.realpath(installed["prefix"])


@pytest.fixture(scope="module")
def ca():
    return tls.CA("pybuildssl uv test CA")


def fetch(python: Path, layout, url: str) -> dict:
    r = sandbox.run_in_layout(layout, [str(python), "-I", "-c", CLIENT, url], env=clean_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_uv_installed_python_trusts_the_rhel_store_and_nothing_else(installed, ca):
    other = tls.CA("someone else's CA")
    layout = sandbox.layout_for("rhel", [ca.cert_pem])
    with tls.HTTPSServer(ca.issue("localhost", "127.0.0.1")) as good, tls.HTTPSServer(other.issue("localhost")) as bad:
        ok = fetch(installed["python"], layout, good.url())
        assert ok["ok"] and ok["body"] == tls.OK_BODY.decode(), ok
        refused = fetch(installed["python"], layout, bad.url())
        assert not refused["ok"] and "CERTIFICATE_VERIFY_FAILED" in refused["error"], refused


def test_pybuildssl_verify_passes_on_the_uv_installed_tree(installed):
    r = run_cli("verify", str(installed["prefix"]), "--json", timeout=900)
    report = json.loads(r.stdout)
    failed = [f for f in report["findings"] if f["status"] == "fail"]
    assert r.returncode == 0 and not failed, failed
    tree = [f for f in report["findings"] if f["id"] == "manifest.tree"][0]
    assert "installer" in tree["detail"]  # uv's changes were seen, and accepted as what they are


def test_verify_refuses_bytecode_that_is_not_the_rewritten_source(installed, published, tmp_path):
    """A pyc that claims the rewritten source's hash but carries other code is caught."""
    from pybuildssl.verify import checks
    from pybuildssl.verify.report import FAIL, PASS, Report

    root = tmp_path / "copy"
    shutil.copytree(installed["prefix"], root, symlinks=True)
    t = checks.Target(input=root, root=root, manifest=package.read_manifest(published["archive"]))
    r = Report(target=str(root))
    checks.check_manifest(t, r)
    assert r.findings[-1].status == PASS, r.findings[-1]
    (pyc,) = [p for p in root.glob("lib/python3.*/__pycache__/_sysconfigdata_*.pyc") if ".opt-" not in p.name]
    header = pyc.read_bytes()[:16]
    evil = ("import marshal; print(marshal.dumps(compile(\"import os\\nbuild_time_vars = {}\\n\", 'x', 'exec')).hex())")
    out = py(t.interpreter, evil)
    assert out.returncode == 0, out.stderr
    pyc.write_bytes(header + bytes.fromhex(out.stdout.strip()))
    r = Report(target=str(root))
    checks.check_manifest(t, r)
    f = r.findings[-1]
    assert f.status == FAIL and any(pyc.name in p for p in f.data["problems"]), f
