"""PGO and LTO with Zig (pybuildssl/toolchain.py): the ``clang`` wrapper CPython's optimised
steps use, first run by a real shell against a stand-in ``zig`` that prints the command it was
given, then for real: zig's clang instruments a C program, LLVM's profile runtime writes what
it counted, LLVM's llvm-profdata merges it, and zig's clang compiles with the profile (each of
those steps is one of CPython's PGO build).  The whole interpreter built that way is measured by
ci/bench_profile.py (docs/benchmarks.md); a build takes too long for the tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pybuildssl import recipe, toolchain

pytestmark = pytest.mark.integration


@pytest.fixture
def clang(tmp_path: Path):
    zig = tmp_path / "zig"
    zig.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    zig.chmod(0o755)
    tc = toolchain.describe(recipe.load("linux-x86_64-generic"), zig=str(zig), zig_version="0.15.2",
                            cache_dir=tmp_path / "cache", zig_cache=tmp_path / "zc")
    toolchain.install(tc, run=lambda argv, cwd: 0)

    def run(tool: str, *args: str) -> list[str]:
        out = subprocess.run([str(Path(tc.bin_dir) / tool), *args], check=True, capture_output=True, text=True)
        return out.stdout.splitlines()
    return run


def test_an_instrumented_link_gets_the_profile_runtime_a_compile_does_not(clang):
    runtime = toolchain.profile_runtime("x86_64")
    link = clang("clang", "-fprofile-instr-generate", "-o", "python", "main.o", "libpython3.13.a")
    assert link[:3] == ["cc", "-target", "x86_64-linux-gnu.2.17"]
    assert link[-2:] == ["-Wl,-u,__llvm_profile_runtime", runtime]
    for mode in ("-c", "-S", "-E"):
        assert runtime not in clang("clang", "-fprofile-instr-generate", mode, "x.c")
    assert runtime not in clang("clang", "-o", "python", "main.o")  # the second, profile-using build
    assert runtime not in clang("cc", "-fprofile-instr-generate", "-o", "python", "main.o")  # cc: unchanged


def test_lto_compiles_make_fat_objects(clang):
    assert clang("clang", "-flto=thin", "-c", "x.c")[-1] == "-ffat-lto-objects"
    assert "-ffat-lto-objects" not in clang("clang", "-flto=thin", "-o", "python", "x.o")
    assert "-ffat-lto-objects" not in clang("clang", "-c", "x.c")


def test_llvm_ar_is_zig_ar_and_llvm_profdata_is_llvms(clang, tmp_path):
    assert clang("llvm-ar", "rcs", "lib.a", "x.o") == ["ar", "rcs", "lib.a", "x.o"]
    text = (tmp_path / "cache").glob("toolchain/zig-*/bin/llvm-profdata")
    assert f"exec '{toolchain.LLVM_PROFDATA}' \"$@\"" in next(text).read_text()


@pytest.fixture(scope="module")
def zig_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("zig-cache")


def private_toolchain(zig: str, tmp_path: Path, zig_cache: Path) -> toolchain.Toolchain:
    """The toolchain with a zig cache of this module's own: zig builds its libc pieces in the
    directory of their first use and records it in their debug info, and builds must never
    find a test's directory there (the shared cache is warmed from "/" only)."""
    tc = toolchain.describe(recipe.load("linux-x86_64-generic"), zig=zig, zig_version="0.15.2",
                            cache_dir=tmp_path / "cache", zig_cache=zig_cache)
    toolchain.install(tc)
    return tc


PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
static int hot(int x) { return x * 3 + 1; }
static int cold(int x) { return x - 7; }
int main(int argc, char **argv) {
    long sum = 0;
    for (int i = 0; i < 100000; i++) sum += (i % 1000 == 999) ? cold(i) : hot(i);
    printf("%ld\n", sum);
    return argc > 5 ? EXIT_FAILURE : EXIT_SUCCESS;
}
"""


def test_zig_pgo_end_to_end_with_llvms_runtime_and_profdata(tmp_path, zig_cache):
    """Instrument with the wrapper, run, merge with llvm-profdata, use the profile: the steps of
    CPython's `make profile-opt`.  Profile data that zig's LLVM could not read fails the last
    compile (clang: "unsupported instrumentation profile format version"), and so does one that
    is not this program's (a missing profile is only a warning, hence -Werror on it)."""
    zig = toolchain.find_zig()
    assert zig, "ci/setup.sh installs ziglang"
    for tool in toolchain.pgo_prerequisites("x86_64"):
        assert Path(tool).is_file() or subprocess.run(["which", tool], capture_output=True).returncode == 0, \
            f"{tool}: ci/setup.sh installs it"
    tc = private_toolchain(zig, tmp_path, zig_cache)
    bin_dir = Path(tc.bin_dir)
    src = tmp_path / "prog.c"
    src.write_text(PROGRAM)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}

    def sh(*argv: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), cwd=tmp_path, env={**env, **kw.pop("extra", {})}, check=True,
                              capture_output=True, text=True, **kw)

    sh("clang", "-O2", "-fprofile-instr-generate", "-c", "prog.c", "-o", "prog.o")
    sh("clang", "-O2", "-fprofile-instr-generate", "prog.o", "-o", "prog-gen")
    expected = str(sum((i - 7) if i % 1000 == 999 else (i * 3 + 1) for i in range(100000)))
    assert sh("./prog-gen", extra={"LLVM_PROFILE_FILE": str(tmp_path / "code-%p.profclangr")}).stdout.strip() == expected
    raws = list(tmp_path.glob("code-*.profclangr"))
    assert len(raws) == 1, "the profile runtime wrote nothing: the wrapper did not link it"
    sh("llvm-profdata", "merge", f"-output={tmp_path / 'code.profclangd'}", str(raws[0]))
    shown = sh("llvm-profdata", "show", "--all-functions", "--counts", str(tmp_path / "code.profclangd")).stdout
    assert "hot" in shown and "Function count: 1" in shown  # main ran once; its counters are there
    sh("clang", "-O2", f"-fprofile-instr-use={tmp_path / 'code.profclangd'}", "-Werror=profile-instr-unprofiled",
       "-Werror=profile-instr-out-of-date", "prog.c", "-o", "prog-opt")
    assert sh("./prog-opt").stdout.strip() == expected
    # the optimised program has no instrumentation left, and keeps the glibc floor
    symbols = sh("nm", "prog-opt").stdout
    assert "__llvm_profile" not in symbols and "__llvm_profile" in sh("nm", "prog-gen").stdout
    versions = sh("objdump", "-T", "prog-opt").stdout
    assert "GLIBC_2.2" in versions and not any(f"GLIBC_2.{n}" in versions for n in range(18, 40))


def test_zig_lto_objects_are_fat_and_link(tmp_path, zig_cache):
    """Fat LTO objects: a static library of them links with the host's gcc and binutils, which
    read no LLVM bitcode (CPython ships libpython.a in its config directory)."""
    tc = private_toolchain(toolchain.find_zig(), tmp_path, zig_cache)
    (tmp_path / "lib.c").write_text("int triple(int x) { return 3 * x; }\n")
    (tmp_path / "main.c").write_text('#include <stdio.h>\nint triple(int);\n'
                                     'int main(void) { printf("%d\\n", triple(14)); return 0; }\n')
    env = {"PATH": f"{tc.bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    run = lambda *a: subprocess.run(list(a), cwd=tmp_path, env=env, check=True, capture_output=True, text=True)  # noqa: E731
    run("clang", "-O2", "-flto=thin", "-c", "lib.c", "-o", "lib.o")
    sections = run("readelf", "-S", "lib.o").stdout
    assert ".llvm.lto" in sections and ".text" in sections
    run("llvm-ar", "rcs", "libt.a", "lib.o")
    run("/usr/bin/gcc", "main.c", "libt.a", "-o", "with-gcc")
    assert run("./with-gcc").stdout.strip() == "42"
    run("clang", "-O2", "-flto=thin", "main.c", "libt.a", "-o", "with-lto")
    assert run("./with-lto").stdout.strip() == "42"
