"""Helpers shared by the integration tests (imported as ``_helpers``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
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


def uv_binary() -> str:
    """The uv that pip installed beside this interpreter (the `uv` test dependency)."""
    for d in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        p = Path(d) / "uv"
        if p.is_file():
            return str(p)
    found = shutil.which("uv")
    if not found:
        raise AssertionError("uv is not installed: pip install -e '.[test]' installs it from PyPI")
    return found


def uv_environment(root: Path) -> dict:
    """uv with private cache, install and bin directories under ``root``, no configuration files,
    and no downloads but those a list names."""
    env = clean_env()
    env.update({
        "HOME": str(root / "home"), "UV_NO_CONFIG": "1", "UV_CACHE_DIR": str(root / "cache"),
        "UV_PYTHON_INSTALL_DIR": str(root / "pythons"), "UV_PYTHON_BIN_DIR": str(root / "bin"),
        "UV_PYTHON_CACHE_DIR": "", "UV_NO_PROGRESS": "1", "UV_PYTHON_DOWNLOADS": "manual",
    })
    return env


def uv(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    r = subprocess.run([uv_binary(), *args], capture_output=True, text=True, env=env, timeout=timeout)
    assert r.returncode == 0, f"uv {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r
