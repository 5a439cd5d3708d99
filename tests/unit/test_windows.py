"""Windows targets: the exact plan, OPENSSLDIR safety, the winstore patch and mode, the ssl patch's Windows branch.

Nothing runs: plans are data.  The facts they encode were read in OpenSSL
3.5.7 and CPython 3.13.5 (see pybuildssl/platforms/windows.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PureWindowsPath

import pytest

from pybuildssl import recipe, trust
from pybuildssl.errors import RecipeError
from pybuildssl.plan import make_plan
from pybuildssl.platforms import windows

CACHE = Path("/cache")
REPO = Path(__file__).resolve().parents[2]
PATCH = REPO / "recipes" / "patches" / windows.WINSTORE_PATCH
SSLDIR = "C:\\Program Files\\Common Files\\SSL"


def plan_for(name: str, *overrides: str):
    return make_plan(recipe.load(name, list(overrides)), cache_dir=CACHE, jobs=2, toolchain="msvc 19.40",
                     ssl_patch="PATCH")


def step(plan, name: str):
    (s,) = [s for s in plan.steps if s.name == name]
    return s


def win(p) -> str:
    return str(PureWindowsPath(str(p)))


# ------------------------------------------------------------------ OpenSSL ---

@pytest.mark.parametrize("name,target", [
    ("windows-x86_64", "VC-WIN64A"), ("windows-arm64", "VC-WIN64-ARM"),
    ("windows-x86_64-winstore", "VC-WIN64A"), ("windows-arm64-winstore", "VC-WIN64-ARM"),
])
def test_openssl_is_configured_shared_for_pcbuild_with_an_admin_only_openssldir(name, target):
    p = plan_for(name)
    conf = step(p, "openssl.configure")
    assert list(conf.argv) == [
        "perl", "Configure", target, "--prefix=C:\\Program Files\\pybuildssl\\openssl", "--libdir=bin",
        f"--openssldir={SSLDIR}", "no-module", "no-engine", "no-apps", "no-docs", "no-tests", "no-uplink"]
    assert "no-shared" not in conf.argv and not any("WINCTX" in a for a in conf.argv)
    assert conf.cwd == win(p.dirs.openssl_src)
    assert list(step(p, "openssl.make").argv) == ["nmake"]
    assert list(step(p, "openssl.install").argv) == ["nmake", "install_sw", f"DESTDIR={win(p.dirs.openssl_out)}"]
    assert p.to_json()["openssldir"] == SSLDIR


def test_the_openssl_root_is_destdir_plus_the_prefix_without_its_drive():
    p = plan_for("windows-x86_64")
    assert windows.openssl_root(p.dirs) == PureWindowsPath(
        win(p.dirs.openssl_out), "Program Files", "pybuildssl", "openssl")


# ------------------------------------------------------------------ CPython ---

@pytest.mark.parametrize("name,plat,archname,suffix", [
    ("windows-x86_64", "x64", "amd64", "-3-x64"), ("windows-arm64", "ARM64", "arm64", "-3-arm64")])
def test_pcbuild_uses_the_built_openssl_not_the_prebuilt_one(name, plat, archname, suffix):
    p = plan_for(name)
    src = PureWindowsPath(win(p.dirs.cpython_src))
    root = windows.openssl_root(p.dirs)
    rsp = step(p, "cpython.msbuild-rsp")
    assert rsp.argv[:2] == ("perl", "-e") and rsp.argv[3] == str(src / "PCbuild" / "pybuildssl.rsp")
    assert list(rsp.argv[4:]) == [
        '"/p:IncludeSSL=true"',
        f'"/p:opensslOutDir={root}\\bin"',
        f'"/p:opensslIncludeDir={root}\\include"',
        f'"/p:_DLLSuffix={suffix}"',
        f'"/p:OpenSSLDLLSuffix={suffix}"',
    ]
    build = step(p, "cpython.build")
    # --no-ssl: get_externals.bat skips openssl-bin-*; the response file, read after
    # build.bat's own /p:IncludeSSL=false, turns _ssl and _hashlib back on.
    assert list(build.argv) == ["cmd", "/d", "/c", "build.bat", "-p", plat, "-c", "Release", "-e", "--no-ssl",
                                "@pybuildssl.rsp"]
    assert build.cwd == str(src / "PCbuild") == rsp.cwd
    names = [s.name for s in p.steps]
    assert names.index("cpython.patch-ssl") < names.index("cpython.msbuild-rsp") < names.index("cpython.build")
    layout = step(p, "cpython.layout")
    exe = src / "PCbuild" / archname / "python.exe"
    assert list(layout.argv) == [
        str(exe), "-E", "-s", str(src / "PC" / "layout"), "-b", str(exe.parent), "--arch", archname,
        "--copy", win(p.dirs.prefix), "--include-stable", "--include-pip", "--include-tcltk", "--include-idle",
        "--include-venv", "--include-dev"]
    comp = step(p, "cpython.compileall")
    assert comp.argv[0] == str(PureWindowsPath(win(p.dirs.prefix)) / "python.exe")
    assert comp.env == {"SOURCE_DATE_EPOCH": "1700000000"}
    assert names[-1] == "package" and names.index("cpython.compileall") == len(names) - 2


def test_the_ssl_patch_goes_to_lib_ssl_py_before_the_build():
    p = plan_for("windows-x86_64")
    s = step(p, "cpython.patch-ssl")
    assert s.argv == ("pybuildssl:patch-ssl", str(PureWindowsPath(win(p.dirs.cpython_src)) / "Lib" / "ssl.py"))


def test_the_install_layout_is_the_component_directory_itself():
    p = plan_for("windows-x86_64")
    assert windows.PYTHON_PREFIX == "" and p.dirs.prefix == p.dirs.cpython_out
    assert windows.INTERPRETER == "python.exe" and windows.OPENSSL_LINKAGE == "shared"


def test_response_file_lines_never_end_with_a_backslash_before_the_quote():
    for line in windows.rsp_lines(recipe.load("windows-x86_64"), plan_for("windows-x86_64").dirs):
        assert line.startswith('"/p:') and line.endswith('"') and not line.endswith('\\"')


def test_build_bat_passes_at_most_nine_arguments_to_msbuild():
    args = ",".join(f'"/p:X{i}=1"' for i in range(9))
    with pytest.raises(RecipeError, match="more than 8"):
        plan_for("windows-x86_64", f"cpython.configure_args=[{args}]")
    p = plan_for("windows-x86_64", 'cpython.configure_args=["/p:PlatformToolset=v143"]')
    assert step(p, "cpython.build").argv[-1] == "/p:PlatformToolset=v143"


def test_cflags_reach_msvc_through_cl():
    p = plan_for("windows-x86_64", 'build.cflags="/Qspectre"')
    assert step(p, "cpython.build").env == {"CL": "/Qspectre"}
    assert step(p, "openssl.configure").argv[-1] == "/Qspectre"


def test_unknown_arch_is_refused():
    with pytest.raises(RecipeError, match="not a Windows arch"):
        plan_for("windows-x86_64", "target.arch=aarch64")


# ----------------------------------------------------------------- OPENSSLDIR ---

@pytest.mark.parametrize("path", [SSLDIR, "C:/Program Files/Common Files/SSL",
                                  "C:\\Program Files (x86)\\Common Files\\SSL", "c:\\program files\\x"])
def test_admin_only_openssldirs_are_accepted(path):
    assert windows.openssldir_problem(path) is None


@pytest.mark.parametrize("path,words", [
    ("C:\\usr\\local\\ssl", "plant openssl.cnf"),            # the pre-1.1.1d default: CVE-2019-1552
    ("C:\\ProgramData\\ssl", "CVE-2019-1552"),
    ("C:\\Users\\build\\cache\\openssl\\ssl", "outside the administrator-only roots"),
    ("D:\\a\\_work\\pybuildssl\\ssl", "outside the administrator-only roots"),
    ("C:\\Windows\\Temp\\ssl", "outside"),
    ("/etc/ssl", "not an absolute path on a drive"),
    ("ssl", "not an absolute path on a drive"),
    ("\\\\server\\share\\ssl", "not an absolute path on a drive"),
    ("C:\\Program Files\\..\\Users\\x", "'..'"),
    ("", "empty"),
])
def test_user_writable_or_build_openssldirs_are_refused(path, words):
    assert words in windows.openssldir_problem(path)


def test_a_recipe_with_a_user_writable_openssldir_does_not_plan():
    with pytest.raises(RecipeError) as e:
        plan_for("windows-x86_64", 'openssl.openssldir="C:\\\\ProgramData\\\\SSL"')
    assert "CVE-2019-1552" in e.value.message and "Common Files" in e.value.hint


def test_winctx_is_refused_with_the_reason():
    with pytest.raises(RecipeError) as e:
        plan_for("windows-x86_64", 'openssl.configure_args=["-DOSSL_WINCTX=pybuildssl"]')
    assert "TypeError" in e.value.message and "registry" in e.value.message


# ------------------------------------------------------ winstore patch + mode ---

def test_the_winstore_patch_is_pinned_listed_and_applied_right_after_extract():
    r = recipe.load("windows-x86_64-winstore")
    (pin,) = r.openssl.patches
    assert pin["file"] == windows.WINSTORE_PATCH
    assert pin["sha256"] == hashlib.sha256(PATCH.read_bytes()).hexdigest()
    p = plan_for("windows-x86_64-winstore")
    names = [s.name for s in p.steps]
    assert names[:4] == ["openssl.fetch", "openssl.extract", "openssl.patch", "openssl.configure"]
    assert step(p, "openssl.patch").argv == ("pybuildssl:apply-patch", windows.WINSTORE_PATCH, pin["sha256"])
    assert p.to_json()["steps"][2]["argv"][1] == windows.WINSTORE_PATCH
    assert r.to_dict()["openssl"]["patches"] == [dict(pin)], "the manifest's resolved recipe lists it"


def test_the_patch_makes_winstore_the_default_store_uri_only_where_winstore_exists():
    text = PATCH.read_text()
    assert text.startswith("--- a/crypto/x509/by_store.c\n+++ b/crypto/x509/by_store.c\n")
    added = [line[1:] for line in text.splitlines() if line.startswith("+") and not line.startswith("+++")]
    code = [a.strip() for a in added if a.strip() and not a.strip().startswith(("/*", "*"))]
    assert code == ["#ifndef OPENSSL_NO_WINSTORE",
                    "if (argp == NULL) {",
                    "ERR_set_mark();",
                    '(void)by_store_ctrl_ex(ctx, cmd, "org.openssl.winstore://", argl,',
                    "retp, libctx, propq);",
                    "ERR_pop_to_mark();",
                    "return 1;",
                    "}",
                    "#endif"]
    assert not any(line.startswith("-") and not line.startswith("---") for line in text.splitlines())
    # context: the X509_L_ADD_STORE case, where a NULL URI was a no-op ("default URIs (presently none)")
    assert "     case X509_L_ADD_STORE:\n" in text and "         if (argp != NULL) {\n" in text


def test_winstore_patch_changes_the_openssl_cache_key_and_the_mode_the_cpython_key():
    from pybuildssl.plan import component_keys

    plain = recipe.load("windows-x86_64")
    ws = recipe.load("windows-x86_64-winstore")
    a = component_keys(plain, toolchain="msvc", ssl_patch=trust.render_patch("windows", windows_mode="enumeration"))
    b = component_keys(ws, toolchain="msvc", ssl_patch=trust.render_patch("windows", windows_mode="both"))
    assert a["openssl"] != b["openssl"] and a["cpython"] != b["cpython"]


@pytest.mark.parametrize("name,mode", [("windows-x86_64", "enumeration"), ("windows-arm64", "enumeration"),
                                       ("windows-x86_64-winstore", "both"), ("windows-arm64-winstore", "both")])
def test_shipped_modes(name, mode):
    assert recipe.load(name).windows_mode == mode
    plan_for(name)


def test_winstore_modes_need_the_patch():
    for mode in ("both", "winstore"):
        with pytest.raises(RecipeError) as e:
            plan_for("windows-x86_64", f"trust.windows_mode={mode}")
        assert windows.WINSTORE_PATCH in e.value.message and "windows-x86_64-winstore" in e.value.hint
    if windows.winstore_only_supported():
        plan_for("windows-x86_64-winstore", "trust.windows_mode=winstore")
    else:  # refused rather than behaving as "both" (the ssl patch keeps enumerating)
        with pytest.raises(RecipeError, match="behave as 'both'"):
            plan_for("windows-x86_64-winstore", "trust.windows_mode=winstore")


def test_enumeration_with_the_patch_is_refused():
    with pytest.raises(RecipeError) as e:
        plan_for("windows-x86_64-winstore", "trust.windows_mode=enumeration")
    assert "enumeration" in e.value.message and "windows-x86_64" in e.value.hint
    plan_for("windows-x86_64-winstore", "trust.windows_mode=enumeration", "openssl.patches=[]")


def test_no_winstore_is_refused_for_every_windows_recipe():
    for name in ("windows-x86_64", "windows-arm64-winstore"):
        with pytest.raises(RecipeError, match="no-winstore"):
            recipe.load(name, ['openssl.options=["no-winstore"]'])


# ------------------------------------------------- the ssl patch on Windows ---

STOCK_SSL_TAIL = '''
import os, sys
import _ssl
from _ssl import _SSLContext, SSLError
from collections import namedtuple
DefaultVerifyPaths = namedtuple("DefaultVerifyPaths", "cafile capath openssl_cafile_env openssl_cafile "
                                "openssl_capath_env openssl_capath")
def get_default_verify_paths():
    parts = _ssl.get_default_verify_paths()
    return DefaultVerifyPaths(None, None, *parts)
class SSLContext(_SSLContext):
    calls = []
    def _load_windows_store_certs(self, storename, purpose):
        SSLContext.calls.append(storename)
    def load_default_certs(self, purpose=None):
        if sys.platform == "win32":
            for storename in ("CA", "ROOT"):
                self._load_windows_store_certs(storename, purpose)
        self.set_default_verify_paths()
'''


@pytest.mark.parametrize("mode", ["enumeration", "both", "winstore"])
def test_windows_block_keeps_enumeration_and_adds_no_posix_fallback(mode):
    block = trust.render_patch("windows", windows_mode=mode)
    assert "/etc/" not in block and "/private/" not in block and "/opt/" not in block
    ns: dict = {}
    context = type("SSLContext", (), {"_windows_cert_stores": ("CA", "ROOT")})
    exec(compile(block, "<windows block>", "exec"), {**ns, "__name__": "ssl_block_probe",
                                                    "os": __import__("os"), "sys": __import__("sys"),
                                                    "_ssl": None, "_SSLContext": object, "SSLContext": context,
                                                    "SSLError": Exception,
                                                    "get_default_verify_paths": lambda: None}, ns)
    assert ns["_PYBUILDSSL_FALLBACK"] == () and ns["_PYBUILDSSL_WINDOWS_MODE"] == mode
    # enumeration stays on except in "winstore", where OpenSSL's winstore is the only source
    assert context._windows_cert_stores == (() if mode == "winstore" else ("CA", "ROOT"))
    # it overrides nothing: enumeration (load_default_certs) and the stock
    # get_default_verify_paths() / set_default_verify_paths() stay as they are
    assert "get_default_verify_paths" not in ns and "_pybuildssl_set_default_verify_paths" not in ns


def test_windows_block_on_a_stock_like_ssl_py_leaves_the_store_enumeration_alone(monkeypatch):
    import sys as _sys
    import types

    fake_ssl = types.SimpleNamespace(get_default_verify_paths=lambda: ("SSL_CERT_FILE", None,
                                                                       "SSL_CERT_DIR", None))
    monkeypatch.setitem(_sys.modules, "_ssl", fake_ssl)
    for var in ("SSL_CERT_FILE", "SSL_CERT_DIR", trust.OPT_OUT_ENV):
        monkeypatch.delenv(var, raising=False)

    class _Ctx:
        loaded = 0

        def set_default_verify_paths(self):
            _Ctx.loaded += 1

    fake_ssl._SSLContext = _Ctx
    fake_ssl.SSLError = OSError
    text = trust.apply_to_text(STOCK_SSL_TAIL, trust.render_patch("windows", windows_mode="both"))
    ns: dict = {"__name__": "fake_ssl_module"}
    exec(compile(text, "ssl.py", "exec"), ns)
    monkeypatch.setattr(_sys, "platform", "win32")
    ctx = ns["SSLContext"]()
    ctx.load_default_certs()
    assert ns["SSLContext"].calls == ["CA", "ROOT"] and _Ctx.loaded == 1
    assert ns["SSLContext"].set_default_verify_paths is _Ctx.set_default_verify_paths
    r = ns["_pybuildssl_resolve"](explain=True)
    # OpenSSL's defaults are NULL here (as with -DOSSL_WINCTX and no registry key):
    # the block reports "none" and never falls back to a POSIX path
    assert (r["source"], r["cafile"], r["capath"], r["windows_mode"]) == ("none", None, None, "both")
    assert all(c[0] == "compiled" for c in r["checked"])
