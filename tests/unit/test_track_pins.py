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


def pinned_table() -> pins.Pins:
    """The pins file with CPython 3.13 at 3.13.15, as it stood when sid began to list 3.13.18:
    these tests read the excerpt against a fixed table, not the live file track_pins rewrites."""
    from dataclasses import replace

    table = pins.load()
    old = pins.Pin("cpython", "3.13", "3.13.15", "1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76",
                   23160540, True, "Debian forky Sources: python3.13 3.13.15-1, python3.13_3.13.15.orig.tar.xz (served)")
    return replace(table, lines={**table.lines, "cpython": {**table.lines["cpython"], "3.13": old}})


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
    found = tp.newest(pinned_table(), listed())
    assert found[("cpython", "3.13")].version == "3.13.18"
    assert found[("openssl", "3.6")].version == "3.6.5"
    assert found[("openssl", "3.5")].version == "3.5.7"  # 3.6.x never counts for 3.5
    assert found[("cpython", "3.12")] is None


def test_a_repack_is_not_upstreams_release():
    repack = ("\nPackage: python3.14\nVersion: 3.14.99+dfsg-1\nChecksums-Sha256:\n"
              f" {'a' * 64} 10 python3.14_3.14.99+dfsg.orig.tar.xz\n")
    assert "python3.14" not in listed(repack)


def test_update_moves_only_lines_with_a_newer_listed_release():
    table = pinned_table()
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
    table = pinned_table()
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


# --------------------------------------------------------- with upstream sites ---

def up(version: str, sha: "str | None", site: str = "python.org", size: int = 20834112) -> tp.Upstream:
    name = f"Python-{version}.tar.xz"
    return tp.Upstream(site, version, name, sha, size if sha else None,
                       "https://python.example/api/v2/downloads/release_file/?release=1191",
                       "" if sha else "python.org gives an md5 only")


def run(upstream: dict):
    table = pinned_table()
    got = listed()
    found = tp.newest(table, got)
    new, report = tp.updated(table, found, upstream, got)
    return table, new, report, tp.behind(new, found, upstream)


def test_a_release_only_upstream_knows_is_written_unsigned_with_the_url_of_its_sha256():
    table, new, report, behind = run({("cpython", "3.12"): up("3.12.15", "3" * 64)})
    pin = new.lines["cpython"]["3.12"]
    assert (pin.version, pin.sha256, pin.size, pin.signed) == ("3.12.15", "3" * 64, 20834112, False)
    assert pin.evidence == ("python.org: sha256 of Python-3.12.15.tar.xz read from "
                            "https://python.example/api/v2/downloads/release_file/?release=1191 "
                            "(HTTPS-authenticated, not signed)")
    assert any(line.startswith("cpython 3.12: pinned 3.12.14 (unsigned); no signed index here lists this line; "
                               "NEWER upstream: python.org 3.12.15") for line in report)
    assert behind == []  # every newer release known is in the new table


def test_a_release_a_signed_index_also_lists_keeps_debians_signed_evidence():
    sid = "abb0102e6d4ae027509bcb82327d9dd85515b44a3ba8ad538cfc5e9847029f68"
    _, new, report, _ = run({("cpython", "3.13"): up("3.13.18", sid)})
    pin = new.lines["cpython"]["3.13"]
    assert (pin.version, pin.signed) == ("3.13.18", True) and pin.evidence.startswith("Debian sid Sources")
    assert any(line.endswith(f"python.org 3.13.18 sha256 {sid} (https://python.example/api/v2/downloads/"
                             "release_file/?release=1191): agrees") for line in report)


def test_upstream_and_a_signed_index_disagreeing_on_a_sha256_writes_neither():
    table, new, report, behind = run({("cpython", "3.13"): up("3.13.18", "f" * 64)})
    assert new.lines["cpython"]["3.13"] == table.lines["cpython"]["3.13"]
    line = next(x for x in report if x.startswith("cpython 3.13:"))
    assert "CHECK BY HAND (not written)" in line and "not taken" in line
    assert ("cpython", "3.13") in behind


def test_upstream_disagreeing_with_the_pin_on_its_own_release_is_flagged_and_kept():
    table, new, report, _ = run({("cpython", "3.15"): up("3.15.2", "e" * 64)})
    assert new.lines["cpython"]["3.15"] == table.lines["cpython"]["3.15"]
    assert any(x.startswith("cpython 3.15:") and "CHECK BY HAND" in x for x in report)


def test_a_newer_release_without_a_published_sha256_is_reported_never_written():
    table, new, report, behind = run({("cpython", "3.10"): up("3.10.22", None)})
    assert new.lines["cpython"]["3.10"] == table.lines["cpython"]["3.10"]
    assert any(x.endswith("python.org 3.10.22, sha256 unknown (python.org gives an md5 only): not written")
               for x in report)
    assert ("cpython", "3.10") in behind


def test_newer_in_debian_than_upstream_takes_debians():
    sid_363 = "243a86649cf6f23eeb6a2ff2456e09e5d77dd9018a54d3d96b0c6bdd6ba6c7f1"  # as sid lists 3.6.3
    _, new, report, behind = run({("openssl", "3.6"): up("3.6.3", sid_363, site="GitHub")})
    assert new.lines["openssl"]["3.6"].version == "3.6.5" and ("openssl", "3.6") not in behind
    assert any(x.startswith("openssl 3.6:") and x.endswith(": older") for x in report)
