"""Plans: the exact commands `build` would run, for every shipped recipe, without running anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybuildssl import recipe
from pybuildssl.errors import RecipeError
from pybuildssl.plan import component_keys, make_plan

CACHE = Path("/cache")


def plan_for(name: str, *overrides: str, ssl_patch: str = "PATCH", toolchain: str = "gcc 12"):
    return make_plan(recipe.load(name, list(overrides)), cache_dir=CACHE, jobs=2,
                     toolchain=toolchain, ssl_patch=ssl_patch)


def argv(plan, step: str) -> list[str]:
    (s,) = [s for s in plan.steps if s.name == step]
    return list(s.argv)


@pytest.mark.parametrize("name,target,openssldir", [
    ("linux-x86_64-generic", "linux-x86_64", "/etc/ssl"),
    ("linux-x86_64-debian", "linux-x86_64", "/usr/lib/ssl"),
    ("linux-x86_64-rhel", "linux-x86_64", "/etc/pki/tls"),
    ("linux-x86_64-suse", "linux-x86_64", "/etc/ssl"),
    ("linux-x86_64-arch", "linux-x86_64", "/etc/ssl"),
    ("linux-aarch64-generic", "linux-aarch64", "/etc/ssl"),
    ("macos-arm64", "darwin64-arm64-cc", "/private/etc/ssl"),
    ("macos-x86_64", "darwin64-x86_64-cc", "/private/etc/ssl"),
])
def test_openssl_configure_posix(name, target, openssldir):
    p = plan_for(name)
    # Linux: zig cc emits debug info even without -g (and OpenSSL records its flags): -g0
    linux = ["-g0"] if name.startswith("linux") else []
    assert argv(p, "openssl.configure") == [
        "perl", "./Configure", target, "--prefix=/opt/pybuildssl/openssl", "--libdir=lib",
        f"--openssldir={openssldir}",
        "no-shared", "no-module", "no-engine", "no-apps", "no-docs", "no-tests", *linux]
    assert argv(p, "openssl.make") == ["make", "-j2"]
    assert argv(p, "openssl.install") == ["make", "install_sw", f"DESTDIR={p.dirs.openssl_out}"]


@pytest.mark.parametrize("name", ["linux-x86_64-generic", "linux-x86_64-rhel", "linux-aarch64-generic"])
def test_cpython_configure_linux(name):
    p = plan_for(name, "build.profile=fast")
    root = p.dirs.openssl_out / "opt/pybuildssl/openssl"
    assert argv(p, "cpython.configure") == [
        "../cpython-src/configure", "--prefix=/opt/pybuildssl/python",
        f"--with-openssl={root}", "--with-openssl-rpath=no", "--with-ensurepip=install", "--enable-shared",
        # every library is a component; nothing on the build host may bring a module back
        "--with-system-expat=no", "--with-system-libmpdec=no",
        "py_cv_module__gdbm=n/a", "py_cv_module__dbm=n/a", "py_cv_module__tkinter=n/a"]
    assert argv(p, "cpython.rpath") == ["pybuildssl:set-rpath", str(p.dirs.prefix), "$ORIGIN/../lib"]
    install = [s for s in p.steps if s.name == "cpython.install"][0]
    assert install.env["SOURCE_DATE_EPOCH"] == "1700000000"
    conf = [s for s in p.steps if s.name == "cpython.configure"][0]
    assert conf.cwd == str(p.dirs.cpython_build)
    assert conf.env["CFLAGS"] == (f"-ffile-prefix-map={p.dirs.work}=/opt/pybuildssl/build "
                                  f"-ffile-prefix-map={root}=/opt/pybuildssl/openssl")
    triple = {"linux-aarch64-generic": "aarch64-linux-gnu.2.17"}.get(name, "x86_64-linux-gnu.2.17")
    # Zig through wrapper scripts named cc and c++, first on PATH (tests/unit/test_components.py)
    assert (conf.env["CC"], conf.env["CXX"]) == ("cc", "c++")
    assert conf.env["PATH"].startswith(str(CACHE / "toolchain" / "zig-"))
    assert f"-target {triple} " in p.toolchain.files[p.toolchain.bin_dir + "/cc"]
    deps = p.dirs.work / "deps/opt/pybuildssl/deps"
    assert conf.env["CPPFLAGS"] == f"-I{deps}/include" and conf.env["PKG_CONFIG_LIBDIR"] == f"{deps}/lib/pkgconfig"
    assert conf.env["LIBREADLINE_LIBS"] == f"-L{deps}/lib -lreadline -lncursesw"
    assert argv(p, "cpython.relocate") == [
        "pybuildssl:relocate", str(p.dirs.prefix), "/opt/pybuildssl/python",
        f"{root}=/opt/pybuildssl/openssl", f"{deps}=/opt/pybuildssl/deps",
        f"{p.dirs.work}=/opt/pybuildssl/build"]


def test_the_ssl_patch_comes_before_configure_and_package_last():
    names = [s.name for s in plan_for("linux-x86_64-generic").steps]
    assert names.index("cpython.patch-ssl") < names.index("cpython.configure")
    assert names.index("openssl.install") < names.index("cpython.configure")
    assert names[-1] == "package"


def test_macos_sets_the_deployment_target_and_install_names():
    p = plan_for("macos-arm64")
    conf = [s for s in p.steps if s.name == "openssl.configure"][0]
    assert conf.env == {"MACOSX_DEPLOYMENT_TARGET": "11.0"}
    assert argv(p, "cpython.install-name-exe")[3] == "@loader_path/../lib/libpython3.13.dylib"
    conf = [s for s in plan_for("macos-x86_64").steps if s.name == "cpython.configure"][0]
    assert conf.env["MACOSX_DEPLOYMENT_TARGET"] == "10.15" and "-ffile-prefix-map=" in conf.env["CFLAGS"]


@pytest.mark.parametrize("name,target,plat", [("windows-x86_64", "VC-WIN64A", "x64"),
                                              ("windows-arm64", "VC-WIN64-ARM", "ARM64")])
def test_windows_plan(name, target, plat):
    p = plan_for(name)
    assert argv(p, "openssl.configure") == [
        "perl", "Configure", target, "--prefix=C:\\Program Files\\pybuildssl\\openssl", "--libdir=bin",
        "--openssldir=C:\\Program Files\\Common Files\\SSL",
        "no-module", "no-engine", "no-apps", "no-docs", "no-tests", "no-uplink"]
    assert argv(p, "openssl.make") == ["nmake"]
    build = argv(p, "cpython.build")
    assert build[:4] == ["cmd", "/d", "/c", "build.bat"] and ["-p", plat] == build[4:6]
    # tests/unit/test_windows.py covers the rest of the Windows plan


def test_alpine_refuses_to_build_a_glibc_artifact():
    with pytest.raises(RecipeError) as e:
        plan_for("linux-x86_64-alpine")
    assert "musl" in str(e.value) and "not an Alpine artifact" in e.value.hint


def test_recipe_configure_args_are_appended():
    p = plan_for("linux-x86_64-generic", "openssl.configure_args=[\"enable-ktls\"]",
                 "cpython.configure_args=[\"--without-doc-strings\"]")
    assert argv(p, "openssl.configure")[-2] == "enable-ktls"
    assert argv(p, "cpython.configure")[-1] == "--without-doc-strings"


def test_cpython_knobs_do_not_change_the_openssl_key():
    a = component_keys(recipe.load("linux-x86_64-generic"), toolchain="gcc", ssl_patch="x")
    b = component_keys(recipe.load("linux-x86_64-generic", ["cpython.lto=false"]), toolchain="gcc", ssl_patch="x")
    c = component_keys(recipe.load("linux-x86_64-generic"), toolchain="gcc", ssl_patch="y")
    d = component_keys(recipe.load("linux-x86_64-debian"), toolchain="gcc", ssl_patch="x")
    e = component_keys(recipe.load("linux-x86_64-generic"), toolchain="clang", ssl_patch="x")
    assert a["openssl"] == b["openssl"] == c["openssl"] and a["cpython"] != b["cpython"] != c["cpython"]
    assert d["openssl"] != a["openssl"] and d["cpython"] != a["cpython"]  # OPENSSLDIR differs
    assert e["openssl"] != a["openssl"]
    assert a == component_keys(recipe.load("linux-x86_64-generic"), toolchain="gcc", ssl_patch="x")


def test_plan_json_round_trips():
    import json

    data = plan_for("linux-x86_64-generic").to_json()
    assert json.loads(json.dumps(data))["steps"][0]["name"] == "openssl.fetch"
    assert data["openssldir"] == "/etc/ssl" and data["fallback"][0] == ["dir", "/etc/ssl/certs"]


# ------------------------------------------------------------- profiles ----

def _cpython(p, name):
    return [s for s in p.steps if s.name == name][0]


HOST_CC = ("target.glibc=",)  # no glibc floor: the host's compiler (toolchain cc), not Zig


@pytest.mark.parametrize("name,sets", [("macos-arm64", ()), ("linux-x86_64-generic", HOST_CC),
                                       ("linux-aarch64-generic", HOST_CC)])
def test_release_profile_is_the_default_pgo_and_lto(name, sets):
    r = recipe.load(name, list(sets))
    assert r.raw["build"]["profile"] == "release" and r.toolchain == "cc"
    assert r.cpython_optimizations and r.cpython_lto
    p = plan_for(name, *sets)
    conf = argv(p, "cpython.configure")
    assert "--enable-optimizations" in conf and "--with-lto" in conf
    names = [s.name for s in p.steps]
    assert names.index("cpython.configure") + 1 == names.index("cpython.check-optimizations")
    assert argv(p, "cpython.check-optimizations") == [
        "pybuildssl:check-optimizations", f"{p.dirs.cpython_build}/Makefile", "pgo", "lto"]


def test_with_zig_the_release_profile_is_pgo_and_lto_through_the_clang_wrapper():
    """CPython's configure picks PGO and LTO flags by the compiler's name: a Zig build's CPython
    steps get CC=clang (a wrapper that adds the profile runtime), their key names that wrapper,
    and the relocate step turns clang's names back into cc and ar."""
    r = recipe.load("linux-x86_64-generic")
    assert r.toolchain == "zig" and r.cpython_optimizations and r.cpython_lto
    p = plan_for("linux-x86_64-generic")
    conf = _cpython(p, "cpython.configure")
    assert "--enable-optimizations" in conf.argv and "--with-lto" in conf.argv
    assert conf.env["CC"] == "clang" and _cpython(p, "cpython.make").env["CC"] == "clang"
    # LTO links compile: they get the prefix maps that keep build paths out of debug info
    assert conf.env["LDFLAGS_NODIST"] == conf.env["CFLAGS"] and conf.env["CFLAGS"].startswith("-ffile-prefix-map=")
    assert _cpython(p, "openssl.configure").env["CC"] == "cc"  # only CPython's steps
    assert argv(p, "cpython.check-optimizations")[2:] == ["pgo", "lto"]
    bin_dir = p.toolchain.bin_dir
    relocate = argv(p, "cpython.relocate")
    assert relocate[3:6] == [f"{bin_dir}/llvm-profdata=llvm-profdata", f"{bin_dir}/llvm-ar=ar", "clang=cc"]
    fast = plan_for("linux-x86_64-generic", "build.profile=fast")
    assert _cpython(fast, "cpython.configure").env["CC"] == "cc" and "LDFLAGS_NODIST" not in _cpython(
        fast, "cpython.configure").env
    assert not any(a.startswith(bin_dir) or a == "clang=cc" for a in argv(fast, "cpython.relocate"))
    assert fast.keys["openssl"] == p.keys["openssl"] and fast.keys["cpython"] != p.keys["cpython"]


