"""After ssl.py changes in a prefix: compile its .pyc again the way the prefix's own were made."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from . import Log


_PYC_RE = re.compile(r"ssl\.(?P<tag>[A-Za-z0-9_-]+?)(?:\.opt-(?P<opt>[12]))?\.pyc")

#: Runs inside the distribution's own interpreter: recompiles ssl.py for the
#: given optimisation levels, keeping each .pyc's invalidation mode.
_COMPILE_SCRIPT = """\
import py_compile, sys
if sys.implementation.cache_tag != sys.argv[1]:
    sys.exit(3)
for spec in sys.argv[3:]:
    opt, mode = spec.split(":")
    py_compile.compile(sys.argv[2], doraise=True, optimize=int(opt),
                       invalidation_mode=py_compile.PycInvalidationMode[mode])
"""


def _pyc_mode(pyc: Path) -> str:
    """The invalidation mode of a .pyc, from its header flags (PEP 552)."""
    try:
        with open(pyc, "rb") as f:
            flags = int.from_bytes(f.read(8)[4:8], "little")
    except OSError:
        return "TIMESTAMP"
    if flags & 0b1:
        return "CHECKED_HASH" if flags & 0b10 else "UNCHECKED_HASH"
    return "TIMESTAMP"


def _interpreters(root: Path, ssl_py: Path) -> list[Path]:
    libdir = ssl_py.parent
    base = libdir.parent.parent  # PREFIX/lib/pythonX.Y -> PREFIX
    names = []
    if libdir.name.startswith("python3"):
        names.append(base / "bin" / libdir.name)  # bin/python3.12 (or python3.13t)
        names.append(base / "bin" / "python3")
    else:  # Windows layout: PREFIX/Lib
        names.append(libdir.parent / "python.exe")
    return [p for p in names if p.is_file() and os.access(p, os.X_OK)]


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def _refresh_bytecode(root: Path, ssl_py: Path, log: Log) -> list[str]:
    """Bring ssl.*.pyc in line with ssl.py: recompile, or remove when that fails."""
    cache = ssl_py.parent / "__pycache__"
    pycs = sorted(p for p in cache.glob("ssl.*.pyc") if _PYC_RE.fullmatch(p.name)) \
        if cache.is_dir() else []
    if not pycs:
        return []
    by_tag: dict[str, list[Path]] = {}
    for p in pycs:
        by_tag.setdefault(_PYC_RE.fullmatch(p.name).group("tag"), []).append(p)
    notes: list[str] = []
    for tag, group in sorted(by_tag.items()):
        specs = []
        for p in group:
            opt = _PYC_RE.fullmatch(p.name).group("opt") or "0"
            specs.append(f"{opt}:{_pyc_mode(p)}")
        done = False
        for exe in _interpreters(root, ssl_py):
            try:
                proc = subprocess.run(
                    [str(exe), "-I", "-S", "-c", _COMPILE_SCRIPT, tag, str(ssl_py), *specs],
                    env=_clean_env(), stdin=subprocess.DEVNULL, capture_output=True,
                    text=True, timeout=120)
            except (OSError, subprocess.SubprocessError) as e:
                log(f"cannot run {exe}: {e}")
                continue
            if proc.returncode == 0:
                names = ", ".join(p.name for p in group)
                notes.append(f"recompiled {names} with {exe}")
                log(notes[-1])
                done = True
                break
            if proc.returncode != 3:
                log(f"{exe} could not compile {ssl_py}: {proc.stderr.strip()[-500:]}")
        if not done:
            for p in group:
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass
            notes.append("removed stale " + ", ".join(p.name for p in group)
                         + " (no interpreter of this prefix could recompile them)")
            log(notes[-1])
    return notes
