"""The host side of the probe: build its request, run it inside an interpreter, read its JSON.

The probe itself (``verify/probe.py``) is a stdlib-only script that runs
inside the interpreter under test; ``verify`` and ``doctor`` both drive it
from here.  A neutral leaf: it imports ``layouts`` and ``trust`` (the patch
block whose usability and safety rules the probe applies), nothing of
``verify`` or ``doctor``, so neither has to reach into the other.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from . import layouts, trust

#: The script, run as ``PYTHON -I -B probe.py`` with the request on stdin.
PROBE = Path(__file__).parent / "verify" / "probe.py"


def probe_request(*, handshakes: Iterable[dict] = (), locations: Iterable[Iterable[str]] | None = None,
                  modules: Iterable[str] = ()) -> dict[str, Any]:
    """The JSON request: this host OS's patch block, the locations to describe (default: the
    OS's fallback list from the layout table), handshakes to try and modules to import."""
    host = layouts.host_os()
    if locations is None:
        locations = layouts.load().fallback(host)
    return {"block": trust.render_patch(host), "locations": [list(x) for x in locations],
            "handshakes": list(handshakes), "modules": list(modules)}


def run_probe(interpreter: Path, request: Mapping[str, Any], *, env: Mapping[str, str],
              runner: Callable | None = None, timeout: float = 60) -> tuple[dict | None, str]:
    """(facts, error text).  ``env`` is the whole environment the interpreter gets (the caller
    decides: verify gives a clean one, doctor the user's own); ``runner(argv, env, input)`` lets
    a sandbox run it."""
    argv = [str(interpreter), "-I", "-B", str(PROBE)]
    data = json.dumps(request)
    try:
        if runner is not None:
            proc = runner(argv, dict(env), data)
        else:
            proc = subprocess.run(argv, input=data, capture_output=True, text=True, env=dict(env),
                                  timeout=timeout)
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"{type(e).__name__}: {e}"
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        return None, f"exit code {proc.returncode}: " + " | ".join(tail)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1]), ""
    except (ValueError, IndexError):
        return None, "the probe printed no JSON: " + (proc.stderr or proc.stdout)[-300:]
