"""Portable Linux artifacts: the session's build runs on Debian 11 (glibc 2.31) and needs
nothing from the host but glibc's family.

The old root is ``debootstrap --variant=minbase bullseye`` from the machine's configured
Debian mirror, cached by date (ci/oldroot.py).  The negative control shows the chroot bites:
a program linked on this build host (glibc >= 2.34) does not start there.  A whole CPython
built without the floor fails the same way (measured once, docs/portable.md).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

from _helpers import REPO, py

pytestmark = pytest.mark.integration

_spec = importlib.util.spec_from_file_location("oldroot", REPO / "ci" / "oldroot.py")
oldroot = importlib.util.module_from_spec(_spec)
sys.modules["oldroot"] = oldroot
_spec.loader.exec_module(oldroot)

DEFAULT_COMPONENTS = ["zlib", "bzip2", "xz", "libffi", "sqlite", "ncurses", "readline", "libuuid"]


@pytest.fixture(scope="session")
def old_root():
    if os.geteuid() != 0:
        pytest.skip("environment gate: not root (debootstrap and chroot need root)")
    return oldroot.ensure_root()


def test_the_artifact_starts_on_debian_11_and_trusts_its_store(artifact, manifest, old_root, tmp_path):
    assert manifest["target"]["glibc"] == "2.17"
    check = oldroot.check_artifact(artifact, tmp_path, template=old_root)
    assert oldroot.judge(check) == [], json.dumps(check, indent=1, default=str)[-4000:]
    res = check["result"]
    assert res["glibc"] == "glibc 2.31"
    assert res["https"][0] == 200
    # OPENSSLDIR /etc/ssl: Debian's hashed /etc/ssl/certs (update-ca-certificates linked the test
    # CA there) or, failing that, the baked fallback's bundle
    vp = res["verify_paths"]
    assert vp["capath"] == "/etc/ssl/certs" or vp["cafile"] == "/etc/ssl/certs/ca-certificates.crt", vp


def test_the_old_root_refuses_what_the_build_host_links(old_root, tmp_path):
    """Negative control: without a floor, a binary needs the build host's glibc and cannot start."""
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "no host C compiler (ci/setup.sh installs build-essential)"
    root = oldroot.fresh_copy(old_root, tmp_path / "root")
    src = tmp_path / "hello.c"
    src.write_text("#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n")
    subprocess.run([cc, "-O2", "-o", str(root / "hello"), str(src)], check=True)
    from pybuildssl import binfmt as elf

    need = elf.read(root / "hello").max_version("GLIBC_")
    if need is None or need <= (2, 31):
        pytest.skip(f"environment gate: this host's glibc is old enough for the old root (needs {need})")
    r = subprocess.run(oldroot.in_root(root, ["/hello"]), capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "GLIBC_2.3" in r.stderr and "not found" in r.stderr, r.stderr


def test_verify_checks_the_floor_and_the_external_libraries(build_result):
    ids = {f["id"]: f for f in build_result["verify"]["findings"]}
    assert ids["glibc.floor"]["status"] == "pass", ids["glibc.floor"]
    assert "(floor 2.17)" in ids["glibc.floor"]["detail"]
    assert ids["libs.external"]["status"] == "pass", ids["libs.external"]
    assert ids["libs.external"]["detail"] == "only glibc's family"


def test_the_manifest_lists_the_components_and_the_toolchain(manifest):
    assert [c["name"] for c in manifest["components"]] == DEFAULT_COMPONENTS
    for c in manifest["components"]:
        assert c["pinned_as"] in ("primary", "alternative") and len(c["sha256"]) == 64 and c["license"]
    assert manifest["toolchain"]["kind"] == "zig"
    assert "x86_64-linux-gnu.2.17" in manifest["toolchain"]["id"]


def test_the_modules_link_their_libraries_statically(moved_prefix):
    from pybuildssl import binfmt as elf
    from pybuildssl.verify import checks

    dynload = next((moved_prefix / "lib").glob("python3.*/lib-dynload"))
    for mod in ("_ssl", "_sqlite3", "_ctypes", "_lzma", "_bz2", "zlib", "readline", "_curses", "_uuid"):
        (so,) = list(dynload.glob(f"{mod}.cpython-*.so"))
        needed = set(elf.read(so).needed)
        assert needed <= set(checks.GLIBC_FAMILY) | {"libpython3.13.so.1.0"}, (mod, needed)


def test_sysconfig_names_a_plain_compiler(built_python):
    r = py(built_python, "import sysconfig, json; print(json.dumps([sysconfig.get_config_var(k) or '' "
                         "for k in ('CC', 'LDSHARED', 'CONFIG_ARGS')]))")
    assert r.returncode == 0, r.stderr
    cc, ldshared, config_args = json.loads(r.stdout)
    assert cc.split()[0] == "cc" and ldshared.split()[0] == "cc", (cc, ldshared)
    assert "zig" not in cc + ldshared
    assert "/.cache/" not in config_args and "pybuildssl/work" not in config_args
