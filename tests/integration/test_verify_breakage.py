"""The verifier, broken on purpose: each broken artifact must fail the right check.

A verifier that passes a broken artifact is the worst bug this project can
have.  Each case takes the good artifact, breaks one thing, repacks it (with
its original manifest) and asserts the check that names the breakage fails,
through the CLI, with exit code 1.
"""

from __future__ import annotations

import glob
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

import _helpers
from _helpers import run_cli
from _interpreters import MINORS, stock_prefix
from pybuildssl import archive, package, trust

pytestmark = pytest.mark.integration


@pytest.fixture
def unpacked(artifact, tmp_path) -> Path:
    return archive.extract(artifact, tmp_path / "unpacked")


def repack(root: Path, manifest: dict, tmp_path: Path) -> Path:
    return package.write_archive(root, manifest, tmp_path / "broken.tar.gz", compression="gz", mtime=1700000000)


def verify_json(path: Path, *extra: str) -> tuple[int, dict[str, dict]]:
    r = run_cli("verify", str(path), "--json", *extra, timeout=600)
    assert r.returncode in (0, 1, 2), r.stderr
    if r.returncode == 2:
        return 2, {"stderr": {"detail": r.stderr}}
    data = json.loads(r.stdout)
    return r.returncode, {f["id"]: f for f in data["findings"]}


def test_the_good_artifact_passes(artifact):
    code, findings = verify_json(artifact)
    failed = {k: v["detail"] for k, v in findings.items() if v["status"] == "fail"}
    assert code == 0 and not failed, failed


def test_ssl_hook_removed(unpacked, manifest, tmp_path):
    ssl_py = Path(glob.glob(str(unpacked / "lib" / "python3.*" / "ssl.py"))[0])
    ssl_py.write_text(trust.strip_from_text(ssl_py.read_text(encoding="utf-8")), encoding="utf-8")
    for pyc in (ssl_py.parent / "__pycache__").glob("ssl.*.pyc"):
        pyc.unlink()
    code, f = verify_json(repack(unpacked, manifest, tmp_path))
    assert code == 1
    assert f["trust.patch"]["status"] == "fail" and "no pybuildssl hook" in f["trust.patch"]["detail"]
    assert f["manifest.tree"]["status"] == "fail"


def test_absolute_rpath_to_a_vanished_directory(unpacked, manifest, tmp_path):
    exe = unpacked / manifest["cpython"]["interpreter"]
    subprocess.run(["patchelf", "--set-rpath", "$ORIGIN/../lib:/gone/build/lib", str(exe)], check=True)
    code, f = verify_json(repack(unpacked, manifest, tmp_path))
    assert code == 1
    assert f["reloc.rpath"]["status"] == "fail" and "/gone/build/lib" in f["reloc.rpath"]["detail"]


def test_build_path_left_in_a_script(unpacked, manifest, tmp_path):
    build_path = manifest["build_paths"][0]
    script = unpacked / "bin" / "mytool"
    script.write_text(f"#!/bin/sh\nexec {build_path}/work/python3 \"$@\"\n")
    os.chmod(script, 0o755)
    manifest = dict(manifest, files={**manifest["files"], "bin/mytool": package.file_table(unpacked)["bin/mytool"]})
    code, f = verify_json(repack(unpacked, manifest, tmp_path))
    assert code == 1
    assert f["manifest.tree"]["status"] == "pass"  # the tree matches: only the build path is wrong
    assert f["reloc.build-paths"]["status"] == "fail" and "bin/mytool" in f["reloc.build-paths"]["detail"]


def test_absolute_shebang_is_caught(unpacked, manifest, tmp_path):
    script = unpacked / "bin" / "pip3"
    text = script.read_text()
    script.write_text("#!/usr/local/bin/python3.13\n" + text.split("\n", 3)[3])
    code, f = verify_json(repack(unpacked, manifest, tmp_path))
    assert f["reloc.build-paths"]["status"] == "fail" and "shebang /usr/local/bin/python3.13" in \
        f["reloc.build-paths"]["detail"]


def _system_openssl_ssl_module(minor: str) -> Path:
    """``_ssl`` of the stock CPython 3.<minor> (_interpreters.py): linked to the host's libssl.so.3."""
    assert f"3.{minor}" in MINORS, \
        f"no stock CPython 3.{minor} to take _ssl from (ci/stock_pythons.py builds {', '.join(MINORS)})"
    dynload = stock_prefix(f"3.{minor}") / "lib" / f"python3.{minor}" / "lib-dynload"
    (donor,) = dynload.glob("_ssl.*.so")
    return donor


