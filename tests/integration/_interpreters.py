"""The CPython interpreters the integration tests run against (imported as ``_interpreters``).

None comes from pyenv or anything else a developer happens to have: the
"stock" prefixes (unpatched CPython linked against the host's OpenSSL, whose
OPENSSLDIR on Debian is ``/usr/lib/ssl``) are built on demand by
``ci/stock_pythons.py`` from Debian's orig tarballs of CPython 3.9 (bullseye),
3.11 (bookworm) and 3.13 (trixie), and cached in ``$PYBUILDSSL_CACHE``.  A
missing interpreter is built, and a build that fails FAILS the test with its
reason: nothing is skipped for want of an interpreter.

``PYBUILDSSL_TEST_PYTHON`` (an installation prefix) replaces the default stock
prefix for developers; CI never sets it.

Skips: only environment gates (no mount namespaces, not root), each with a
reason starting with ``environment gate:`` (CI fails on any other skip).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pybuildssl.verify import sandbox

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "ci"))
import fetch_sources  # noqa: E402
import stock_pythons  # noqa: E402

#: Every stock minor, oldest first (the project's floor, 3.9, to the newest).
MINORS: tuple[str, ...] = stock_pythons.MINORS
GATE = "environment gate:"

_built: dict[str, Path] = {}


def stock_prefix(minor: str | None = None) -> Path:
    """The stock prefix of CPython ``minor`` (default: the newest), built if missing."""
    minor = minor or MINORS[-1]
    if minor not in _built:
        try:
            _built[minor] = stock_pythons.ensure(minor)
        except (stock_pythons.StockError, fetch_sources.FetchError) as exc:
            pytest.fail(f"stock CPython {minor} is unavailable: {exc}", pytrace=False)
    return _built[minor]


def stock_prefixes() -> list[Path]:
    """Every stock prefix, oldest minor first."""
    return [stock_prefix(m) for m in MINORS]


def source_prefix() -> Path:
    """The prefix tests copy and patch: ``PYBUILDSSL_TEST_PYTHON`` or the newest stock one."""
    given = os.environ.get("PYBUILDSSL_TEST_PYTHON")
    if given:
        prefix = Path(given)
        assert (prefix / "bin" / "python3").exists(), \
            f"PYBUILDSSL_TEST_PYTHON={given}: no bin/python3 there (give an installation prefix)"
        return prefix
    return stock_prefix()


def interpreter(prefix: Path) -> Path:
    """``bin/pythonX.Y`` of a prefix (``bin/python3`` when there is no versioned name)."""
    (lib,) = [p for p in (prefix / "lib").glob("python3.*") if (p / "ssl.py").is_file()]
    exe = prefix / "bin" / lib.name
    return exe if exe.exists() else prefix / "bin" / "python3"


def require_namespaces() -> None:
    """Skip (an environment gate) unless mount namespaces work here."""
    try:
        sandbox.check_available()
    except sandbox.SandboxUnavailable as exc:
        pytest.skip(f"{GATE} no mount namespaces ({exc.reason})")


def require_root(why: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"{GATE} not root ({why})")


@pytest.fixture(scope="session")
def namespaces():
    """Use in a test (or autouse in a module) that needs mount namespaces."""
    require_namespaces()
