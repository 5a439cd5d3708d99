"""Where pybuildssl keeps what it builds and downloads: one rule for every caller.

``$PYBUILDSSL_CACHE``, else ``$XDG_CACHE_HOME/pybuildssl``, else
``~/.cache/pybuildssl``: outside any checkout.  A leaf (stdlib only), so the
ci/ scripts and the tests use it too.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    env = os.environ.get("PYBUILDSSL_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "pybuildssl" if xdg else Path.home() / ".cache" / "pybuildssl"