def test_system_openssl_3_0_swapped_in(unpacked, manifest, tmp_path):
    minor = manifest["cpython"]["version"].split(".")[1]
    donor = _system_openssl_ssl_module(minor)
    (ours,) = glob.glob(str(unpacked / "lib" / f"python3.{minor}" / "lib-dynload" / "_ssl.*.so"))
    shutil.copyfile(donor, ours)
    code, f = verify_json(repack(unpacked, manifest, tmp_path))
    assert code == 1
    assert f["libs.external"]["status"] == "fail" and "libssl.so.3" in f["libs.external"]["detail"]
    assert "fail" in (f["ssl.version"]["status"], f["ssl.import"]["status"])


def test_ssl_extension_deleted(unpacked, manifest, tmp_path):
    (ours,) = glob.glob(str(unpacked / "lib" / "python3.*" / "lib-dynload" / "_ssl.*.so"))
    os.unlink(ours)
    code, f = verify_json(repack(unpacked, manifest, tmp_path))
    assert code == 1
    assert f["ssl.import"]["status"] == "fail" and "_ssl" in f["ssl.import"]["detail"]
    assert f["tls.trusted"]["status"] in ("fail", "skip")


def test_world_writable_and_setuid_files(unpacked, manifest, tmp_path):
    broken = tmp_path / "modes.tar"
    with tarfile.open(broken, "w") as out:
        data = json.dumps(manifest).encode()
        ti = tarfile.TarInfo("python/PYBUILDSSL.json")
        ti.size = len(data)
        out.addfile(ti, io.BytesIO(data))
        for p in sorted(unpacked.rglob("*")):
            rel = "python/" + p.relative_to(unpacked).as_posix()
            ti = out.gettarinfo(str(p), rel)
            if rel.endswith("/bin/pip3"):
                ti.mode = 0o4777
            out.addfile(ti, open(p, "rb") if ti.isfile() else None)
    code, f = verify_json(broken)
    assert code == 1
    assert f["hygiene.world-writable"]["status"] == "fail" and "bin/pip3" in f["hygiene.world-writable"]["detail"]
    assert f["hygiene.setuid"]["status"] == "fail"


