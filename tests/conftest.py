"""Shared fixtures.

Unit tests (everything not marked ``integration``) may not run a subprocess
or touch the network: the autouse fixture below makes both fail loudly.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(REPO))


@pytest.fixture(autouse=True)
def _unit_tests_run_nothing(request, monkeypatch):
    if request.node.get_closest_marker("integration"):
        return

    def refuse(*args, **kwargs):
        raise AssertionError("a unit test tried to run a subprocess or use the network: "
                             f"{args[:1]!r}; mark it integration or fake the runner")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    try:
        import requests

        monkeypatch.setattr(requests.Session, "send", refuse)
    except ImportError:  # pragma: no cover
        pass


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
