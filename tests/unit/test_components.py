"""Portable Linux artifacts, decided purely: components, alternatives, the toolchain, glibc.floor."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from pybuildssl import components, recipe, recipe_source, sources, toolchain
from pybuildssl.errors import PrerequisiteError, RecipeError
from pybuildssl.plan import component_keys, make_plan
from pybuildssl import binfmt as elf
from pybuildssl.verify import checks
from pybuildssl.verify.report import Report

CACHE = Path("/cache")
DEFAULT = ["zlib", "bzip2", "xz", "libffi", "sqlite", "ncurses", "readline", "libuuid"]


def plan_for(name: str = "linux-x86_64-generic", *overrides: str, tc: str = "0.15.2"):
    return make_plan(recipe.load(name, list(overrides)), cache_dir=CACHE, jobs=2, toolchain=tc, ssl_patch="P")


def keys(*overrides: str, name: str = "linux-x86_64-generic", tc: str = "0.15.2") -> dict[str, str]:
    return component_keys(recipe.load(name, list(overrides)), toolchain=tc, ssl_patch="P")


def step(plan, name: str):
    (s,) = [s for s in plan.steps if s.name == name]
    return s


# --------------------------------------------------------------- recipes ---

@pytest.mark.parametrize("name", ["linux-x86_64-generic", "linux-x86_64-debian", "linux-x86_64-rhel",
                                  "linux-x86_64-suse", "linux-x86_64-arch", "linux-aarch64-generic"])
def test_every_linux_recipe_has_a_glibc_floor_zig_and_the_default_components(name):
    r = recipe.load(name)
    assert (r.glibc, r.toolchain) == ("2.17", "zig")
    assert list(r.components) == DEFAULT
    assert r.allow_libraries == ()  # only glibc's family may come from the host
    for c in r.components.values():
        assert len(c.sha256) == 64 and c.size > 0 and c.urls[0].startswith("https://")


def test_switches_add_tcl_tk_and_gdbm_in_build_order():
    r = recipe.load("linux-x86_64-generic", ["components.tkinter=true", "components.gdbm=true"])
    assert list(r.components) == [*DEFAULT, "gdbm", "tcl", "tk"]
    args = components.cpython_configure_args(r)
    assert "py_cv_module__tkinter=n/a" not in args and "--with-dbmliborder=gdbm" in args


def test_macos_and_windows_build_no_components():
    for name in ("macos-arm64", "windows-x86_64"):
        r = recipe.load(name)
        assert r.components == {} and r.toolchain == "cc" and r.glibc == ""


def test_the_floor_is_overridable_and_empty_means_the_host_cc():
    r = recipe.load("linux-x86_64-generic", ["target.glibc=2.28"])
    assert (r.glibc, r.toolchain, r.glibc_tuple) == ("2.28", "zig", (2, 28))
    r = recipe.load("linux-x86_64-generic", ["target.glibc="])
    assert (r.glibc, r.toolchain) == ("", "cc") and list(r.components) == DEFAULT


@pytest.mark.parametrize("bad", ["2.17.1", "3", "glibc-2.17", "2"])
def test_a_malformed_floor_is_refused(bad):
    with pytest.raises(RecipeError) as e:
        recipe.load("linux-x86_64-generic", [f"target.glibc={bad!r}".replace("'", '"')])
    assert "target.glibc" in str(e.value) and "2.17" in e.value.hint


def test_zig_without_a_floor_is_refused():
    with pytest.raises(RecipeError) as e:
        plan_for("linux-x86_64-generic", "target.glibc=", "build.toolchain=zig")
    assert "target.glibc is empty" in str(e.value)


def test_alternatives_belong_to_their_version():
    zlib = recipe.load("linux-x86_64-generic").components["zlib"]
    assert zlib.pinned_as(zlib.sha256) == "primary"
    assert zlib.pinned_as(zlib.alternatives[0].sha256) == "alternative" and zlib.pinned_as("0" * 64) == ""
    assert zlib.alternatives[0].file.startswith("zlib_1.3.dfsg+really1.3.1")
    other = "1" * 64
    bumped = recipe.load("linux-x86_64-generic", ["zlib.version=1.3.2", f"zlib.sha256={other}"]).components["zlib"]
    assert bumped.alternatives == () and bumped.size == 0  # a new version brings its own pins


def test_a_version_bump_without_its_pin_is_refused():
    with pytest.raises(RecipeError) as e:
        recipe.load("linux-x86_64-generic", ["sqlite.version=3.50.0"])
    assert "sqlite.version" in str(e.value) and "sqlite.sha256" in e.value.hint


def test_a_malformed_alternative_names_its_key(tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text('extends = "linux-x86_64-generic"\n[xz]\nversion = "5.8.1"\n'
                 f'sha256 = "{"a" * 64}"\nalternatives = [{{ sha256 = "nothex", size = 1 }}]\n')
    with pytest.raises(RecipeError) as e:
        recipe.load(str(p))
    assert "xz.alternatives[0]" in str(e.value)


def test_a_component_version_is_checked(tmp_path):
    with pytest.raises(RecipeError) as e:
        recipe.load("linux-x86_64-generic", ["ncurses.version=snapshot", f"ncurses.sha256={'a' * 64}"])
    assert "ncurses.version" in str(e.value)


# ------------------------------------------------------------------ plans ---

def test_plan_shows_every_component_step_in_order():
    p = plan_for()
    names = [s.name for s in p.steps]
    assert names[:4] == ["openssl.fetch", "openssl.extract", "openssl.patch", "openssl.configure"]
    for c in DEFAULT:
        assert names.index(f"{c}.fetch") < names.index(f"{c}.extract") < names.index(f"{c}.install")
        assert names.index("openssl.install") < names.index(f"{c}.fetch") < names.index("cpython.deps")
    assert names.index("cpython.deps") < names.index("cpython.configure")
    assert names.index("ncurses.install") < names.index("readline.configure")
    assert p.order == ["openssl", *DEFAULT, "cpython"]
    merge = step(p, "cpython.deps").argv
    assert merge[:2] == ("pybuildssl:merge-deps", str(p.dirs.work / "deps"))
    assert list(merge[2:]) == [str(p.dirs.component_out[c]) for c in DEFAULT]


def test_components_build_static_pic_with_a_neutral_prefix_and_no_build_paths():
    p = plan_for()
    for c in DEFAULT:
        conf = [s for s in p.steps if s.component == c and s.name in (f"{c}.configure", f"{c}.make")][0]
        assert "-fPIC" in conf.env["CFLAGS"]
        assert f"-ffile-prefix-map={p.dirs.work}=/opt/pybuildssl/build" in conf.env["CFLAGS"]
        assert conf.env["CC"] == "cc" and conf.env["PATH"].startswith(p.toolchain.bin_dir + ":")
        install = step(p, f"{c}.install").argv
        assert any(a in (f"DESTDIR={p.dirs.component_out[c]}", f"PREFIX={p.dirs.component_out[c]}/opt/pybuildssl/deps",
                         f"{p.dirs.component_out[c]}/opt/pybuildssl/deps") for a in install), install
    for c in ("xz", "libffi", "sqlite", "readline", "libuuid"):
        assert {"--prefix=/opt/pybuildssl/deps", "--disable-shared", "--with-pic"} <= set(step(p, f"{c}.configure").argv)
    assert step(p, "zlib.configure").argv == ("./configure", "--prefix=/opt/pybuildssl/deps", "--static")
    assert "--disable-multi-os-directory" in step(p, "libffi.configure").argv  # lib, not lib64
    nc = step(p, "ncurses.configure").argv
    assert "--without-shared" in nc and "--enable-widec" in nc
    assert f"--with-terminfo-dirs={components.TERMINFO_DIRS}" in nc  # the target's terminfo, not ours
    rl = step(p, "readline.configure")
    ncurses_root = p.dirs.component_out["ncurses"] / "opt/pybuildssl/deps"
    assert f"-I{ncurses_root}/include" in rl.env["CPPFLAGS"]
    assert f"-ffile-prefix-map={ncurses_root}=/opt/pybuildssl/deps" in rl.env["CFLAGS"]
    assert step(p, "readline.install").argv[:2] == ("make", "install-static")
    assert "-DSQLITE_ENABLE_FTS5" in step(p, "sqlite.configure").env["CFLAGS"]
    # the library and its header only: `make install` would compile the shell too
    assert step(p, "sqlite.install").argv[2:4] == ("lib=.libs/libsqlite3.a", "include=sqlite3.h")
    assert step(p, "libffi.autoreconf").argv[0] == "pybuildssl:autoreconf"


def test_cpython_sees_only_the_deps_prefix():
    p = plan_for()
    env = step(p, "cpython.configure").env
    deps = p.dirs.work / "deps/opt/pybuildssl/deps"
    assert env["PKG_CONFIG_LIBDIR"] == f"{deps}/lib/pkgconfig"  # replaces the host's .pc search path
    assert env["LDFLAGS"] == f"-L{deps}/lib"
    for var, lib in (("ZLIB", "-lz"), ("BZIP2", "-lbz2"), ("LIBLZMA", "-llzma"), ("LIBFFI", "-lffi"),
                     ("LIBUUID", "-luuid"), ("CURSES", "-lncursesw"), ("PANEL", "-lpanelw -lncursesw"),
                     ("LIBREADLINE", "-lreadline -lncursesw")):
        assert env[f"{var}_LIBS"] == f"-L{deps}/lib {lib}"
        assert env[f"{var}_CFLAGS"].startswith(f"-I{deps}/include")
    assert env["LIBUUID_CFLAGS"] == f"-I{deps}/include/uuid"  # configure then includes <uuid.h>
    assert "TCLTK_LIBS" not in env and "GDBM_LIBS" not in env


def test_a_library_change_rebuilds_it_and_what_depends_on_it_only():
    base = keys()
    zlib = keys("zlib.configure_args=[\"--zprefix\"]")
    changed = {k for k in base if base[k] != zlib[k]}
    assert changed == {"zlib", "cpython"}
    nc = keys("ncurses.configure_args=[\"--with-x\"]")
    assert {k for k in base if base[k] != nc[k]} == {"ncurses", "readline", "cpython"}
    py = keys("cpython.lto=false")
    assert {k for k in base if base[k] != py[k]} == {"cpython"}
    floor = keys("target.glibc=2.28")
    assert all(base[k] != floor[k] for k in base)  # another toolchain target: everything
    assert base == keys()


def test_the_toolchain_enters_every_key():
    a, b = keys(tc="0.15.2"), keys(tc="0.14.1")
    assert all(a[k] != b[k] for k in a)
    host = keys("target.glibc=", tc="gcc 12")
    assert host["zlib"] != a["zlib"]


def test_the_build_sees_plain_cc_and_the_relocate_step_maps_the_deps_prefix():
    tc = toolchain.describe(recipe.load("linux-x86_64-generic", ["build.profile=fast"]), zig="/z/zig",
                            zig_version="0.15.2", cache_dir=CACHE, host_path="/usr/bin")
    p = plan_for("linux-x86_64-generic", "build.profile=fast", tc=tc)
    assert step(p, "cpython.configure").env["CC"] == "cc"  # what sysconfig and OpenSSL record
    assert step(p, "openssl.configure").env["PATH"] == f"{tc.bin_dir}:/usr/bin"
    argv = step(p, "cpython.relocate").argv
    assert not any("zig" in a for a in argv)
    assert argv.index(f"{p.dirs.work / 'deps/opt/pybuildssl/deps'}=/opt/pybuildssl/deps") < \
        argv.index(f"{p.dirs.work}=/opt/pybuildssl/build")
    assert p.to_json()["toolchain"] == {"kind": "zig", "id": "zig 0.15.2 x86_64-linux-gnu.2.17 "
                                        "-fno-sanitize=undefined -Wno-error=date-time wrapper 2"}
    assert p.to_json()["components"]["libffi"]["alternatives"]


def test_without_a_floor_the_host_cc_builds_the_same_components():
    p = plan_for("linux-x86_64-generic", "target.glibc=", tc="gcc 12")
    assert "CC" not in step(p, "zlib.configure").env and "CC" not in step(p, "cpython.configure").env
    assert step(p, "cpython.relocate").argv[3] == f"{p.dirs.openssl_root}=/opt/pybuildssl/openssl"
    assert [c for c in p.order] == ["openssl", *DEFAULT, "cpython"]


# -------------------------------------------------------------- toolchain ---

def test_describe_zig_for_each_arch(tmp_path):
    r = recipe.load("linux-aarch64-generic")
    tc = toolchain.describe(r, zig="/z", zig_version="0.15.2", cache_dir=tmp_path, zig_cache=tmp_path / "zc")
    assert tc.bin_dir.startswith(str(tmp_path / "toolchain" / "zig-")) and tc.env["CXX"] == "c++"
    text = tc.files[tc.bin_dir + "/cc"]
    assert "exec '/z' cc -target aarch64-linux-gnu.2.17 -fno-sanitize=undefined -Wno-error=date-time \"$@\"" in text
    assert f"ZIG_GLOBAL_CACHE_DIR='{tmp_path / 'zc'}'" in text
    # CPython links libpython with -Wl,-hSONAME, which zig's driver does not take, and
    # libpython3.so from nothing but libpython3.13.so, which zig hands to clang with a bad triple
    assert '-Wl,-h*) a="-Wl,-soname,${a#-Wl,-h}"' in text
    empty = tc.bin_dir + "/empty.c"
    assert f"set -- \"$@\" '{empty}'" in text and empty in tc.files
    other = toolchain.describe(r, zig="/elsewhere/zig", zig_version="0.15.2", cache_dir=tmp_path)
    assert other.bin_dir != tc.bin_dir and other.id == tc.id  # another install, same compiler


def test_install_writes_the_wrappers_and_warms_zig_from_the_root_once(tmp_path):
    tc = toolchain.describe(recipe.load("linux-x86_64-generic"), zig="/z", zig_version="0.15.2",
                            cache_dir=tmp_path, zig_cache=tmp_path / "zc")
    calls = []
    toolchain.install(tc, run=lambda argv, cwd: calls.append((argv, cwd)) or 0)
    assert os.access(tc.bin_dir + "/cc", os.X_OK) and Path(tc.bin_dir, "c++").read_text() == tc.files[tc.bin_dir + "/c++"]
    assert calls and all(cwd == "/" and argv[0] == tc.bin_dir + "/cc" for argv, cwd in calls)
    assert any("-shared" in argv for argv, _ in calls) and any("-O3" in argv for argv, _ in calls)
    toolchain.install(tc, run=lambda argv, cwd: calls.append("again") or 0)
    assert "again" not in calls  # the stamp in the zig cache says it is warm
    fresh = toolchain.describe(recipe.load("linux-x86_64-generic"), zig="/z", zig_version="0.15.2",
                               cache_dir=tmp_path, zig_cache=tmp_path / "zc2")
    with pytest.raises(PrerequisiteError):
        toolchain.install(fresh, run=lambda argv, cwd: 1)


def test_the_zig_cache_is_outside_the_build_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("PYBUILDSSL_ZIG_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert toolchain.default_zig_cache() == tmp_path / "zig-pybuildssl"
    assert not str(toolchain.default_zig_cache()).startswith(str(tmp_path / "pybuildssl"))
    monkeypatch.setenv("PYBUILDSSL_ZIG_CACHE", "/z/cache")
    assert toolchain.default_zig_cache() == Path("/z/cache")


class _Done:
    def __init__(self, out: str, code: int = 0) -> None:
        self.stdout, self.stderr, self.returncode = out, "", code


def test_a_missing_zig_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(toolchain, "find_zig", lambda: None)
    with pytest.raises(PrerequisiteError) as e:
        toolchain.identify(recipe.load("linux-x86_64-generic"), lambda argv: _Done(""), tmp_path)
    assert "glibc floor (2.17)" in str(e.value)
    assert f"pip install 'ziglang=={toolchain.ZIG_TESTED}'" in e.value.hint and "target.glibc=" in e.value.hint
    monkeypatch.setattr(toolchain, "find_zig", lambda: "/opt/zig")
    tc = toolchain.identify(recipe.load("linux-x86_64-generic"), lambda argv: _Done("0.15.2\n"), tmp_path)
    assert tc.id.startswith("zig 0.15.2 x86_64-linux-gnu.2.17") and tc.env["PATH"].startswith(tc.bin_dir)


def test_pybuildssl_zig_wins(monkeypatch):
    monkeypatch.setenv("PYBUILDSSL_ZIG", "/somewhere/zig")
    assert toolchain.find_zig() == "/somewhere/zig"


# -------------------------------------------------------- the source door ---

def test_the_source_door_accepts_an_alternative_and_says_which(tmp_path):
    data = b"a repacked tarball"
    d = tmp_path / "srcs"
    d.mkdir()
    (d / "whatever-name.tar.gz").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    r = recipe.load("linux-x86_64-generic", [f"zlib.alternatives=[{{sha256 = \"{sha}\", size = {len(data)}}}]"])
    # alternatives from --set belong to the _common version only when the version is set there too
    assert r.components["zlib"].alternatives == ()
    src = recipe.Source(name="zlib", version="1.3.1", url="https://example.invalid/zlib-{version}.tar.gz",
                        mirrors=(), sha256="f" * 64, size=10, configure_args=(), patches=(),
                        alternatives=(recipe_source.Alternative(sha256=sha, size=len(data), file="zlib.orig.tar.gz"),))
    door = sources.Sources(tmp_path / "cache", [d], offline=True)
    path, pin = door.fetch_pinned(src)
    assert path == d / "whatever-name.tar.gz" and pin == sha and src.pinned_as(pin) == "alternative"
    missing = recipe_source.Source(**{**src.__dict__, "alternatives": (recipe_source.Alternative(sha256="e" * 64, size=3),)})
    with pytest.raises(sources.SourceError) as e:
        door.fetch_pinned(missing)
    assert "e" * 64 in str(e.value) and "f" * 64 in str(e.value)


# ------------------------------------------------------------- glibc.floor ---

def _target(tmp_path, glibc: str) -> checks.Target:
    return checks.Target(input=tmp_path, root=tmp_path, manifest={"target": {"os": "linux", "glibc": glibc}})


def _info(tmp_path, name: str, *versions: str) -> elf.ELFInfo:
    return elf.ELFInfo(path=str(tmp_path / name), version_needs={"libc.so.6": list(versions)})


def test_glibc_floor_lists_every_offender(tmp_path):
    infos = [_info(tmp_path, "bin/python3.13", "GLIBC_2.2.5", "GLIBC_2.17"),
             _info(tmp_path, "lib/a.so", "GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.28"),
             _info(tmp_path, "lib/b.so", "GLIBC_2.35")]
    r = Report(target="t")
    checks.check_glibc_floor(_target(tmp_path, "2.17"), infos, r)
    (f,) = r.findings
    assert f.id == "glibc.floor" and f.status == "fail"
    assert "lib/a.so: GLIBC_2.28, GLIBC_2.34" in f.detail and "lib/b.so: GLIBC_2.35" in f.detail
    assert "python3.13" not in f.detail


def test_glibc_floor_passes_at_the_floor_and_skips_without_one(tmp_path):
    infos = [_info(tmp_path, "bin/python3.13", "GLIBC_2.2.5", "GLIBC_2.17")]
    r = Report(target="t")
    checks.check_glibc_floor(_target(tmp_path, "2.17"), infos, r)
    assert r.findings[0].status == "pass" and "GLIBC_2.17 (floor 2.17)" in r.findings[0].detail
    r = Report(target="t")
    checks.check_glibc_floor(_target(tmp_path, ""), infos, r)
    assert r.findings[0].status == "skip" and "GLIBC_2.17" in r.findings[0].detail


def test_libcrypt_is_not_in_glibcs_family_any_more():
    assert "libcrypt.so.1" not in checks.GLIBC_FAMILY and "libc.so.6" in checks.GLIBC_FAMILY


# ------------------------------------------------------------------ --strip ---

def test_strip_drops_tests_and_the_static_libpython_and_strips_unneeded(tmp_path):
    from pybuildssl import actions
    from pybuildssl.steps import Step

    class FakeRunner:
        def __init__(self):
            self.calls = []

        def run(self, argv, **kw):
            self.calls.append(list(argv))

    root = tmp_path / "prefix"
    lib = root / "lib" / "python3.13"
    (lib / "test").mkdir(parents=True)
    (lib / "os.py").write_text("")
    (lib / "config-3.13-x86_64-linux-gnu").mkdir()
    (lib / "config-3.13-x86_64-linux-gnu" / "libpython3.13.a").write_bytes(b"!<arch>\n")
    (root / "lib" / "libpython3.13.so.1.0").write_bytes(b"\x7fELF" + b"\0" * 60)
    runner = FakeRunner()
    ctx = actions.Context(recipe.load("linux-x86_64-generic", ["build.strip=true"]), runner, None, None)
    actions.strip(ctx, Step("cpython.strip", "cpython", ("pybuildssl:strip", str(root)), str(root)),
                  tmp_path / "strip.log", str(root))
    assert not (lib / "test").exists() and not list(lib.glob("config-*/libpython*.a"))
    assert runner.calls == [["strip", "--strip-unneeded", str(root / "lib" / "libpython3.13.so.1.0")]]
    assert keys("build.strip=true")["cpython"] != keys()["cpython"]
