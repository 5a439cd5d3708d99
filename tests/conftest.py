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


# ------------------------------------------------------------ the skip rule ---
#: A skip is allowed in CI only for a documented environment gate; its reason
#: then starts with this.  Any other skip (a missing interpreter, tool or file)
#: hides a missing install step, so with PYBUILDSSL_STRICT_SKIPS=1 (ci/test.sh
#: sets it when CI=true) it fails the run.  The gates: not root (debootstrap,
#: chroot, ownership tests), no mount namespaces, and a checkout or virtualenv
#: that the unprivileged user cannot run (docs/ci.md).
ENVIRONMENT_GATE = "environment gate:"
_skips: list[tuple[str, str]] = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skips.append((report.nodeid, reason.removeprefix("Skipped: ")))


def _strict() -> bool:
    import os

    return os.environ.get("PYBUILDSSL_STRICT_SKIPS") == "1"


def _undocumented() -> list[tuple[str, str]]:
    return [(n, r) for n, r in _skips if not r.startswith(ENVIRONMENT_GATE)]


def pytest_terminal_summary(terminalreporter):
    bad = _undocumented()
    terminalreporter.write_line(f"skips: {len(_skips)} in all, {len(_skips) - len(bad)} environment gates, "
                                f"{len(bad)} undocumented")
    if bad and _strict():
        terminalreporter.write_line("undocumented skips fail this run (PYBUILDSSL_STRICT_SKIPS=1): "
                                    "a missing tool, interpreter or file is an install step to write")
        for nodeid, reason in bad:
            terminalreporter.write_line(f"  {nodeid}: {reason}")


def pytest_sessionfinish(session, exitstatus):
    if _strict() and _undocumented() and exitstatus == 0:
        session.exitstatus = 1
