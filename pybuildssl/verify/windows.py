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

from .. import package, package_zip, sources, wine, winpaths
from . import checks, pe
from .report import FAIL, PASS, SKIP, Report

#: Wrapper that turns CPython's certificate-store enumeration off, then runs the probe.
_ENUMERATION_OFF = ("import runpy, ssl, sys; ssl.SSLContext._windows_cert_stores = (); "
                    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")

#: Runs inside the mount namespace (host python -I -S): a fresh prefix, then each
#: run of python.exe, one JSON object out.  argv[1]: {"wine", "prefix", "runs": [[name, argv, stdin]]}.
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
subprocess.run([server if os.path.exists(server) else "wineserver", "-k"], env=env, capture_output=True,
               stdin=subprocess.DEVNULL, timeout=60)
print(json.dumps(out))
'''

#: The modes whose OpenSSL has winstore in the default verify paths.
WINSTORE_MODES = ("winstore", "both")


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
                _check_files(t, r)
                check_pe_imports(t, r)
                checks.check_openssldir(t, r)
                check_compiled_dirs(t, r)
            mode = expect_mode or ((t.manifest or {}).get("trust") or {}).get("windows_mode")
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


def _check_files(t: checks.Target, r: Report) -> None:
    files = (t.manifest or {}).get("files")
    if files is None:
        r.add("manifest.files", SKIP, "no manifest (a plain layout)")
        return
    bad = [rel for rel, info in files.items()
           if not (t.root / rel).is_file() or sources.sha256_file(t.root / rel) != info.get("sha256")]
    extra = [rel for rel in package_zip.file_table(t.root) if rel not in files and rel != package.MANIFEST]
    problems = [f"{rel} differs from the manifest" for rel in bad[:5]] + [f"{rel} is not listed" for rel in extra[:5]]
    r.add("manifest.files", FAIL if problems else PASS,
          "; ".join(problems) if problems else f"{len(files)} files match their sha256")


def check_pe_imports(t: checks.Target, r: Report) -> None:
    """Every DLL a shipped PE file imports is shipped beside it (or in DLLs\\) or is a system DLL."""
    shipped = {p.name.lower() for p in t.root.rglob("*") if p.suffix.lower() in (".dll",)}
    missing: dict[str, list[str]] = {}
    count = 0
    for p in sorted(t.root.rglob("*")):
        if p.suffix.lower() not in (".exe", ".dll", ".pyd") or not pe.is_pe(p):
            continue
        count += 1
        try:
            info = pe.read(p)
        except pe.PEError as e:
            missing.setdefault(str(e), []).append(p.name)
            continue
        for dll in info.imports:
            if dll.lower() not in shipped and not pe.is_system_dll(dll):
                missing.setdefault(dll, []).append(p.relative_to(t.root).as_posix())
    if missing:
        r.add("pe.imports", FAIL, "; ".join(f"{dll} (needed by {', '.join(who[:3])}) is not shipped"
                                            for dll, who in sorted(missing.items())))
    else:
        r.add("pe.imports", PASS, f"{count} PE files: every imported DLL is shipped or a system DLL")


_DIR_STRING = re.compile(rb'(OPENSSLDIR|ENGINESDIR|MODULESDIR): "([^"\x00]*)"')


def compiled_dirs(libcrypto: bytes) -> dict[str, str]:
    """{"OPENSSLDIR": ..., ...} as OpenSSL_version() reports them, read from the DLL's bytes."""
    return {m.group(1).decode(): m.group(2).decode("utf-8", "replace") for m in _DIR_STRING.finditer(libcrypto)}


def check_compiled_dirs(t: checks.Target, r: Report) -> None:
    dll = next((p for p in t.root.rglob("*") if re.fullmatch(r"libcrypto-3(-x64)?\.dll", p.name.lower())), None)
    if dll is None:
        r.add("openssl.compiled-dirs", FAIL, "no libcrypto-3.dll in the artifact")
        return
    found = compiled_dirs(dll.read_bytes())
    want = ("OPENSSLDIR", "ENGINESDIR", "MODULESDIR")
    problems = [f"{k} not found in {dll.name}" for k in want if k not in found]
    problems += [f"{k} {found[k]} {why}" for k in want if k in found
                 for why in [winpaths.openssldir_problem(found[k])] if why]
    r.add("openssl.compiled-dirs", FAIL if problems else PASS,
          "; ".join(problems) if problems else
          "administrator-only (CVE-2019-1552): " + ", ".join(f"{k} {found[k]}" for k in want))


# ---------------------------------------------------------------- running ---

RUN_IDS = ("python.starts", "python.prefix", "ssl.import", "ssl.version", "trust.patch",
           "tls.trusted", "tls.unknown-ca", "tls.wrong-host", "tls.winstore")


def _check_running(t: checks.Target, r: Report, mode: str | None, expect_openssl: str | None,
                   workdir: Path, progress: Callable[[str], None]) -> None:
    from . import sandbox

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
        checks._host_findings(r, "Windows ROOT", own, own["handshakes"])
        _check_winstore(off, mode, r)


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
    want = expect or (t.manifest or {}).get("openssl", {}).get("version")
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
    from . import sandbox

    probe = workdir / "probe.py"  # a path Wine can read inside the namespace
    shutil.copyfile(checks.PROBE, probe)
    # Own mode: what users call (load_default_certs() enumerates the stores).  Enumeration
    # off: every client, set_default_verify_paths() (pip's and truststore's call) included.
    def request(clients: tuple[str, ...]) -> str:
        return json.dumps({"block": None, "locations": [], "modules": ["ssl", "hashlib", "ctypes", "sqlite3"],
                           "handshakes": world.handshakes(clients)})

    exe, script = str(t.root / "python.exe"), wine.windows_path(probe)
    runs = [["own-mode", [exe, "-I", "-B", script], request(("urllib", "http.client"))],
            ["enumeration-off", [exe, "-I", "-B", "-c", _ENUMERATION_OFF, script],
             request(("urllib", "http.client", "set_default_verify_paths"))]]
    spec = json.dumps({"wine": wine.command(), "prefix": str(workdir / "wineprefix"), "runs": runs})
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


def _check_winstore(off: dict, mode: str | None, r: Report) -> None:
    """With enumeration off, only OpenSSL's winstore (default verify paths) can trust the ROOT CA."""
    hs = {h["id"]: h for h in off.get("handshakes", [])}
    trusted = [h for k, h in hs.items() if k.startswith("trusted/")]
    ok = bool(trusted) and all(h.get("ok") for h in trusted)
    refused = not any(h.get("ok") for k, h in hs.items() if not k.startswith("trusted/"))
    detail = "; ".join(f"{h['client']}: {'trusted' if h.get('ok') else h.get('error')}" for h in trusted)
    if mode in WINSTORE_MODES or mode is None:
        r.add("tls.winstore", PASS if ok and refused else FAIL,
              ("with enumeration off, OpenSSL's winstore trusts the ROOT-store CA (" + detail + ")")
              if ok and refused else f"with enumeration off the ROOT-store CA is not trusted: {detail}"[:400],
              handshakes=list(hs.values()))
    else:
        r.add("tls.winstore", PASS if not ok else FAIL,
              f"mode {mode!r}: with enumeration off nothing trusts the CA, as expected" if not ok else
              f"mode {mode!r} has no winstore, yet enumeration off still trusts the CA: {detail}",
              handshakes=list(hs.values()))
