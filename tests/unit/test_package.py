"""Deterministic archives with the manifest first."""

from __future__ import annotations

import os
import tarfile

import pytest

from pybuildssl import package


def tree(root):
    (root / "bin").mkdir(parents=True)
    (root / "lib").mkdir()
    exe = root / "bin" / "python3.13"
    exe.write_bytes(b"\x7fELF fake")
    os.chmod(exe, 0o700)
    (root / "bin" / "python3").symlink_to("python3.13")
    (root / "lib" / "b.py").write_text("b = 2\n")
    (root / "lib" / "a.py").write_text("a = 1\n")
    os.chmod(root / "lib" / "a.py", 0o666)
    return root


@pytest.mark.parametrize("compression", ["gz", "xz"])
def test_two_packings_are_byte_identical_and_manifest_is_first(tmp_path, compression):
    root = tree(tmp_path / "root")
    man = {"schema": 1, "files": package.file_table(root)}
    a = package.write_archive(root, man, tmp_path / "a" / "x.tar", compression=compression, mtime=1700000000)
    os.utime(root / "lib" / "a.py", (0, 0))  # mtimes on disk must not matter
    b = package.write_archive(root, man, tmp_path / "b" / "x.tar", compression=compression, mtime=1700000000)
    assert a.read_bytes() == b.read_bytes()
    with tarfile.open(a) as tf:
        names = tf.getnames()
        assert names[0] == "python/PYBUILDSSL.json" and names[1] == "python"
        assert names[2:] == sorted(names[2:], key=lambda n: n.split("/"))
        for m in tf.getmembers():
            assert (m.uid, m.gid, m.uname, m.mtime) == (0, 0, "root", 1700000000)
            if m.isfile():
                assert m.mode in (0o644, 0o755)
        assert tf.getmember("python/lib/a.py").mode == 0o644          # world-writable normalised
        assert tf.getmember("python/bin/python3.13").mode == 0o755
        assert tf.getmember("python/bin/python3").linkname == "python3.13"
    assert package.read_manifest(a) == man


def test_file_table_hashes_every_file(tmp_path):
    root = tree(tmp_path / "root")
    t = package.file_table(root)
    assert t["bin/python3"] == {"type": "link", "target": "python3.13"}
    import hashlib

    assert t["lib/a.py"]["sha256"] == hashlib.sha256(b"a = 1\n").hexdigest()
    assert t["bin/python3.13"]["mode"] == "0755" and t["lib/b.py"]["mode"] == "0644"


def test_failed_write_leaves_nothing(tmp_path):
    root = tree(tmp_path / "root")
    dest = tmp_path / "dist" / "x.tar.gz"
    with pytest.raises(ValueError):
        package.write_archive(root, {}, dest, compression="bz2", mtime=0)
    assert list((tmp_path / "dist").iterdir()) == []