def test_a_gcc_lto_build_strips_its_static_pieces_lto_sections_and_debug_lines():
    """gcc's fat LTO objects record the -ffile-prefix-map arguments (the build directory) and keep
    it in their line tables: libpython.a and python.o lose both after the relocate step."""
    names = lambda p: [s.name for s in p.steps]  # noqa: E731
    p = plan_for("linux-x86_64-generic", *HOST_CC)
    assert names(p).index("cpython.strip-static-lto") == names(p).index("cpython.relocate") + 1
    assert argv(p, "cpython.strip-static-lto") == ["pybuildssl:strip-static-lto", str(p.dirs.prefix)]
    for other in (plan_for("linux-x86_64-generic"), plan_for("linux-x86_64-generic", *HOST_CC, "build.profile=fast")):
        assert "cpython.strip-static-lto" not in names(other)  # zig's fat objects keep no build path


def test_a_zig_build_for_another_architecture_gets_lto_but_not_pgo(monkeypatch):
    """PGO's training runs the new interpreter on the build host."""
    monkeypatch.setattr(recipe, "host_arch", lambda: "x86_64")
    r = recipe.load("linux-aarch64-generic")
    assert r.toolchain == "zig" and r.cpython_lto and not r.cpython_optimizations
    monkeypatch.setattr(recipe, "host_arch", lambda: "aarch64")
    assert recipe.load("linux-aarch64-generic").cpython_optimizations


