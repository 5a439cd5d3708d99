"""Windows targets: OpenSSL for VC-WIN64A / VC-WIN64-ARM with nmake, CPython's PCbuild.

CPython's PCbuild links OpenSSL as DLLs (libcrypto-3*.dll, libssl-3*.dll)
found through ``/p:opensslOutDir`` and ``/p:opensslIncludeDir``
(PCbuild/python.props, openssl.props), so Windows OpenSSL is shared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import RecipeError
from ..plan import Step

if TYPE_CHECKING:  # pragma: no cover
    from ..plan import Dirs
    from ..recipe import Recipe

OPENSSL_TARGETS = {"x86_64": "VC-WIN64A", "arm64": "VC-WIN64-ARM"}
PCBUILD_PLATFORMS = {"x86_64": "x64", "arm64": "ARM64"}
OPENSSL_PREFIX = "C:\\Program Files\\pybuildssl\\openssl"
PYTHON_PREFIX = ""
#: Windows OpenSSL needs DLLs for PCbuild; the rest as on POSIX.
SHARED_ONLY_DROPPED = ("no-shared", "no-module")


def _check(recipe: "Recipe") -> None:
    if recipe.arch not in OPENSSL_TARGETS:
        raise RecipeError(f"{recipe.path}: target.arch {recipe.arch!r} is not a Windows arch",
                          hint="valid: " + ", ".join(OPENSSL_TARGETS))


def openssl_steps(recipe: "Recipe", d: "Dirs") -> list[Step]:
    _check(recipe)
    options = [o for o in recipe.openssl_options if o not in SHARED_ONLY_DROPPED]
    configure = ("perl", "Configure", OPENSSL_TARGETS[recipe.arch],
                 f"--prefix={OPENSSL_PREFIX}", f"--openssldir={recipe.openssldir}",
                 *options, *recipe.openssl.configure_args)
    src = str(d.openssl_src)
    return [
        Step("openssl.configure", "openssl", configure, src, {}),
        Step("openssl.make", "openssl", ("nmake",), src, {}),
        Step("openssl.install", "openssl", ("nmake", "install_sw", f"DESTDIR={d.openssl_out}"), src, {}),
    ]


def cpython_steps(recipe: "Recipe", d: "Dirs") -> list[Step]:
    _check(recipe)
    plat = PCBUILD_PLATFORMS[recipe.arch]
    src = d.cpython_src
    ossl = d.openssl_root
    build = ("cmd", "/c", str(src / "PCbuild" / "build.bat"), "-e", "--no-tkinter", "-p", plat, "-c", "Release",
             f"/p:opensslOutDir={ossl}\\bin\\", f"/p:opensslIncludeDir={ossl}\\include",
             "/p:IncludeExternals=true", *recipe.cpython.configure_args)
    layout = ("cmd", "/c", str(src / "python.bat"), str(src / "PC" / "layout"), "--preset-default",
              "--copy", str(d.prefix), "--include-dev", "--include-pip", "--include-venv")
    return [
        Step("cpython.patch-ssl", "cpython", ("pybuildssl:patch-ssl", str(src / "Lib" / "ssl.py")), str(src), {}),
        Step("cpython.build", "cpython", build, str(src), {}),
        Step("cpython.layout", "cpython", layout, str(src), {}),
    ]
