"""Each target's prerequisites and the install hint of the host that builds it."""

from __future__ import annotations

import pytest

from pybuildssl import prerequisites, recipe, toolchain
from pybuildssl.errors import PrerequisiteError
from pybuildssl.platforms import linux


def nothing(tool: str) -> None:
    return None


def test_macos_build_is_told_about_xcode_not_apt():
    with pytest.raises(PrerequisiteError) as e:
        prerequisites.check(recipe.load("macos-arm64"), which=nothing)
    assert "xcode-select --install" in e.value.hint and "apt-get" not in e.value.hint
    assert "install_name_tool" in e.value.message and "codesign" in e.value.message


def test_windows_x86_64_needs_nasm_and_arm64_does_not():
    with pytest.raises(PrerequisiteError) as e:
        prerequisites.check(recipe.load("windows-x86_64"), which=nothing)
    assert "nasm" in e.value.message and "Visual Studio" in e.value.hint and "apt-get" not in e.value.hint
    assert "nasm" not in prerequisites.missing(recipe.load("windows-arm64"), which=nothing)


def test_linux_lists_only_what_the_recipe_builds_with():
    generic = prerequisites.missing(recipe.load("linux-x86_64-generic"), which=nothing)
    assert {"make", "perl", "patch", "patchelf", "autoreconf"} <= set(generic)
    assert "cc" not in generic  # a glibc floor: Zig is the compiler
    host_cc = prerequisites.missing(recipe.load("linux-x86_64-generic", ["build.toolchain=cc"]), which=nothing)
    assert host_cc["cc"] == "gcc"


def test_nothing_missing_is_quiet():
    prerequisites.check(recipe.load("linux-x86_64-generic"), which=lambda tool: "/usr/bin/" + tool,
                        exists=lambda path: True)


def test_a_zig_pgo_build_needs_llvms_profile_tools_and_runtime_file():
    """Zig's clang instruments but has no profile runtime and no llvm-profdata (toolchain.py)."""
    release = prerequisites.missing(recipe.load("linux-x86_64-generic"), which=nothing, exists=lambda p: False)
    runtime = toolchain.profile_runtime("x86_64")
    assert release[f"llvm-profdata-{toolchain.PGO_LLVM}"] == f"llvm-{toolchain.PGO_LLVM}"
    assert release[runtime] == f"libclang-rt-{toolchain.PGO_LLVM}-dev"
    seen = []
    found = prerequisites.missing(recipe.load("linux-x86_64-generic"), which=nothing,
                                  exists=lambda p: seen.append(p) or True)
    assert runtime not in found and seen == [runtime]  # a file is looked for as a file, not on PATH
    for sets in (["build.profile=fast"], ["cpython.optimizations=false"], ["target.glibc="]):
        assert runtime not in prerequisites.missing(recipe.load("linux-x86_64-generic", sets), which=nothing,
                                                    exists=lambda p: False)
    with pytest.raises(PrerequisiteError) as e:
        prerequisites.check(recipe.load("linux-x86_64-generic"), which=lambda t: "/usr/bin/" + t,
                            exists=lambda p: False)
    assert runtime in e.value.message and f"libclang-rt-{toolchain.PGO_LLVM}-dev" in e.value.hint


@pytest.mark.parametrize("os_release, expect", [
    ('ID=debian\nVERSION_ID="12"\n', "install them: apt-get install -y "),
    ('ID=ubuntu\nID_LIKE=debian\n', "install them: apt-get install -y "),
    ('ID="rhel"\nID_LIKE="fedora"\n', "Debian names: "),
    ("", "Debian names: "),
])
def test_linux_hint_is_the_hosts_own(tmp_path, os_release, expect):
    f = tmp_path / "os-release"
    f.write_text(os_release)
    hint = linux.install_hint({"make": "make", "cc": "gcc"}, os_release=str(f))
    assert expect + "gcc make" in hint
    if "Debian names" in expect:
        assert "apt-get" not in hint