def test_bad_profile_is_refused():
    with pytest.raises(RecipeError, match="key 'build.profile' is 'turbo'") as e:
        recipe.load("linux-x86_64-generic", ["build.profile=turbo"])
    assert "release, fast" in e.value.hint


def test_pgo_training_runs_offline_after_the_trust_patch():
    """Linux: CPython's make (which runs the PGO training) runs in a network namespace with
    only loopback; the patch is applied before configure, so the training runs, and the
    build compiles, the ssl.py that ships."""
    p = plan_for("linux-x86_64-generic", *HOST_CC)
    names = [s.name for s in p.steps]
    assert names.index("cpython.patch-ssl") < names.index("cpython.configure") < names.index("cpython.make")
    make = argv(p, "cpython.make")
    assert make[:7] == ["unshare", "--net", "--map-root-user", "--", "sh", "-c", 'ip link set lo up && exec "$@"']
    assert make[8:] == ["make", f"-j{p.dirs.jobs}"]
    assert _cpython(p, "cpython.make").cwd == str(p.dirs.cpython_build)
    fast = argv(plan_for("linux-x86_64-generic", *HOST_CC, "build.profile=fast"), "cpython.make")
    assert fast == ["make", f"-j{p.dirs.jobs}"]
    assert "unshare" not in argv(p, "cpython.install")


