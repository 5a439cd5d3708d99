"""Checks that the artifact works from any location: no build path left in any
file, OpenSSL's compiled directories never searched, a safe OPENSSLDIR."""

from __future__ import annotations

import os
from pathlib import Path

from ... import package, targets
from ..registry import Check
from ..report import FAIL, PASS, SKIP, WARN, Report
from ..target import Target


def check_build_paths(t: Target, r: Report) -> None:
    m = t.manifest
    needles = [p for p in m.build_paths if p] if m else []
    placeholder = m.build_prefix if m else None
    hits: list[str] = []
    scanned = 0
    for dirpath, dirs, names in os.walk(t.root):
        for n in names:
            p = Path(dirpath) / n
            if p.is_symlink() or not p.is_file() or n == package.MANIFEST:
                continue
            scanned += 1
            data = p.read_bytes()
            rel = p.relative_to(t.root).as_posix()
            for needle in needles:
                if needle.encode() in data:
                    hits.append(f"{rel} contains the build path {needle}")
            if placeholder and placeholder.encode() in data and not _binary(p, data):
                hits.append(f"{rel} still names the build prefix {placeholder}")
            if data.startswith(b"#!/") and (p.parent.name == "bin" or os.access(p, os.X_OK)):
                interp = data[2:data.find(b"\n")].split()[0].decode("utf-8", "replace") if b"\n" in data else ""
                if interp and interp not in ("/bin/sh", "/usr/bin/env", "/bin/bash") and not interp.startswith(
                        "/usr/bin/env"):
                    hits.append(f"{rel}: shebang {interp} is an absolute interpreter path")
    r.add("reloc.build-paths", FAIL if hits else PASS,
          ("; ".join(hits[:4]) + (f" (+{len(hits) - 4} more)" if len(hits) > 4 else "")) if hits
          else f"{scanned} files: no build or staging path in binaries, scripts, sysconfig or pkg-config data",
          hits=hits[:100])


def _binary(p: Path, data: bytes) -> bool:
    return data[:4] == b"\x7fELF" or p.suffix in (".pyc", ".a", ".o") or b"\0" in data[:8192]


def check_openssldir(t: Target, r: Report) -> None:
    """OPENSSLDIR must not be a place an unprivileged user could plant openssl.cnf in."""
    m = t.manifest
    d = m.openssl.openssldir if m else None
    if not d:
        r.add("openssl.openssldir", SKIP, "no manifest: OPENSSLDIR unknown (doctor reports it from the interpreter)")
        return
    if t.os == "windows":
        problem = targets.windows_openssldir_problem(d)
        r.add("openssl.openssldir", FAIL if problem else PASS,
              f"OPENSSLDIR {d} {problem}" if problem else f"OPENSSLDIR {d} is writable by administrators only")
        return
    build_like = [p for p in m.build_paths if p and d.startswith(p)]
    if build_like or not d.startswith("/") or d.startswith(("/tmp/", "/var/tmp/", "/home/", "/root/")):
        r.add("openssl.openssldir", FAIL, f"OPENSSLDIR {d} is a build or user-writable location")
    else:
        r.add("openssl.openssldir", PASS, f"OPENSSLDIR {d} (the target's own trust and openssl.cnf location)")


def check_openssl_dirs(t: Target, r: Report) -> None:
    m = t.manifest
    if m is None:
        r.add("reloc.openssl-dirs", SKIP, "no manifest: OpenSSL's build options are unknown")
    elif "no-module" in m.openssl.options and m.openssl.linkage == "static":
        r.add("reloc.openssl-dirs", PASS, "OpenSSL is static with providers built in (no-module): "
              "MODULESDIR/ENGINESDIR are never searched")
    else:
        mods = [p for p in t.root.rglob("ossl-modules")]
        r.add("reloc.openssl-dirs", WARN if not mods else PASS,
              "providers load from MODULESDIR; set OPENSSL_MODULES or build with no-module" if not mods
              else f"provider modules shipped in {mods[0].relative_to(t.root)}")


CHECKS = [
    Check("reloc.build-paths", "no build or staging path in binaries, scripts, sysconfig or pkg-config data; no "
          "absolute interpreter in a shebang", False, check_build_paths),
    Check("reloc.openssl-dirs", "OpenSSL never searches its compiled MODULESDIR/ENGINESDIR (static with `no-module`), "
          "or the provider modules ship in the artifact (WARN otherwise)", False, check_openssl_dirs),
    Check("openssl.openssldir", "OPENSSLDIR is the target's own location, never a build or user-writable path; on "
          "Windows, under a root only administrators can write (CVE-2019-1552)", False, check_openssldir),
]
