"""``pybuildssl verify`` for Windows artifacts: PE checks anywhere, the rest under Wine on Linux.

What is proven (check ids in brackets):

* the zip is safe and its manifest comes first [archive.*], every file is as
  the manifest lists it [manifest.files];
* needing no Windows: every DLL an extension module or DLL imports is shipped
  or is a system DLL [pe.imports]; OPENSSLDIR, ENGINESDIR and MODULESDIR as
  compiled into libcrypto are administrator-only paths, CVE-2019-1552
  [openssl.openssldir, openssl.compiled-dirs];
* under Wine (a fresh WINEPREFIX made inside a private mount namespace whose
  Debian CA bundle also holds a test CA: Wine's crypt32 imports that bundle
  into the Windows ROOT store, and nothing on this machine changes): python
  starts from a moved path whose name holds a space and non-ASCII letters
  [python.starts, python.prefix], ``ssl`` reports the manifest's OpenSSL
  [ssl.import, ssl.version], the trust mode is the manifest's [trust.patch],
  real handshakes in the artifact's own mode: ROOT-store CA trusted, unknown
  CA and wrong host refused [tls.trusted, tls.unknown-ca, tls.wrong-host];
  and again with CPython's store enumeration off
  (``SSLContext._windows_cert_stores = ()``): only OpenSSL's winstore can
  then find the CA [tls.winstore].

The probe is verify's own (probe.py, stdlib only), run by the artifact's
``python.exe``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable

from .. import package, package_zip, probing, wine
from . import checks, sandbox
from .checks.tls import _host_findings
from .checks.windows import WINSTORE_MODES, check_compiled_dirs, check_files, check_pe_imports, check_winstore
from .report import FAIL, PASS, SKIP, Report

#: Wrapper that turns CPython's certificate-store enumeration off, then runs the probe.
_ENUMERATION_OFF = ("import runpy, ssl, sys; ssl.SSLContext._windows_cert_stores = (); "
                    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")

#: Runs inside the mount namespace (host python -I -S): a fresh prefix, then each
#: run of python.exe, one JSON object out.  argv[1]: {"wine", "prefix", "runs": [[name, argv, stdin]], "stop"}.
DRIVER = r'''
import json, os, subprocess, sys, time
spec = json.loads(sys.argv[1])
env = dict(os.environ, WINEPREFIX=spec["prefix"], WINEDEBUG="-all", WINEARCH="win64",
           WINEDLLOVERRIDES="mscoree,mshtml=")
out = {"runs": {}}
t = time.monotonic()
r = subprocess.run(spec["wine"] + ["wineboot", "-i"], env=env, capture_output=True, text=True,
                   stdin=subprocess.DEVNULL, timeout=600)
out["wineboot"] = {"rc": r.returncode, "seconds": round(time.monotonic() - t, 2), "stderr": r.stderr[-1500:]}
if r.returncode == 0:
    for name, argv, data in spec["runs"]:
        t = time.monotonic()
        try:
            p = subprocess.run(spec["wine"] + argv, env=env, input=data, capture_output=True, text=True,
                               timeout=300)
            out["runs"][name] = {"rc": p.returncode, "stdout": p.stdout[-200000:], "stderr": p.stderr[-3000:],
                                 "seconds": round(time.monotonic() - t, 2)}
        except subprocess.TimeoutExpired as e:
            out["runs"][name] = {"rc": 124, "stdout": "", "stderr": "timed out: %s" % e, "seconds": 300}
server = os.path.join(os.path.dirname(spec["wine"][0]), "wineserver")
for stop in spec["stop"]:  # kill, then wait until it has exited (wine.STOP)
    subprocess.run([server if os.path.exists(server) else "wineserver", *stop], env=env, capture_output=True,
                   stdin=subprocess.DEVNULL, timeout=60)
print(json.dumps(out))
'''


def is_windows_input(path: Path) -> bool:
    """A Windows artifact (zip) or layout (a directory with python.exe)."""
    path = Path(path)
    if path.is_dir():
        return (path / "python.exe").is_file()
    return path.is_file() and zipfile.is_zipfile(path)


def verify(path: Path, *, expect_openssl: str | None = None, expect_mode: str | None = None,
           keep: bool = False, progress: Callable[[str], None] = lambda s: None,
           workdir_parent: str | None = None) -> Report:
    """Every check of the module docstring; ``expect_mode`` overrides the manifest's trust mode."""
    from . import RELOCATED_NAME

    start = time.monotonic()
    r = Report(target=str(path))
    workdir = Path(tempfile.mkdtemp(prefix="pybuildssl verify ", dir=workdir_parent))
    try:
        progress("extracting")
        t = _prepare(Path(path), workdir / RELOCATED_NAME, r)
        if t is not None:
            with checks.timing(r):
                check_files(t, r)
                check_pe_imports(t, r)
                checks.check_openssldir(t, r)
                check_compiled_dirs(t, r)
            mode = expect_mode or (t.manifest.trust.windows_mode if t.manifest else None)
            _check_running(t, r, mode, expect_openssl, workdir, progress)
    finally:
        if keep:
            r.facts["workdir"] = str(workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    r.seconds = time.monotonic() - start
    return r


# ------------------------------------------------------------------ files ---

def _prepare(path: Path, dest: Path, r: Report) -> checks.Target | None:
    with checks.timing(r):
        if path.is_dir():
            shutil.copytree(path, dest)
            r.add("archive.extract", SKIP, f"a directory was given; copied to {dest}")
            members: list = []
        else:
            try:
                members = package_zip.extract(path, dest)
            except (ValueError, zipfile.BadZipFile, OSError) as e:
                r.add("archive.extract", FAIL, f"refused: {e}")
                return None
            r.add("archive.extract", PASS, f"{len(members)} members extracted safely into {dest}")
            first = members[0] if members else ""
            ok = first == f"{package.TOP}/{package.MANIFEST}"
            r.add("archive.manifest-first", PASS if ok else FAIL,
                  f"first member is {first}" + ("" if ok else f", expected {package.TOP}/{package.MANIFEST}"))
        manifest = None
        mfile = dest / package.MANIFEST
        if mfile.is_file():
            try:
                manifest = json.loads(mfile.read_text())
            except ValueError as e:
                r.add("manifest.files", FAIL, f"PYBUILDSSL.json is not JSON: {e}")
                return None
    return checks.Target(input=path, root=dest, manifest=manifest, os="windows")


# ---------------------------------------------------------------- running ---

RUN_IDS = ("python.starts", "python.prefix", "ssl.import", "ssl.version", "trust.patch",
           "tls.trusted", "tls.unknown-ca", "tls.wrong-host", "tls.winstore")


def _check_running(t: checks.Target, r: Report, mode: str | None, expect_openssl: str | None,
                   workdir: Path, progress: Callable[[str], None]) -> None:
    if sys.platform == "win32":  # natively: the same runs without Wine (not tested here)
        why = "native Windows runs are not implemented yet: run it under Wine on Linux"
    elif not wine.available():
        why = f"Wine is not installed (apt-get install {wine.PACKAGES})"
    else:
        try:
            sandbox.check_available()
            why = ""
        except sandbox.SandboxUnavailable as e:
            why = f"mount namespaces unavailable: {e.reason}"
    if why:
        for cid in RUN_IDS:
            r.add(cid, SKIP, why)
        return
    progress("under Wine: python, ssl and handshakes")
    with checks.tls_world() as world, checks.timing(r):
        facts, error, seconds = _run_under_wine(t, world, workdir)
        r.facts["wine_seconds"] = seconds
        if facts is None:
            for cid in RUN_IDS:
                r.add(cid, FAIL, error)
            return
        own, off = facts
        r.facts["probe"] = own
        _check_python(t, own, r)
        if not _check_ssl(t, own, r, expect_openssl):
            for cid in RUN_IDS[4:]:
                r.add(cid, SKIP, "ssl does not import")
            return
        _check_mode(own, mode, r)
        _host_findings(r, "Windows ROOT", own, own["handshakes"])
        check_winstore(off, mode, r)


def _check_python(t: checks.Target, facts: dict, r: Report) -> None:
    py = facts["python"]
    r.add("python.starts", PASS, f"Python {py['version']} runs from {t.root} (under Wine)")
    root = wine.windows_path(t.root).lower()
    outside = [f"sys.{k}={py[k]}" for k in ("prefix", "base_prefix", "exec_prefix")
               if str(py[k]).rstrip("\\").lower() != root]
    outside += [f"sysconfig {k}={v}" for k, v in py["paths"].items() if v and not str(v).lower().startswith(root)]
    r.add("python.prefix", FAIL if outside else PASS,
          ("paths outside the new location: " + "; ".join(outside[:4])) if outside
          else f"sys.prefix and sysconfig paths follow the new location {py['prefix']}")


def _check_ssl(t: checks.Target, facts: dict, r: Report, expect: str | None) -> bool:
    s = facts["ssl"]
    if not s.get("ok"):
        r.add("ssl.import", FAIL, f"import ssl failed: {s.get('error')}")
        return False
    r.add("ssl.import", PASS, f"{s['OPENSSL_VERSION']} ({s.get('module_file')})")
    have = ".".join(map(str, checks.openssl_version(s["OPENSSL_VERSION_INFO"])))
    want = expect or (t.manifest.openssl.version if t.manifest else None)
    problems = []
    if checks.openssl_version(s["OPENSSL_VERSION_INFO"]) < (3, 2, 0):
        problems.append(f"OpenSSL {have} is older than 3.2 (no winstore)")
    if want and have != want:
        problems.append(f"linked OpenSSL is {have}, expected {want}")
    # _ssl.pyd built against another 3.x is fine: OpenSSL 3's ABI is stable across 3.x.
    built = s.get("built_against")
    note = f" (_ssl.pyd was built against {'.'.join(map(str, checks.openssl_version(built)))})" if built else ""
    r.add("ssl.version", FAIL if problems else PASS,
          "; ".join(problems) if problems else f"OpenSSL {have}" + (" as the manifest says" if want else "") + note)
    return True


def _run_under_wine(t: checks.Target, world, workdir: Path) -> tuple[tuple[dict, dict] | None, str, dict]:
    probe = workdir / "probe.py"  # a path Wine can read inside the namespace
    shutil.copyfile(probing.PROBE, probe)
    # Own mode: what users call (load_default_certs() enumerates the stores).  Enumeration
    # off: every client, set_default_verify_paths() (pip's and truststore's call) included.
    def request(clients: tuple[str, ...]) -> str:
        return json.dumps({"block": None, "locations": [], "modules": ["ssl", "hashlib", "ctypes", "sqlite3"],
                           "handshakes": world.handshakes(clients)})

    exe, script = str(t.root / "python.exe"), wine.windows_path(probe)
    runs = [["own-mode", [exe, "-I", "-B", script], request(("urllib", "http.client"))],
            ["enumeration-off", [exe, "-I", "-B", "-c", _ENUMERATION_OFF, script],
             request(("urllib", "http.client", "set_default_verify_paths"))]]
    spec = json.dumps({"wine": wine.command(), "prefix": str(workdir / "wineprefix"), "runs": runs,
                       "stop": wine.STOP})
    layout = sandbox.layout_for("debian", [world.ca.cert_pem])
    start = time.monotonic()
    try:
        proc = sandbox.run_in_layout(layout, [sys.executable, "-I", "-S", "-c", DRIVER, spec],
                                     env=wine.env(workdir / "wineprefix", sandbox.clean_env()), timeout=900)
    except (sandbox.SandboxUnavailable, subprocess.SubprocessError, OSError) as e:
        return None, f"Wine could not run in a mount namespace: {e}", {}
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return None, f"the Wine driver failed (exit {proc.returncode}): {(proc.stderr or proc.stdout)[-600:]}", {}
    seconds = {"wineboot": data["wineboot"]["seconds"], "total": round(time.monotonic() - start, 2)}
    if data["wineboot"]["rc"] != 0:
        return None, f"wineboot failed: {data['wineboot']['stderr'][-600:]}", seconds
    out = []
    for name, _, _ in runs:
        run = data["runs"][name]
        seconds[name] = run["seconds"]
        try:
            out.append(json.loads(run["stdout"].strip().splitlines()[-1]))
        except (IndexError, ValueError):
            return None, (f"python.exe did not run the probe ({name}, exit {run['rc']}): "
                          f"{(run['stderr'] or run['stdout']).strip()[-600:]}"), seconds
    return (out[0], out[1]), "", seconds


def _check_mode(facts: dict, mode: str | None, r: Report) -> None:
    ssl = facts.get("ssl", {})
    res = ssl.get("resolve") or {}
    if not ssl.get("patched"):
        r.add("trust.patch", FAIL if mode else SKIP, "ssl is not patched (no _pybuildssl_resolve)"
              if mode else "no manifest and no patch: stock ssl")
    elif mode and res.get("windows_mode") != mode:
        r.add("trust.patch", FAIL, f"ssl says windows_mode {res.get('windows_mode')!r}, the manifest {mode!r}")
    else:
        r.add("trust.patch", PASS, f"ssl patched, windows_mode {res.get('windows_mode')!r} "
                                   f"(patch version {ssl.get('patch_version')})")
