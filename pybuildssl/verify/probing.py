"""Running the stdlib-only probe (``probe.py``) inside the artifact's own interpreter."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Callable

from .. import layouts, trust
from .target import Target

PROBE = Path(__file__).with_name("probe.py")

#: Modules a complete CPython build provides (checked by import).
STDLIB_MODULES = ("ssl", "hashlib", "sqlite3", "ctypes", "lzma", "bz2", "zlib", "readline", "curses",
                  "uuid", "decimal", "json", "venv", "ensurepip")


def probe_request(t: Target, *, handshakes: list[dict] = (), locations: list = None,
                  modules: tuple[str, ...] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    table = layouts.load()
    host = layouts.host_os()
    if locations is None:
        locations = [list(x) for x in table.fallback(host)]
    return {"block": trust.render_patch(host), "locations": locations,
            "handshakes": list(handshakes), "modules": list(modules)}


def run_probe(interpreter: Path, request: dict[str, Any], *, runner: Callable | None = None,
              env: dict[str, str] | None = None, timeout: float = 60) -> tuple[dict | None, str]:
    """(facts, error text).  ``runner(argv, env, input)`` lets a sandbox run it."""
    argv = [str(interpreter), "-I", "-B", str(PROBE)]
    if env is None:
        from .cleanenv import clean_env

        env = clean_env()
    data = json.dumps(request)
    try:
        if runner is not None:
            proc = runner(argv, env, data)
        else:
            proc = subprocess.run(argv, input=data, capture_output=True, text=True, env=env, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"{type(e).__name__}: {e}"
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        return None, f"exit code {proc.returncode}: " + " | ".join(tail)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1]), ""
    except (ValueError, IndexError):
        return None, "the probe printed no JSON: " + (proc.stderr or proc.stdout)[-300:]
