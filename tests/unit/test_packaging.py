"""Every package directory under pybuildssl/ is listed in pyproject.toml (an installed wheel has it)."""

from __future__ import annotations

import re
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]


def test_every_package_is_shipped():
    text = (TOP / "pyproject.toml").read_text()
    listed = set(re.findall(r'"(pybuildssl(?:\.[a-z_]+)*)"', re.search(r"^packages = \[(.*?)\]", text, re.M | re.S)[1]))
    found = {".".join(p.parent.relative_to(TOP).parts) for p in (TOP / "pybuildssl").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
