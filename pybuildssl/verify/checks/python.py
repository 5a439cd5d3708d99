"""Checks of the interpreter itself, from the probe's facts: it starts, it follows its
new location, its standard library imports."""

from __future__ import annotations

import os

from ..registry import Check
from ..report import FAIL, PASS, Report
from ..target import Target

#: Modules a complete CPython build provides (checked by import).
STDLIB_MODULES = ("ssl", "hashlib", "sqlite3", "ctypes", "lzma", "bz2", "zlib", "readline", "curses",
                  "uuid", "decimal", "json", "venv", "ensurepip")


def check_python(t: Target, facts: dict | None, err: str, r: Report) -> None:
    if facts is None:
        r.add("python.starts", FAIL, f"{t.interpreter} did not run from {t.root}: {err}")
        return
    py = facts["python"]
    r.add("python.starts", PASS, f"Python {py['version']} runs from {t.root}")
    root = os.path.realpath(t.root)
    outside = [f"sys.{k}={py[k]}" for k in ("prefix", "base_prefix", "exec_prefix")
               if os.path.realpath(py[k]) != root]
    outside += [f"sysconfig {k}={v}" for k, v in py["paths"].items()
                if v and not os.path.realpath(v).startswith(root)]
    outside += [f"config var {k}={v}" for k, v in py["config"].items()
                if k in ("prefix", "exec_prefix", "LIBDIR", "INCLUDEPY", "LIBPL", "BINDIR")
                and v and not os.path.realpath(v).startswith(root)]
    r.add("python.prefix", FAIL if outside else PASS,
          ("paths outside the new location: " + "; ".join(outside[:4])) if outside
          else "sys.prefix, sysconfig paths and config vars follow the new location")


def check_modules(facts: dict | None, r: Report) -> None:
    """``python.modules``: every module of :data:`STDLIB_MODULES` imports."""
    if facts is None:
        return
    missing = {k: v for k, v in facts["modules"].items() if v != "ok"}
    r.add("python.modules", "warn" if missing else "pass",
          ("cannot import: " + ", ".join(f"{k} ({v})" for k, v in missing.items()))[:300]
          if missing else f"{len(facts['modules'])} stdlib modules import")


CHECKS = [
    Check("python.starts", "the interpreter runs from the relocated directory (the probe prints its facts)",
          True, check_python),
    Check("python.prefix", "`sys.prefix`, sysconfig paths and config variables follow the new location",
          False, check_python),
    Check("python.modules", "the standard library's extension modules import (WARN names those that do not)",
          False, check_modules),
]
