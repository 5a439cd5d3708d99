"""The typed manifest: what build writes and verify reads, byte for byte."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from pybuildssl import package, targets
from pybuildssl.manifest import Manifest, ManifestError, dumps
from pybuildssl.verify import checks
from pybuildssl.verify.report import FAIL, Report

# A real artifact's manifest (cpython 3.13.5 + openssl 3.5.7, x86_64 Linux), its file
# table cut to three entries; written by the untyped dict build had before Manifest.
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "manifest-linux-x86_64.json"


def test_a_real_manifest_round_trips_to_the_same_bytes():
    raw = FIXTURE.read_bytes()
    m = Manifest.loads(raw, source=str(FIXTURE))
    assert m.to_json() == raw
    assert m.openssl.linkage == "static" and m.cpython.interpreter == "bin/python3.13"
    assert m.components[0].modules and m.sources[0].name == "openssl"


def test_package_writes_a_manifest_object_as_its_json(tmp_path):
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "x").write_text("x")
    m = Manifest.loads(FIXTURE.read_bytes())
    dest = package.write_archive(root, m, tmp_path / "a.tar", compression="gz", mtime=1700000000)
    with tarfile.open(dest) as tf:
        assert tf.extractfile(tf.next()).read() == FIXTURE.read_bytes()


@pytest.mark.parametrize("key", ["openssl.linkage", "target.os", "files", "components[0].modules"])
def test_a_missing_key_names_the_file_and_the_key(key):
    data = json.loads(FIXTURE.read_bytes())
    node, *path = data, *key.replace("[0]", ".0").split(".")
    for part in path[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    del node[path[-1]]
    with pytest.raises(ManifestError) as e:
        Manifest.from_dict(data, source="some/PYBUILDSSL.json")
    assert e.value.exit_code == 2
    assert "some/PYBUILDSSL.json" in e.value.message and f"'{key}' is missing" in e.value.message
    assert e.value.hint


def test_a_mistyped_key_names_the_file_the_key_and_the_type():
    data = json.loads(FIXTURE.read_bytes())
    data["cpython"]["shared"] = "yes"
    with pytest.raises(ManifestError, match=r"m\.json: key 'cpython\.shared' must be true or false, not str"):
        Manifest.from_dict(data, source="m.json")
    with pytest.raises(ManifestError, match=r"m\.json is not JSON"):
        Manifest.loads(b"{", source="m.json")


def _archive(tmp_path: Path, manifest: bytes) -> Path:
    dest = tmp_path / "a.tar.gz"
    with tarfile.open(dest, "w:gz") as tf:
        for name, data in ((f"{package.TOP}/{package.MANIFEST}", manifest), (f"{package.TOP}/bin/x", b"x")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return dest


def test_verify_refuses_a_manifest_without_a_key_with_exit_2(tmp_path):
    data = json.loads(FIXTURE.read_bytes())
    del data["trust"]["patch_sha256"]
    archive = _archive(tmp_path, dumps(data))
    with pytest.raises(ManifestError) as e:
        checks.archive.extract(archive, tmp_path / "out", Report(target=str(archive)))
    assert e.value.exit_code == 2
    assert str(archive) in e.value.message and "'trust.patch_sha256' is missing" in e.value.message


def test_verify_reads_the_manifest_typed(tmp_path):
    archive = _archive(tmp_path, FIXTURE.read_bytes())
    t = checks.archive.extract(archive, tmp_path / "out", Report(target=str(archive)))
    assert isinstance(t.manifest, Manifest) and t.os == "linux"
    assert t.interpreter == tmp_path / "out" / "bin" / "python3.13"


def test_a_manifest_that_is_not_json_is_a_failed_extraction(tmp_path):
    archive = _archive(tmp_path, b"not json")
    r = Report(target=str(archive))
    assert checks.archive.extract(archive, tmp_path / "out", r) is None
    assert r.findings[-1].id == "archive.extract" and r.findings[-1].status == FAIL


@pytest.mark.parametrize("os_name,options,linkage", [
    ("linux", ("no-shared", "no-module"), "static"),
    ("macos", ("no-shared",), "static"),
    ("linux", ("no-module",), "shared"),
    ("windows", ("no-shared", "no-module"), "shared"),  # PCbuild links the DLLs; the platform drops no-shared
])
def test_the_manifest_linkage_is_what_the_target_does(os_name, options, linkage):
    assert targets.openssl_linkage(os_name, options) == linkage


def test_the_windows_platform_agrees_on_linkage():
    from pybuildssl.platforms import windows

    assert targets.openssl_linkage("windows", ["no-shared"]) == windows.OPENSSL_LINKAGE
