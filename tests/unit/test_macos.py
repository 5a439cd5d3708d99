"""macOS targets: the exact plan (darwin64 OpenSSL, deployment target, install names), nothing run."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybuildssl import layouts, recipe
from pybuildssl.errors import RecipeError
from pybuildssl.plan import make_plan
from pybuildssl.platforms import macos

CACHE = Path("/cache")


def plan_for(name: str, *overrides: str):
    return make_plan(recipe.load(name, list(overrides)), cache_dir=CACHE, jobs=3, toolchain="Apple clang 16",
                     ssl_patch="PATCH")


def step(plan, name: str):
    (s,) = [s for s in plan.steps if s.name == name]
    return s


@pytest.mark.parametrize("name,target,dt", [("macos-arm64", "darwin64-arm64-cc", "11.0"),
                                            ("macos-x86_64", "darwin64-x86_64-cc", "10.15")])
def test_openssl_plan(name, target, dt):
    assert macos.OPENSSL_TARGETS[name.split("-")[1]] == target and macos.DEPLOYMENT_TARGETS[name.split("-")[1]] == dt
    p = plan_for(name)
    conf = step(p, "openssl.configure")
    assert list(conf.argv) == [
        "perl", "./Configure", target, "--prefix=/opt/pybuildssl/openssl", "--libdir=lib",
        "--openssldir=/private/etc/ssl", "no-shared", "no-module", "no-engine", "no-apps", "no-docs", "no-tests"]
    for s in ("openssl.configure", "openssl.make", "openssl.install"):
        assert step(p, s).env == {"MACOSX_DEPLOYMENT_TARGET": dt}
    assert list(step(p, "openssl.make").argv) == ["make", "-j3"]
    assert list(step(p, "openssl.install").argv) == ["make", "install_sw", f"DESTDIR={p.dirs.openssl_out}"]


@pytest.mark.parametrize("name,dt", [("macos-arm64", "11.0"), ("macos-x86_64", "10.15")])
def test_cpython_plan_and_install_names(name, dt):
    p = plan_for(name)
    root = p.dirs.openssl_out / "opt/pybuildssl/openssl"
    conf = step(p, "cpython.configure")
    assert list(conf.argv) == ["../cpython-src/configure", "--prefix=/opt/pybuildssl/python",
                               f"--with-openssl={root}", "--with-openssl-rpath=no", "--with-ensurepip=install",
                               "--enable-shared", "--enable-optimizations", "--with-lto"]  # the release profile
    # CFLAGS are the POSIX ones (build paths mapped away); macOS adds the deployment target
    # (the release profile's LTO links compile too: they get the same maps, not for extensions)
    assert conf.env["MACOSX_DEPLOYMENT_TARGET"] == dt and set(conf.env) == {"MACOSX_DEPLOYMENT_TARGET", "CFLAGS",
                                                                          "LDFLAGS_NODIST"}
    assert f"-ffile-prefix-map={p.dirs.work}=/opt/pybuildssl/build" in conf.env["CFLAGS"]
    assert conf.env["LDFLAGS_NODIST"] == conf.env["CFLAGS"]
    prefix = str(p.dirs.prefix)
    assert list(step(p, "cpython.install-name-id").argv) == [
        "install_name_tool", "-id", "@rpath/libpython3.13.dylib", f"{prefix}/lib/libpython3.13.dylib"]
    assert list(step(p, "cpython.install-name-exe").argv) == [
        "install_name_tool", "-change", "/opt/pybuildssl/python/lib/libpython3.13.dylib",
        "@loader_path/../lib/libpython3.13.dylib", f"{prefix}/bin/python3.13"]
    assert list(step(p, "cpython.codesign").argv) == [
        "codesign", "--force", "--sign", "-", f"{prefix}/lib/libpython3.13.dylib", f"{prefix}/bin/python3.13"]
    names = [s.name for s in p.steps]
    # install names first: the relocate step runs the installed interpreter
    assert names.index("cpython.install") < names.index("cpython.install-name-id") \
        < names.index("cpython.install-name-exe") < names.index("cpython.codesign") < names.index("cpython.relocate")
    assert not any(s.argv[0] == "pybuildssl:macos-install-names" for s in p.steps)


def test_a_static_libpython_needs_no_install_names():
    p = plan_for("macos-arm64", "cpython.shared=false")
    assert not [s for s in p.steps if s.name.startswith(("cpython.install-name", "cpython.codesign"))]
    assert "--enable-shared" not in step(p, "cpython.configure").argv


def test_the_python_version_comes_from_the_recipe():
    p = plan_for("macos-arm64", 'cpython.version="3.12.11"',
                 'cpython.sha256="' + "0" * 64 + '"')
    assert step(p, "cpython.install-name-exe").argv[-1].endswith("/bin/python3.12")


def test_openssldir_and_fallback_come_from_the_layout_table():
    table = layouts.load()
    for name in ("macos-arm64", "macos-x86_64"):
        r = recipe.load(name)
        assert r.openssldir == table.vendor("macos").openssldir == "/private/etc/ssl"
        assert r.fallback == tuple(table.fallback("macos"))
        paths = [p for _, p in r.fallback]
        assert paths[0] == "/private/etc/ssl/cert.pem"
        assert "/opt/homebrew/etc/openssl@3/cert.pem" in paths and "/opt/local/etc/openssl/cert.pem" in paths
        assert all(k == "file" for k, _ in r.fallback), "macOS ships no hashed CA directories"


def test_homebrew_and_macports_are_macos_vendors_too():
    for vendor, ssldir in (("homebrew", "/opt/homebrew/etc/openssl@3"), ("macports", "/opt/local/etc/openssl")):
        r = recipe.load("macos-arm64", [f'target.vendor="{vendor}"'])
        assert r.openssldir == ssldir
        assert list(step(plan_for("macos-arm64", f'target.vendor="{vendor}"'), "openssl.configure").argv)[5] == \
            f"--openssldir={ssldir}"


def test_non_macos_arch_is_refused():
    with pytest.raises(RecipeError, match="not a macOS arch"):
        plan_for("macos-arm64", "target.arch=aarch64")
