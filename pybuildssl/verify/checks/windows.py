"""Windows checks that need no Windows, and the verdict on winstore (run by verify/windows.py).

``manifest.files``: every file is as the manifest lists it; ``pe.imports``:
every DLL a shipped .exe/.dll/.pyd imports is shipped or a system DLL;
``openssl.compiled-dirs``: OPENSSLDIR, ENGINESDIR and MODULESDIR compiled into
libcrypto are administrator-only (CVE-2019-1552); ``tls.winstore``: with
CPython's store enumeration off, OpenSSL's winstore alone trusts a CA that only
the Windows ROOT store holds (and does not, in mode "enumeration").
"""

from __future__ import annotations

import re

from ... import hashing, package, package_zip, targets
from .. import pe
from ..registry import Check
from ..report import FAIL, PASS, SKIP, Report
from ..target import Target

#: The modes whose OpenSSL has winstore in the default verify paths.
WINSTORE_MODES = ("winstore", "both")


def check_files(t: Target, r: Report) -> None:
    files = t.manifest.files if t.manifest else None
    if files is None:
        r.add("manifest.files", SKIP, "no manifest (a plain layout)")
        return
    bad = [rel for rel, info in files.items()
           if not (t.root / rel).is_file() or hashing.sha256_file(t.root / rel) != info.get("sha256")]
    extra = [rel for rel in package_zip.file_table(t.root) if rel not in files and rel != package.MANIFEST]
    problems = [f"{rel} differs from the manifest" for rel in bad[:5]] + [f"{rel} is not listed" for rel in extra[:5]]
    r.add("manifest.files", FAIL if problems else PASS,
          "; ".join(problems) if problems else f"{len(files)} files match their sha256")


def check_pe_imports(t: Target, r: Report) -> None:
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


def check_compiled_dirs(t: Target, r: Report) -> None:
    dll = next((p for p in t.root.rglob("*") if re.fullmatch(r"libcrypto-3(-x64)?\.dll", p.name.lower())), None)
    if dll is None:
        r.add("openssl.compiled-dirs", FAIL, "no libcrypto-3.dll in the artifact")
        return
    found = compiled_dirs(dll.read_bytes())
    want = ("OPENSSLDIR", "ENGINESDIR", "MODULESDIR")
    problems = [f"{k} not found in {dll.name}" for k in want if k not in found]
    problems += [f"{k} {found[k]} {why}" for k in want if k in found
                 for why in [targets.windows_openssldir_problem(found[k])] if why]
    r.add("openssl.compiled-dirs", FAIL if problems else PASS,
          "; ".join(problems) if problems else
          "administrator-only (CVE-2019-1552): " + ", ".join(f"{k} {found[k]}" for k in want))


def check_winstore(off: dict, mode: str | None, r: Report) -> None:
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


CHECKS = [
    Check("manifest.files", "Windows: every file of the zip is the one the manifest lists (sha256), none unlisted",
          False, check_files),
    Check("pe.imports", "Windows: every DLL an .exe, .dll or .pyd imports is shipped or a system DLL "
                        "(a small PE reader; no Windows needed)", False, check_pe_imports),
    Check("openssl.compiled-dirs", "Windows: OPENSSLDIR, ENGINESDIR and MODULESDIR as compiled into "
                                   "libcrypto-3.dll are administrator-only paths (CVE-2019-1552)",
          False, check_compiled_dirs),
    Check("tls.winstore", "Windows, under Wine: with CPython's store enumeration off "
                          "(`SSLContext._windows_cert_stores = ()`), urllib, http.client and "
                          "set_default_verify_paths() still trust a CA only the ROOT store holds: OpenSSL's "
                          "winstore is in the default verify paths (in mode enumeration: they must not)",
          True, check_winstore),
]
