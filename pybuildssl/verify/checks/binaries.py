"""Checks of the artifact's ELF files: relative RPATH/RUNPATH, libraries needed
from the host, and the glibc symbol versions they need."""

from __future__ import annotations

import os
from pathlib import Path

from ... import binfmt
from ..registry import Check
from ..report import FAIL, PASS, SKIP, WARN, Report
from ..target import Target

#: glibc's own libraries: what a portable Linux artifact may need from the host.
#: Not libcrypt.so.1: glibc 2.38 dropped libcrypt and distributions ship
#: libxcrypt's instead, so a recipe that needs it must say so in
#: ``verify.allow_libraries`` (CPython 3.13 removed _crypt; nothing needs it).
GLIBC_FAMILY = ("libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
                "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libresolv.so.2")


def elf_files(root: Path) -> list[Path]:
    out = []
    for dirpath, dirs, names in os.walk(root):
        dirs.sort()
        for n in sorted(names):
            p = Path(dirpath) / n
            if not p.is_symlink() and p.is_file() and binfmt.is_elf(p):
                out.append(p)
    return out


def check_elf(t: Target, r: Report) -> list[binfmt.ELFInfo]:
    if t.os != "linux":
        for cid in ("reloc.rpath", "libs.external"):
            r.add(cid, SKIP, f"ELF checks apply to Linux artifacts; this is {t.os} (checked on its own runner)")
        return []
    infos: list[binfmt.ELFInfo] = []
    bad_rpath: list[str] = []
    for p in elf_files(t.root):
        try:
            info = binfmt.read(p)
        except (binfmt.NotELF, ValueError, IndexError, OSError) as e:
            bad_rpath.append(f"{p.relative_to(t.root)}: unreadable ELF ({e})")
            continue
        infos.append(info)
        for rp in info.rpath + info.runpath:
            if rp and not rp.startswith("$ORIGIN"):
                bad_rpath.append(f"{p.relative_to(t.root)}: {rp}")
    r.add("reloc.rpath", FAIL if bad_rpath else PASS,
          ("non-relative RPATH/RUNPATH: " + "; ".join(bad_rpath[:4])) if bad_rpath
          else f"{len(infos)} ELF files; every RPATH/RUNPATH is $ORIGIN-relative", entries=bad_rpath)
    provided = {p.name for p in t.root.rglob("*.so*")}
    allowed = set(GLIBC_FAMILY) | set(t.manifest.recipe.allow_libraries() if t.manifest else [])
    external: dict[str, list[str]] = {}
    for info in infos:
        for lib in info.needed:
            if lib not in provided:
                external.setdefault(lib, []).append(os.path.relpath(info.path, t.root))
    bad = {k: v for k, v in external.items() if k not in allowed}
    extra_allowed = sorted(k for k in external if k in allowed and k not in GLIBC_FAMILY)
    if bad:
        r.add("libs.external", FAIL, "needed from outside the artifact and not allowed: "
              + ", ".join(f"{k} (by {v[0]})" for k, v in sorted(bad.items())), external=sorted(external))
    else:
        r.add("libs.external", WARN if extra_allowed else PASS,
              ("only glibc's family" if not extra_allowed else
               "glibc's family plus, allowed by the recipe: " + ", ".join(extra_allowed)),
              external=sorted(external))
    return infos


def _vtuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def check_glibc_floor(t: Target, infos: list[binfmt.ELFInfo], r: Report) -> None:
    """glibc.floor: no ELF file needs a GLIBC_ symbol version above the recipe's floor.

    Every offender is listed (file and versions above the floor).  Without a
    floor the finding is skipped and says what the artifact does need.
    """
    if t.os != "linux":
        r.add("glibc.floor", SKIP, f"glibc applies to Linux artifacts; this is {t.os}")
        return
    m = t.manifest
    floor = (m.target.glibc or m.recipe.resolved.get("target", {}).get("glibc")) if m else None
    need: dict[str, tuple[int, ...]] = {}
    above: dict[str, list[str]] = {}
    for info in infos:
        rel = os.path.relpath(info.path, t.root)
        top = info.max_version("GLIBC_")
        if top is None:
            continue
        need[rel] = top
        if floor:
            versions = sorted({v for vs in info.version_needs.values() for v in vs
                               if v.startswith("GLIBC_") and _glibc_above(v, _vtuple(floor))}, key=_glibc_key)
            if versions:
                above[rel] = versions
    highest = max(need.values(), default=None)
    hi_text = "GLIBC_" + ".".join(map(str, highest)) if highest else "no GLIBC_ version"
    by = sorted(k for k, v in need.items() if v == highest)[:3] if highest else []
    if not floor:
        r.add("glibc.floor", SKIP, f"the recipe sets no glibc floor (target.glibc); the artifact needs {hi_text}"
              + (f" (by {', '.join(by)})" if by else ""), highest=hi_text)
        return
    if above:
        entries = [f"{k}: {', '.join(v)}" for k, v in sorted(above.items())]
        r.add("glibc.floor", FAIL, f"{len(above)} ELF files need glibc above the floor {floor}: " + "; ".join(entries),
              floor=floor, highest=hi_text, offenders=entries)
    else:
        r.add("glibc.floor", PASS, f"{len(need)} ELF files need at most {hi_text} (floor {floor})",
              floor=floor, highest=hi_text)


def _glibc_key(v: str) -> tuple[int, ...]:
    try:
        return _vtuple(v[len("GLIBC_"):])
    except ValueError:
        return ()


def _glibc_above(v: str, floor: tuple[int, ...]) -> bool:
    key = _glibc_key(v)
    return bool(key) and key > floor


CHECKS = [
    Check("reloc.rpath", "every RPATH/RUNPATH of every ELF file is `$ORIGIN`-relative (Linux; SKIP elsewhere)",
          False, check_elf),
    Check("libs.external", "ELF files need nothing from outside the artifact but glibc's family and the recipe's "
          "`verify.allow_libraries` (WARN when the latter are used)", False, check_elf),
    Check("glibc.floor", "no ELF file needs a `GLIBC_` symbol version above the recipe's `target.glibc` floor; "
          "every offender is listed (SKIP when the recipe sets no floor)", False, check_glibc_floor),
]
