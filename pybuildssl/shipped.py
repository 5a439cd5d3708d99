"""Where the shipped data directories are: ``recipes/`` and ``templates/``.

In a checkout they sit beside the package (the top of the repository); in an
installed wheel they are the packages ``pybuildssl.recipes`` and
``pybuildssl.templates``.  The copy beside the code that runs comes first, so
two checkouts sharing one virtualenv (an editable install points at one of
them) each read their own recipes.  A leaf (stdlib only).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_TOP = Path(__file__).resolve().parent.parent


def shipped_dir(name: str) -> Path:
    """``recipes`` or ``templates``: the checkout's own, else the installed package's."""
    beside = _TOP / name
    if (_TOP / "pyproject.toml").is_file() and beside.is_dir():
        return beside
    return Path(str(resources.files(f"pybuildssl.{name}")))
