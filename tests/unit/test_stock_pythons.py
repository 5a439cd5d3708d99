"""ci/stock_pythons.py: what it decides without apt or a compiler (no subprocess here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ci"))
import stock_pythons as sp  # noqa: E402


def test_one_cpython_per_debian_release_oldest_first():
    assert sp.MINORS == ("3.9", "3.11", "3.13")
    assert [(pkg, suite) for _, pkg, suite in sp.STOCK] == [
        ("python3.9", "bullseye"), ("python3.11", "bookworm"), ("python3.13", "trixie")]


def test_prefix_is_keyed_by_version_and_tarball(monkeypatch, tmp_path):
    monkeypatch.setenv("PYBUILDSSL_CACHE", str(tmp_path))
    a = sp.prefix_for("3.11.2", "24" * 32)
    assert a == tmp_path / "stock-pythons" / "3.11.2-242424242424"
    assert sp.prefix_for("3.11.2", "25" * 32) != a
    assert not sp.is_complete(a)
    (a / sp.STAMP).parent.mkdir(parents=True)
    assert not sp.is_complete(a)  # a directory without the stamp is not a finished build
    (a / sp.STAMP).write_text("{}")
    assert sp.is_complete(a)


def test_unknown_minor_is_exit_code_2_before_apt_runs(capsys):
    assert sp.main(["3.10"]) == 2
    err = capsys.readouterr().err
    assert "unknown minor 3.10" in err and "3.9, 3.11, 3.13" in err


def test_ensure_names_the_known_minors():
    with pytest.raises(sp.StockError, match="no stock CPython '3.8'; known: 3.9, 3.11, 3.13"):
        sp.ensure("3.8")