def test_truncated_archive(artifact, tmp_path):
    data = artifact.read_bytes()
    broken = tmp_path / "truncated.tar.gz"
    broken.write_bytes(data[: len(data) // 3])
    code, f = verify_json(broken)
    assert code == 1
    assert f["archive.extract"]["status"] == "fail" and "truncated or corrupt" in f["archive.extract"]["detail"]


@pytest.mark.parametrize("member,linkname,words", [
    ("python/../evil.txt", None, "escapes the destination"),
    ("python/lib/sneaky", "../../../../etc/passwd", "links outside the tree"),
])
def test_archive_escaping_its_directory(artifact, tmp_path, member, linkname, words):
    broken = tmp_path / "escape.tar.gz"
    with tarfile.open(artifact) as src, tarfile.open(broken, "w:gz") as out:
        for i, m in enumerate(src):
            out.addfile(m, src.extractfile(m) if m.isfile() else None)
            if i == 5:
                ti = tarfile.TarInfo(member)
                if linkname:
                    ti.type, ti.linkname = tarfile.SYMTYPE, linkname
                    out.addfile(ti)
                else:
                    ti.size = 4
                    out.addfile(ti, io.BytesIO(b"evil"))
                break
    code, f = verify_json(broken)
    assert code == 1
    assert f["archive.extract"]["status"] == "fail" and words in f["archive.extract"]["detail"]
    assert not (tmp_path / "evil.txt").exists()


def test_unusable_input_is_exit_code_2(tmp_path):
    code, f = verify_json(tmp_path / "nothing-here.tar.gz")
    assert code == 2 and "nothing to verify at" in f["stderr"]["detail"]


def test_junit_report_lists_every_check(artifact, tmp_path):
    junit = tmp_path / "verify.xml"
    r = run_cli("verify", str(artifact), "--junit", str(junit), timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    import xml.etree.ElementTree as ET

    cases = {c.get("name") for c in ET.parse(junit).iter("testcase")}
    assert {"manifest.tree", "ssl.version", "tls.trusted", "reloc.rpath"} <= cases


# ------------------------------------------------------- archives that escape through links ---
# `pybuildssl verify` unpacks artifacts it has never seen: an archive must not write one byte
# outside its directory.  Each case is run through the CLI as root (who could write anywhere)
# and as nobody, with a sentinel file beside verify's scratch directory that the running user
# owns; the paths are relative to the staging directory,
#   BASE/scratch/pybuildssl verify XXXX/.relocated prefix ü✓-YYYY/python/...
# so from python/ "../../../.." is BASE (and from the archive's root, "../../.." is BASE).
S, H, D = tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE
ESCAPES = {
    # issue 11: b -> .. and c -> b/.. passed a textual check; a hard link through d named a file
    # outside and the regular member of the same name was written through it.
    "symlink chain": ("python/c", "links outside the tree", [
        ("python/b", S, ".."), ("python/c", S, "b/.."), ("python/d", S, "c/.."),
        ("python/e", H, "python/d/../outside/sentinel"), ("python/e", None, b"PWNED")]),
    # python/b is the archive's root: each python/b/ climbs nothing in the text, one level for real.
    "hard link through a symlink": ("python/e", "links outside the tree", [
        ("python/b", S, ".."), ("python/e", H, "python/b/python/b/python/b/../../../outside/sentinel"),
        ("python/e", None, b"PWNED")]),
    "member over a link": ("python/x", "links to an absolute path", [
        ("python/x", S, "{base}/outside"), ("python/x/sentinel", None, b"PWNED")]),
    "member over a link inside": ("python/x/sentinel", "would be written through the symlink", [
        ("python/lib", D, None), ("python/x", S, "lib"), ("python/x/sentinel", None, b"PWNED")]),
}


def _evil_archive(path: Path, base: Path, members) -> Path:
    with tarfile.open(path, "w:gz") as out:
        top = tarfile.TarInfo("python")
        top.type, top.mode = D, 0o755
        out.addfile(top)
        for name, kind, extra in members:
            ti = tarfile.TarInfo(name)
            if kind is None:
                ti.size, ti.mode = len(extra), 0o644
                out.addfile(ti, io.BytesIO(extra))
                continue
            ti.type = kind
            if extra is not None:
                ti.linkname = extra.format(base=base)
            out.addfile(ti)
    return path


@pytest.mark.parametrize("user", ["root", "nobody"])
@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_archive_escaping_through_links_is_refused(case, user):
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    if user == "nobody":
        if os.geteuid() != 0:
            pytest.skip("environment gate: not root (switching to nobody with setpriv)")
        assert shutil.which("setpriv"), "setpriv is missing (ci/setup.sh installs util-linux)"
        if subprocess.run(nobody + [sys.executable, "-c", "import pybuildssl"], cwd=str(_helpers.REPO)).returncode:
            pytest.skip(f"environment gate: nobody cannot run {sys.executable} with {_helpers.REPO} "
                        "(a checkout or virtualenv under a private home)")
    uid = 0 if user == "root" else 65534
    who, words, members = ESCAPES[case]
    base = Path(tempfile.mkdtemp(prefix="escape "))
    try:
        os.chmod(base, 0o755)
        for d in ("scratch", "outside"):
            (base / d).mkdir()
            os.chown(base / d, uid, uid)
        sentinel = base / "outside" / "sentinel"
        sentinel.write_bytes(b"SAFE")
        os.chown(sentinel, uid, uid)
        evil = _evil_archive(base / "evil.tar.gz", base, members)
        os.chmod(evil, 0o644)
        argv = [sys.executable, "-m", "pybuildssl", "verify", str(evil)]
        if user == "nobody":
            argv = nobody + argv
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=str(_helpers.REPO),
                           env=dict(os.environ, PYBUILDSSL_VERIFY_DIR=str(base / "scratch"), NO_COLOR="1"))
        assert sentinel.read_bytes() == b"SAFE", f"{case}: written outside the destination"
        assert sorted(p.name for p in base.iterdir()) == ["evil.tar.gz", "outside", "scratch"]
        assert os.listdir(base / "outside") == ["sentinel"] and os.listdir(base / "scratch") == []
        assert "Traceback" not in r.stderr + r.stdout, r.stderr
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
        line = next(ln for ln in r.stdout.splitlines() if "archive.extract" in ln)
        assert "FAIL" in line and "refused: archive member " + repr(who) in line and words in line, line
    finally:
        shutil.rmtree(base, ignore_errors=True)
