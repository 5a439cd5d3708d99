"""Recipes: every shipped recipe resolves; every bad input says what, where and what to do."""

from __future__ import annotations

import pytest

from pybuildssl import layouts, recipe
from pybuildssl.errors import RecipeError

SHIPPED = sorted(recipe.available())


def test_the_shipped_targets_are_all_there():
    assert set(SHIPPED) >= {
        "linux-x86_64-generic", "linux-x86_64-debian", "linux-x86_64-rhel", "linux-x86_64-suse",
        "linux-x86_64-alpine", "linux-x86_64-arch", "linux-aarch64-generic", "macos-arm64",
        "macos-x86_64", "windows-x86_64", "windows-arm64"}
    assert not any(n.startswith("_") for n in SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_recipe_resolves_with_openssl_3_2_plus(name):
    r = recipe.load(name)
    assert r.openssl.version_tuple >= (3, 2, 0)
    assert len(r.openssl.sha256) == 64 and len(r.cpython.sha256) == 64
    assert r.openssl.urls[0].startswith("https://") and r.openssl.version in r.openssl.urls[0]


@pytest.mark.parametrize("name,openssldir", [
    ("linux-x86_64-debian", "/usr/lib/ssl"),
    ("linux-x86_64-rhel", "/etc/pki/tls"),
    ("linux-x86_64-suse", "/etc/ssl"),
    ("linux-x86_64-arch", "/etc/ssl"),
    ("linux-x86_64-generic", "/etc/ssl"),
    ("macos-arm64", "/private/etc/ssl"),
])
def test_openssldir_comes_from_the_layout_table(name, openssldir):
    r = recipe.load(name)
    assert r.openssldir == openssldir
    table = layouts.load()
    expected = table.openssldir(r.os, r.vendor)
    assert r.openssldir == expected


def test_windows_openssldir_is_not_user_writable_or_a_build_path():
    r = recipe.load("windows-x86_64")
    assert r.openssldir.startswith("C:\\Program Files\\")
    assert r.fallback == ()


def test_linux_fallback_is_derived_from_the_table_in_order():
    r = recipe.load("linux-x86_64-generic")
    assert list(r.fallback) == layouts.load().fallback("linux")
    # a vendor's hashed directory before its bundle: the cheaper form of the same store
    assert r.fallback[:2] == (("dir", "/etc/ssl/certs"), ("file", "/etc/ssl/certs/ca-certificates.crt"))
    assert ("file", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem") in r.fallback


def test_vendor_auto_takes_the_build_hosts_vendor():
    r = recipe.load("linux-x86_64-generic", ["target.vendor=auto"], host_vendor=lambda: "rhel")
    assert r.vendor == "rhel" and r.openssldir == "/etc/pki/tls"


def test_overrides_need_a_matching_pin():
    with pytest.raises(RecipeError) as e:
        recipe.load("linux-x86_64-generic", ["openssl.version=3.5.7"])
    assert "openssl.version" in str(e.value) and "sha256" in str(e.value)
    assert "set openssl.sha256" in e.value.hint
    r = recipe.load("linux-x86_64-generic", [
        "openssl.version=3.5.7", "openssl.sha256=" + "a" * 64, "openssl.size=53153930"])
    assert r.openssl.version == "3.5.7" and r.openssl.size == 53153930
    assert r.openssl.urls[0].endswith("openssl-3.5.7.tar.gz")


def test_an_override_changes_the_digest():
    a = recipe.load("linux-x86_64-generic")
    b = recipe.load("linux-x86_64-generic", ["cpython.lto=false"])
    assert a.digest() != b.digest() and a.cpython_lto and not b.cpython_lto


def test_a_users_recipe_can_extend_a_shipped_one(fixtures):
    r = recipe.load(str(fixtures / "recipes" / "good-local.toml"))
    assert r.vendor == "debian" and r.jobs == 2 and r.name == "good-local"


# ----------------------------------------------------------------- bad input ---

def _err(fixtures, name, overrides=()):
    path = fixtures / "recipes" / name
    with pytest.raises(RecipeError) as e:
        recipe.load(str(path), list(overrides))
    return str(e.value), e.value.hint or "", str(path)


def test_malformed_toml_names_file_and_line(fixtures):
    msg, hint, path = _err(fixtures, "bad-toml.toml")
    assert path in msg and "malformed TOML" in msg and "line 2" in msg


def test_unknown_key_gets_a_did_you_mean(fixtures):
    msg, hint, path = _err(fixtures, "bad-unknown-key.toml")
    assert path in msg and "'openssl.openssl_dir'" in msg
    assert "Perhaps you meant 'openssl.openssldir'?" == hint


def test_openssl_older_than_3_2_is_refused(fixtures):
    msg, hint, path = _err(fixtures, "bad-old-openssl.toml")
    assert path in msg and "'openssl.version' is '3.0.15'" in msg and "3.2 or newer" in msg


def test_unknown_vendor_lists_the_valid_ones(fixtures):
    msg, hint, path = _err(fixtures, "bad-vendor.toml")
    assert path in msg and "'slackware'" in msg
    for v in ("debian", "rhel", "suse", "alpine", "arch", "generic", "auto"):
        assert v in hint


def test_bad_sha256_is_named(fixtures):
    msg, hint, path = _err(fixtures, "bad-sha256.toml")
    assert path in msg and "cpython.sha256" in msg and "64 hex digits" in msg


def test_windows_recipe_refuses_no_winstore(fixtures):
    msg, hint, path = _err(fixtures, "bad-winstore.toml")
    assert "no-winstore" in msg and "winstore" in hint


def test_missing_recipe_file_and_unknown_name():
    with pytest.raises(RecipeError) as e:
        recipe.load("/nonexistent/dir/r.toml")
    assert "recipe file not found: /nonexistent/dir/r.toml" in str(e.value)
    with pytest.raises(RecipeError) as e:
        recipe.load("linux-x86_64-debain")
    assert "no recipe named 'linux-x86_64-debain'" in str(e.value)
    assert "'linux-x86_64-debian'" in e.value.hint


def test_set_with_unknown_key_and_bad_syntax():
    with pytest.raises(RecipeError) as e:
        recipe.load("linux-x86_64-generic", ["cpython.optimisations=true"])
    assert "--set: unknown key 'cpython.optimisations'" in str(e.value)
    assert "cpython.optimizations" in e.value.hint
    with pytest.raises(RecipeError) as e:
        recipe.load("linux-x86_64-generic", ["cpython.lto"])
    assert "expected section.key=value" in str(e.value)


def test_wrong_type_and_choice():
    with pytest.raises(RecipeError) as e:
        recipe.load("linux-x86_64-generic", ["build.jobs=\"four\""])
    assert "'build.jobs' must be a int" in str(e.value)
    with pytest.raises(RecipeError) as e:
        recipe.load("linux-x86_64-generic", ["build.compression=\"bz2\""])
    assert "gz, xz, zst" in e.value.hint


def test_default_recipe_for_this_host_exists():
    assert recipe.default_for_host() in recipe.available()
