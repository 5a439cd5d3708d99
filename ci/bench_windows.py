#!/usr/bin/env python3
"""Figures for Windows artifacts built on Linux: build time, size, verify time under Wine.

    python3 ci/bench_windows.py dist/cpython-...-embeddable.zip [--runs N] [--makefile PATH]

Prints, for the artifact: its size and file count; the OpenSSL cross build's
wall time as its cache stamp recorded it (the build that made it); then
``pybuildssl verify`` run N times in a row (default 2), with the time of each
phase under Wine (wineboot of a fresh prefix, the probe in the artifact's
mode, the probe with enumeration off) and in total.

``--makefile``: an OpenSSL Makefile configured for the mingw-w64 target
(``perl Configure --config=... pybuildssl-mingw64 ...``): counts the objects a
plain ``make`` compiles for a shared build against those the two DLL targets
need (what pybuildssl builds), the cheaper build's reason in one ratio.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def object_counts(makefile: Path) -> dict[str, int]:
    """Objects per library variant: {'libcrypto-shlib': n, 'libcrypto-lib': n, ...}."""
    names = set(re.findall(r"^([\w/.-]+\.obj):", makefile.read_text(errors="replace"), re.M))
    out: dict[str, int] = {}
    for n in names:
        m = re.search(r"(lib\w+?-(?:shlib|lib))-", Path(n).name)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0) + 1
    return out


def openssl_stamp(manifest: dict) -> dict | None:
    from pybuildssl.cache import default_cache_dir

    for stamp in (default_cache_dir() / "components").glob("openssl-mingw-*/.complete.json"):
        data = json.loads(stamp.read_text())
        if data.get("source_sha256") == manifest["openssl"].get("source_sha256") and \
                data.get("configure", [])[5:] == manifest["openssl"]["options"]:
            return data
    return None


def main(argv: list[str] | None = None) -> int:
    from pybuildssl import package_zip
    from pybuildssl.verify import windows

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("artifact", type=Path)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--makefile", type=Path)
    args = ap.parse_args(argv)
    m = package_zip.read_manifest(args.artifact)
    size = args.artifact.stat().st_size
    unpacked = sum(i.file_size for i in zipfile.ZipFile(args.artifact).infolist())
    print(f"artifact {args.artifact.name}: {size / 1e6:.1f} MB zip, {unpacked / 1e6:.1f} MB unpacked, "
          f"{len(m['files'])} files; CPython {m['cpython']['version']}, OpenSSL {m['openssl']['version']}, "
          f"mode {m['trust']['windows_mode']}")
    stamp = openssl_stamp(m)
    if stamp:
        print(f"OpenSSL mingw-w64 cross build (configure + generated headers + the two DLLs): "
              f"{stamp['seconds']:.1f} s when it was built")
    for i in range(args.runs):
        t = time.monotonic()
        r = windows.verify(args.artifact)
        w = r.facts.get("wine_seconds", {})
        print(f"verify run {i + 1}: {time.monotonic() - t:.1f} s in all ({r.verdict}); under Wine: "
              + ", ".join(f"{k} {v:.1f} s" for k, v in w.items()))
    if args.makefile:
        c = object_counts(args.makefile)
        # only the static libraries' own copies (libcrypto.a, libssl.a) are not needed for the DLLs
        dlls = sum(v for k, v in c.items() if k not in ("libcrypto-lib", "libssl-lib"))
        full = sum(c.values())
        print(f"objects compiled: plain make {full}, the two DLL targets {dlls} "
              f"(ratio {dlls / full:.2f}); per variant: {dict(sorted(c.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
