"""A free-threaded interpreter, built for real (CPython 3.13.15t: the free-threaded line this
machine can obtain; 3.14t and 3.15t share its layout and its ``--disable-gil``), fast profile.

The trust patch's one shared object is its decision cache (tests/unit/test_trust_runtime.py
checks its shape).  Here the shipped ``ssl`` runs with the GIL really off: threads create
default contexts at once (each one runs the patch's decision), with the vendor location
changing under them, and every answer must be whole and the last one must stand.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import textwrap
from pathlib import Path

import pytest

from _helpers import MOVED, clean_env, py, run_cli, uv, uv_environment
from pybuildssl import archive, package, relocate
from pybuildssl.verify import tls

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def freethreaded(source_sets, tmp_path_factory) -> tuple[Path, dict, dict]:
    """(interpreter in a moved prefix, manifest, build --json output)."""
    dist = tmp_path_factory.mktemp("ft-dist")
    r = run_cli("build", "--dist", str(dist), "--json", *source_sets, "--set", "cpython.free_threaded=true")
    assert r.returncode == 0 and r.stdout.strip().startswith("{"), f"build failed ({r.returncode}):\n{r.stderr[-4000:]}"
    out = json.loads(r.stdout)
    artifact = Path(out["artifact"])
    prefix = archive.extract(artifact, tmp_path_factory.mktemp("ft") / MOVED, strip_top=True)
    return relocate.interpreter(prefix), package.read_manifest(artifact), out


def test_the_build_is_free_threaded_and_verifies(freethreaded):
    python, manifest, out = freethreaded
    assert out["verify"]["verdict"] == "pass", json.dumps(
        [f for f in out["verify"]["findings"] if f["status"] == "fail"], indent=1)
    assert "-freethreaded-install_only" in Path(out["artifact"]).name
    assert python.name == "python3.13t" and python.parent.parent.joinpath("lib", "python3.13t", "ssl.py").is_file()
    assert manifest["recipe"]["resolved"]["cpython"]["free_threaded"] is True
    r = py(python, "import sys, sysconfig, ssl; print(sysconfig.get_config_var('Py_GIL_DISABLED'), "
                   "sys._is_gil_enabled(), ssl.OPENSSL_VERSION)")
    assert r.returncode == 0, r.stderr
    flag, gil, version = r.stdout.split(" ", 2)
    # importing ssl (_ssl, _hashlib, with the recipe's OpenSSL) left the GIL off
    assert (flag, gil) == ("1", "False") and version.startswith(f"OpenSSL {manifest['openssl']['version']}")


RACE = textwrap.dedent("""
    import json, os, shutil, ssl, sys, threading, time
    gil_at_start = sys._is_gil_enabled()
    cafile = ssl.get_default_verify_paths().openssl_cafile  # compiled in: OPENSSLDIR/cert.pem
    n_threads = 8
    answers, errors = [[] for _ in range(n_threads)], []
    start, done = threading.Barrier(n_threads + 1), threading.Event()

    def worker(i):
        try:
            start.wait()
            while not done.is_set():
                answers[i].append(ssl.create_default_context().cert_store_stats()["x509_ca"])
        except BaseException as e:
            errors.append(repr(e))
            done.set()

    def count():
        return [len(a) for a in answers]

    def wait_until(test):
        deadline = time.monotonic() + 120
        while not test() and time.monotonic() < deadline and not errors:
            time.sleep(0.001)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    start.wait()
    # the location changes while the threads decide: a bundle of one CA, then of two
    wait_until(lambda: min(count()) >= 20)
    shutil.copy(sys.argv[1], cafile + ".new")
    os.replace(cafile + ".new", cafile)
    at_swap = count()
    wait_until(lambda: all(n >= m + 20 for n, m in zip(count(), at_swap)))
    done.set()
    for t in threads:
        t.join()
    print(json.dumps({"gil": [gil_at_start, sys._is_gil_enabled()], "errors": errors[:3],
                      "answers": answers, "at_swap": at_swap,
                      "last": ssl.create_default_context().cert_store_stats()["x509_ca"],
                      "paths": list(ssl.get_default_verify_paths())}))
""")



def test_threads_racing_on_the_patch_without_the_gil_agree(freethreaded, tmp_path):
    """In a private mount namespace, OPENSSLDIR (/etc/ssl) is a fresh tmpfs whose cert.pem holds
    one CA; while eight threads create default contexts (each one runs the patch's decision on
    the location, through its shared cache), cert.pem is replaced by a bundle of two."""
    if os.geteuid() != 0:
        pytest.skip("environment gate: not root (a private mount namespace over /etc/ssl needs root)")
    python, manifest, _ = freethreaded
    assert manifest["openssl"]["openssldir"] == "/etc/ssl"
    one, two = tmp_path / "one.pem", tmp_path / "two.pem"
    first = tls.CA("race CA one").cert_pem
    one.write_bytes(first)
    two.write_bytes(first + tls.CA("race CA two").cert_pem)
    setup = (f"mount -t tmpfs -o mode=0755 pybuildssl-race /etc/ssl && cp {shlex.quote(str(one))} /etc/ssl/cert.pem "
             '&& exec "$@"')
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", setup, "race",
                        str(python), "-I", "-c", RACE, str(two)],
                       capture_output=True, text=True, env=clean_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    assert out["gil"] == [False, False], out["gil"]  # off from the start, and ssl's modules left it off
    assert not out["errors"], out["errors"]
    for per, at_swap in zip(out["answers"], out["at_swap"]):
        # each thread's answers, in order: the old bundle's (1 CA) before the change, the new
        # one's (2) for every context begun after it, nothing torn, no stale decision after
        assert len(per) >= at_swap + 20 and set(per[:20]) == {1} and set(per[at_swap + 1:]) == {2}, per
        assert per == sorted(per), per
    assert out["last"] == 2 and out["paths"][0] == "/etc/ssl/cert.pem", out  # the compiled-in file


def test_uv_installs_it_as_the_freethreaded_variant_beside_the_default(freethreaded, artifact, tmp_path):
    """One dist with both builds of 3.13.15: publish-index lists each under uv's key, and real uv
    installs the one asked for with `3.13+freethreaded`, which runs with the GIL off."""
    import shutil

    _, manifest, out = freethreaded
    dist = tmp_path / "dist"
    dist.mkdir()
    for a in (Path(out["artifact"]), artifact):
        shutil.copyfile(a, dist / a.name)
    r = run_cli("publish-index", "--dist", str(dist))
    assert r.returncode == 0, r.stderr
    listing = json.loads((dist / "python-downloads.json").read_text())
    version = manifest["cpython"]["version"]
    assert sorted(listing) == [f"cpython-{version}+freethreaded-linux-x86_64-gnu", f"cpython-{version}-linux-x86_64-gnu"]
    env = dict(uv_environment(tmp_path / "uv"), UV_PYTHON_DOWNLOADS_JSON_URL=(dist / "python-downloads.json").as_uri())
    uv(env, "python", "install", "3.13+freethreaded")
    found = uv(env, "python", "find", "--managed-python", "3.13+freethreaded").stdout.strip()
    r = py(Path(found), "import sys, ssl; print(sys._is_gil_enabled(), ssl.OPENSSL_VERSION.split()[1])")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", manifest["openssl"]["version"]]