# -------------------------------------------------------- free-threaded ----

@pytest.mark.parametrize("line", ["3.13", "3.14", "3.15"])
def test_free_threaded_configures_disable_gil_and_names_the_artifact(line):
    p = plan_for("linux-x86_64-generic", f"cpython.version={line}", "cpython.free_threaded=true")
    assert "--disable-gil" in argv(p, "cpython.configure")
    assert p.artifact_name.endswith("-x86_64-unknown-linux-gnu-freethreaded-install_only.tar.gz")
    default = plan_for("linux-x86_64-generic", f"cpython.version={line}")
    assert "--disable-gil" not in argv(default, "cpython.configure") and default.keys["cpython"] != p.keys["cpython"]
    assert default.keys["openssl"] == p.keys["openssl"]


def test_free_threaded_needs_313_and_a_posix_target():
    with pytest.raises(RecipeError, match="'cpython.free_threaded' is true but cpython.version is 3.12.") as e:
        recipe.load("linux-x86_64-generic", ["cpython.version=3.12", "cpython.free_threaded=true"])
    assert "--set cpython.version=3.14" in e.value.hint and "experimental" in e.value.hint
    assert recipe.load("linux-x86_64-generic", ["cpython.free_threaded=true"]).cpython_free_threaded
    with pytest.raises(RecipeError, match="not wired for Windows"):
        recipe.load("windows-x86_64", ["cpython.version=3.14", "cpython.free_threaded=true"])
    assert recipe.load("macos-arm64", ["cpython.version=3.14", "cpython.free_threaded=true"]).cpython_free_threaded


def test_check_optimizations_fails_a_configure_that_dropped_them(tmp_path):
    from pybuildssl import actions
    from pybuildssl.errors import BuildError
    from pybuildssl.steps import Step

    step = Step("cpython.check-optimizations", "cpython", ("pybuildssl:check-optimizations",), str(tmp_path))
    makefile = tmp_path / "Makefile"
    # what 3.13.15's configure wrote for CC=cc (Zig's wrapper): no PGO flag, no -flto
    makefile.write_text("PGO_PROF_GEN_FLAG=\nPGO_PROF_USE_FLAG=\nOPT=\t\t-DNDEBUG -g -O3 -Wall\n"
                        "CONFIGURE_CFLAGS_NODIST= -g -std=c11 -Wextra -fvisibility=hidden\n")
    with pytest.raises(BuildError, match=r"turned PGO \(cpython.optimizations\) and LTO \(cpython.lto\) into no "
                                         r"compiler flags \(no -f... in PGO_PROF_USE_FLAG, no -flto... in "
                                         r"CONFIGURE_CFLAGS_NODIST") as e:
        actions.check_optimizations(None, step, tmp_path / "log", str(makefile), "pgo", "lto")
    assert "build.profile=fast" in e.value.hint
    # what it wrote for gcc (Debian 12, measured)
    makefile.write_text(
        "PGO_PROF_GEN_FLAG=-fprofile-generate -fprofile-update=atomic\n"
        "PGO_PROF_USE_FLAG=-fprofile-use -fprofile-correction\n"
        "CONFIGURE_CFLAGS_NODIST= -fno-semantic-interposition -flto -fuse-linker-plugin -ffat-lto-objects "
        "-flto-partition=none -g -std=c11\n")
    actions.check_optimizations(None, step, tmp_path / "log", str(makefile), "pgo", "lto")
    assert "-fprofile-use" in (tmp_path / "log").read_text() and "-flto" in (tmp_path / "log").read_text()
