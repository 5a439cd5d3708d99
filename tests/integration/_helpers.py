"""Helpers shared by the integration tests (imported as ``_helpers``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pybuildssl.verify.sandbox import clean_env

REPO = Path(__file__).resolve().parents[2]
#: The relocation test: a directory with a space (and non-ASCII) in its name.
MOVED = "moved prefix ü"


def run_cli(*args: str, env: dict | None = None, timeout: float = 3600) -> subprocess.CompletedProcess:
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "pybuildssl", *args], capture_output=True, text=True,
                          env=full, timeout=timeout, cwd=str(REPO))


def py(python: Path, code: str, *, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a target interpreter with a clean environment."""
    return subprocess.run([str(python), "-I", "-c", code], capture_output=True, text=True,
                          env=env if env is not None else clean_env(), timeout=timeout)
