"""ci/track_pins.py on a real excerpt of Debian sid's signed Sources index (no apt, no network)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from pybuildssl import pins

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "ci"))
_spec = importlib.util.spec_from_file_location("track_pins", REPO / "ci" / "track_pins.py")
tp = importlib.util.module_from_spec(_spec)
sys.modules["track_pins"] = tp
_spec.loader.exec_module(tp)
import debian_index  # noqa: E402

EXCERPT = REPO / "tests" / "fixtures" / "debian" / "sid-Sources-excerpt"
PACKAGES = ["openssl", "python3.13", "python3.14"]


def listed(extra: str = "") -> dict:
    text = EXCERPT.read_text(encoding="utf-8") + extra
    pars = debian_index.paragraphs_of(text.splitlines(keepends=True), PACKAGES)
    return tp.listed_releases(("sid", p) for p in pars)


def test_every_release_of_the_excerpt_is_read_with_its_orig():
    got = listed()
    assert [x.version for x in got["openssl"]] == ["3.5.7", "3.6.3", "3.6.5"]
    assert [x.version for x in got["python3.13"]] == ["3.13.15", "3.13.18"]
    x = got["python3.13"][0]
    assert (x.orig, x.sha256, x.size) == ("python3.13_3.13.15.orig.tar.xz",
                                          "1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76", 23160540)


def test_newest_is_per_line_and_openssl_lines_share_one_package():
    found = tp.newest(pins.load(), listed())
    assert found[("cpython", "3.13")].version == "3.13.18"
    assert found[("openssl", "3.6")].version == "3.6.5"
    assert found[("openssl", "3.5")].version == "3.5.7"  # 3.6.x never counts for 3.5
    assert found[("cpython", "3.12")] is None


def test_a_repack_is_not_upstreams_release():
    repack = ("\nPackage: python3.14\nVersion: 3.14.99+dfsg-1\nChecksums-Sha256:\n"
              f" {'a' * 64} 10 python3.14_3.14.99+dfsg.orig.tar.xz\n")
    assert "python3.14" not in listed(repack)


def test_update_moves_only_lines_with_a_newer_listed_release():
    table = pins.load()
    new, report = tp.updated(table, tp.newest(table, listed()))
    assert new.lines["cpython"]["3.13"].version == "3.13.18"
    assert new.lines["cpython"]["3.13"].evidence == \
        "Debian sid Sources: python3.13 3.13.18-1, python3.13_3.13.18.orig.tar.xz"
    assert new.lines["openssl"]["3.5"] == table.lines["openssl"]["3.5"]  # 3.5.7 listed, 3.5.9 pinned: kept
    assert new.lines["openssl"]["3.6"] == table.lines["openssl"]["3.6"]
    assert any(line.startswith("cpython 3.13: pinned 3.13.15 (signed); NEWER: 3.13.18") for line in report)
    assert any("openssl 3.5: pinned 3.5.9" in line and "is older: kept" in line for line in report)
    assert any(line == "cpython 3.12: pinned 3.12.14 (unsigned); no signed index here lists this line"
               for line in report)


def test_a_different_sha256_for_the_pinned_release_is_flagged_not_taken():
    bad = listed()
    bad["openssl"] = [x if x.version != "3.6.5" else tp.Listed("3.6.5", "f" * 64, 1, x.orig, x.package,
                                                                 x.debian_version, "sid") for x in bad["openssl"]]
    table = pins.load()
    new, report = tp.updated(table, tp.newest(table, bad))
    assert new.lines["openssl"]["3.6"] == table.lines["openssl"]["3.6"]
    assert any("CHECK BY HAND" in line for line in report)


def test_write_is_atomic_and_the_file_still_loads(tmp_path):
    path = tmp_path / "pins.toml"
    path.write_text(pins.PATH.read_text(encoding="utf-8"), encoding="utf-8")
    table = pins.load(path)
    new, _ = tp.updated(table, tp.newest(table, listed()))
    tp.write_atomically(path, pins.render(new, tp.header_of(path.read_text(encoding="utf-8"))))
    assert pins.load(path) == new and [p.name for p in tmp_path.iterdir()] == ["pins.toml"]
    assert path.read_text(encoding="utf-8").startswith(tp.header_of(pins.PATH.read_text(encoding="utf-8")))


def test_a_failed_write_leaves_the_file_untouched(tmp_path, monkeypatch):
    path = tmp_path / "pins.toml"
    path.write_text("old", encoding="utf-8")

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tp.os, "replace", boom)
    with pytest.raises(OSError):
        tp.write_atomically(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["pins.toml"]
