"""Checks of ``ssl`` inside the artifact: OpenSSL's version, the trust patch the
manifest records, and the store ``get_default_verify_paths()`` names."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ... import trust
from ..registry import Check
from ..report import FAIL, PASS, SKIP, WARN, Report
from ..target import Target


def check_ssl(t: Target, facts: dict | None, r: Report, expect: str | None) -> None:
    if facts is None:
        for cid in ("ssl.import", "ssl.version", "trust.patch", "trust.default-paths"):
            r.add(cid, SKIP, "the interpreter did not run")
        return
    s = facts["ssl"]
    if not s.get("ok"):
        r.add("ssl.import", FAIL, f"import ssl failed: {s.get('error')}")
        for cid in ("ssl.version", "trust.patch", "trust.default-paths"):
            r.add(cid, SKIP, "ssl does not import")
        return
    r.add("ssl.import", PASS, f"{s['OPENSSL_VERSION']} ({os.path.basename(s.get('module_file') or '_ssl')})")
    have = openssl_version(s["OPENSSL_VERSION_INFO"])
    want = expect or (t.manifest.openssl.version if t.manifest else None)
    problems = []
    if have < (3, 2, 0):
        problems.append(f"OpenSSL {'.'.join(map(str, have))} is older than 3.2")
    if want and ".".join(map(str, have)) != want:
        problems.append(f"linked OpenSSL is {'.'.join(map(str, have))}, expected {want}")
    built = s.get("built_against")
    if built and openssl_version(built)[:2] != have[:2]:
        problems.append(f"built against {'.'.join(map(str, openssl_version(built)))} "
                        f"but running {'.'.join(map(str, have))}")
    r.add("ssl.version", FAIL if problems else PASS,
          "; ".join(problems) if problems else f"OpenSSL {'.'.join(map(str, have))}"
          + (" as the manifest says" if want else ""))
    check_patch(t, facts, r)
    check_default_paths(facts, r)


def openssl_version(info: list[int] | tuple[int, ...]) -> tuple[int, int, int]:
    """ssl.OPENSSL_VERSION_INFO -> (major, minor, patch).

    From 3.0 on OpenSSL's number is MNN00PP0, which CPython splits as
    (major, minor, 0, patch, status): 3.5.7 is (3, 5, 0, 7, 0).
    """
    if info[0] >= 3:
        return (info[0], info[1], info[3])
    return (info[0], info[1], info[2])


def check_patch(t: Target, facts: dict, r: Report) -> None:
    s = facts["ssl"]
    if t.manifest is None:
        r.add("trust.patch", PASS if s.get("patched") else WARN,
              "ssl carries the pybuildssl patch" if s.get("patched")
              else "ssl is not patched: `pybuildssl patch PREFIX` adds the fallback")
        return
    if not s.get("patched"):
        r.add("trust.patch", FAIL, f"{s.get('ssl_py')} has no pybuildssl hook (ssl._pybuildssl_resolve missing)")
        return
    tr = t.manifest.trust
    text = Path(s["ssl_py"]).read_text(encoding="utf-8") if s.get("ssl_py") else ""
    want_fb = tr.fallback
    if want_fb is not None and s.get("fallback") != want_fb:
        r.add("trust.patch", FAIL, "the baked fallback list differs from the manifest's")
        return
    block = trust.render_patch(t.os, fallback=[tuple(x) for x in want_fb or []],
                               windows_mode=tr.windows_mode)
    if hashlib.sha256(block.encode()).hexdigest() != tr.patch_sha256:
        r.add("trust.patch", WARN, "this pybuildssl renders a different patch than the one that built the "
              "artifact; the hook is present but its text was not compared")
        return
    if block not in text:
        r.add("trust.patch", FAIL, f"the ssl patch in {s['ssl_py']} is not the one the manifest records")
        return
    r.add("trust.patch", PASS, f"hook present (patch v{s.get('patch_version')}), "
          f"{len(s.get('fallback') or [])} fallback locations")


def source_text(resolve: dict | None) -> str:
    if not resolve:
        return "stock CPython rules"
    return {"env": "SSL_CERT_FILE/SSL_CERT_DIR", "compiled": "OpenSSL's compiled defaults",
            "fallback": "the baked fallback list", "none": "nothing usable",
            "disabled": "fallback disabled by PYBUILDSSL_NO_FALLBACK"}.get(resolve.get("source"), "?")


def check_default_paths(facts: dict, r: Report, cid: str = "trust.default-paths") -> None:
    s = facts["ssl"]
    vp = s.get("verify_paths") or {}
    resolve = s.get("resolve") or s.get("would_resolve")
    usable = []
    for kind, key in (("file", "cafile"), ("dir", "capath")):
        path = vp.get(key)
        if not path:
            continue
        # The probe judged it inside the interpreter, with the patch's own rules.
        verdict = (s.get("verify_paths_usable") or {}).get(key) or next(
            (loc.get("verdict_unsafe_ok") for loc in facts.get("locations", [])
             if loc["path"] == path and loc["kind"] == kind), "not examined")
        if verdict == "usable":
            usable.append(f"{key}={path}")
    source = source_text(s.get("resolve")) if s.get("patched") else "stock CPython rules"
    if usable:
        r.add(cid, PASS, f"{', '.join(usable)} (from {source})", verify_paths=vp, resolve=resolve)
    else:
        r.add(cid, FAIL, f"get_default_verify_paths() names no usable store (cafile={vp.get('cafile')}, "
              f"capath={vp.get('capath')}, openssl_cafile={vp.get('openssl_cafile')})",
              verify_paths=vp, resolve=resolve)


CHECKS = [
    Check("ssl.import", "`import ssl` works, with `ssl` as the first user of OpenSSL in the process",
          True, check_ssl),
    Check("ssl.version", "OpenSSL is 3.2 or newer, is the version the manifest (or `--expect-openssl`) names, and "
          "has the major.minor `_ssl` was built against", True, check_ssl),
    Check("trust.patch", "`ssl.py` carries the pybuildssl patch the manifest records (same fallback list, same "
          "text); for a Python without a manifest, WARN when it is not patched", False, check_patch),
    Check("trust.default-paths", "`ssl.get_default_verify_paths()` names a usable CA file or hashed directory",
          False, check_default_paths),
]
