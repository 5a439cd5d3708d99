"""Lines and their pinned releases (pybuildssl/data/pins.toml): the one source of the pins."""

from __future__ import annotations

import pytest

from pybuildssl import cli, pins, recipe
from pybuildssl.errors import RecipeError

CPYTHON_LINES = ["3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]
OPENSSL_LINES = ["3.5", "3.6"]


def test_the_file_pins_every_supported_line():
    table = pins.load()
    assert table.line_names("cpython") == CPYTHON_LINES
    assert table.line_names("openssl") == OPENSSL_LINES
    for product in pins.PRODUCTS:
        for line in table.line_names(product):
            pin = table.release(product, line)
            assert pins.line_of(pin.version) == line and pin.evidence


@pytest.mark.parametrize("line", CPYTHON_LINES)
def test_a_cpython_line_selects_its_pinned_release(line):
    pin = pins.load().release("cpython", line)
    r = recipe.load("linux-x86_64-generic", [f"cpython.version={line}"])
    assert (r.cpython.version, r.cpython.sha256, r.cpython.size) == (pin.version, pin.sha256, pin.size)
    assert r.cpython.urls[0] == f"https://www.python.org/ftp/python/{pin.version}/Python-{pin.version}.tar.xz"
    assert r.raw["cpython"]["line"] == line


@pytest.mark.parametrize("line", OPENSSL_LINES)
def test_an_openssl_line_selects_its_pinned_release(line):
    pin = pins.load().release("openssl", line)
    r = recipe.load("linux-x86_64-generic", [f"openssl.version={line}"])
    assert (r.openssl.version, r.openssl.sha256, r.openssl.size) == (pin.version, pin.sha256, pin.size)
    assert r.openssl.urls[0].endswith(f"/openssl-{pin.version}/openssl-{pin.version}.tar.gz")


@pytest.mark.parametrize("name", ["linux-x86_64-generic", "macos-arm64", "windows-x86_64"])
def test_defaults_are_cpython_313_and_the_openssl_lts_line(name):
    r = recipe.load(name)
    table = pins.load()
    assert r.cpython.version == table.release("cpython", "3.13").version
    assert r.openssl.version == table.release("openssl", "3.5").version


def test_a_pinned_release_needs_no_sha256_and_an_unpinned_one_does():
    r = recipe.load("linux-x86_64-generic", ["cpython.version=3.14.10"])
    assert r.cpython.sha256 == pins.load().release("cpython", "3.14").sha256
    with pytest.raises(RecipeError) as e:
        recipe.load("linux-x86_64-generic", ["cpython.version=3.14.2"])
    assert str(e.value) == "--set: key 'cpython.version' is '3.14.2', a release without a pin " \
                           "(no 'cpython.sha256' beside it)"
    assert "set cpython.sha256" in e.value.hint and "3.14.10" in e.value.hint


def test_an_unpinned_line_names_the_pinned_ones(capsys):
    with pytest.raises(RecipeError) as e:
        recipe.load("linux-x86_64-generic", ["cpython.version=3.9"])
    assert str(e.value) == "--set: key 'cpython.version' is the line '3.9', which has no pinned release"
    assert "3.10, 3.11, 3.12, 3.13, 3.14, 3.15" in e.value.hint
    assert cli.main(["plan", "--set", "openssl.version=3.4"]) == 2
    assert "pinned openssl lines: 3.5, 3.6" in capsys.readouterr().err


def test_a_line_with_its_own_sha256_is_refused():
    with pytest.raises(RecipeError, match="names the line '3.12' and sets 'cpython.sha256' too") as e:
        recipe.load("linux-x86_64-generic", ["cpython.version=3.12", "cpython.sha256=" + "a" * 64])
    assert "3.12.14" in e.value.hint


def test_a_release_with_its_own_sha256_is_the_users_pin():
    r = recipe.load("linux-x86_64-generic", ["cpython.version=3.13.15", "cpython.sha256=" + "b" * 64])
    assert r.cpython.sha256 == "b" * 64 and r.cpython.size == 0


def _data(**changes):
    pin = {"version": "3.13.15", "sha256": "a" * 64, "size": 1, "signed": True, "evidence": "x"}
    pin.update(changes)
    return {"cpython": {"lines": {"3.13": pin}},
            "openssl": {"lines": {"3.5": {**pin, "version": "3.5.9"}}}}


@pytest.mark.parametrize("changes", [{"version": "3.14.1"}, {"sha256": "XYZ"}, {"size": 0}, {"signed": "yes"},
                                     {"evidence": ""}, {"url": "https://x"}])
def test_a_bad_pin_is_refused_naming_its_key(changes):
    with pytest.raises(RecipeError, match=r"pins.toml: cpython.lines.'3.13' must be X.Y holding version"):
        pins.parse(_data(**changes), "pins.toml")


def test_render_gives_back_the_file():
    text = pins.PATH.read_text(encoding="utf-8")
    header = text[:text.index("\n[") + 1]
    assert pins.render(pins.load(), header) == text
