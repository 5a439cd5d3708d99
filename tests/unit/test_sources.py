"""The download door and safe extraction (no network: a fake session stands in)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from pybuildssl import sources
from pybuildssl.errors import ArchiveError, SourceError
from pybuildssl.recipe import Source
from pybuildssl.ui import UI

PAYLOAD = b"pretend this is openssl-3.5.9.tar.gz\n" * 100


def src(payload=PAYLOAD, size=None, mirrors=()) -> Source:
    return Source(name="openssl", version="3.5.9", url="https://example.invalid/openssl-{version}.tar.gz",
                  mirrors=tuple(mirrors), sha256=hashlib.sha256(payload).hexdigest(),
                  size=len(payload) if size is None else size, configure_args=(), patches=())


class FakeResponse:
    def __init__(self, status, body):
        self.status_code, self.body, self.headers = status, body, {"content-length": str(len(body))}

    def iter_content(self, n):
        for i in range(0, len(self.body), n):
            yield self.body[i:i + n]

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


class FakeSession:
    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def get(self, url, **kw):
        self.calls.append(url)
        status, body = self.answers.get(url, (404, b""))
        return FakeResponse(status, body)


def quiet():
    return UI(stream=io.StringIO())


def test_download_checks_sha256_and_lands_in_the_cache(tmp_path):
    s = src()
    sess = FakeSession({"https://example.invalid/openssl-3.5.9.tar.gz": (200, PAYLOAD)})
    got = sources.Sources(tmp_path, session=sess, ui=quiet()).fetch(s)
    assert got == tmp_path / "sources" / s.sha256 / "openssl-3.5.9.tar.gz" and got.read_bytes() == PAYLOAD
    # reused from the cache, re-checked, no second download
    again = sources.Sources(tmp_path, session=sess, ui=quiet()).fetch(s)
    assert again == got and len(sess.calls) == 1


def test_mismatch_names_both_digests_and_keeps_nothing(tmp_path):
    s = src()
    sess = FakeSession({"https://example.invalid/openssl-3.5.9.tar.gz": (200, b"evil" * 10)})
    with pytest.raises(SourceError) as e:
        sources.Sources(tmp_path, session=sess, ui=quiet()).fetch(s)
    assert s.sha256 in str(e.value) and hashlib.sha256(b"evil" * 10).hexdigest() in str(e.value)
    assert not any(p.is_file() for p in (tmp_path / "sources").rglob("*"))


def test_mirrors_are_tried_in_order(tmp_path):
    s = src(mirrors=["https://mirror.invalid/a.tgz"])
    sess = FakeSession({"https://mirror.invalid/a.tgz": (200, PAYLOAD)})
    got = sources.Sources(tmp_path, session=sess, ui=quiet()).fetch(s)
    assert got.read_bytes() == PAYLOAD
    assert sess.calls == ["https://example.invalid/openssl-3.5.9.tar.gz", "https://mirror.invalid/a.tgz"]


def test_source_dir_file_is_found_by_sha256_whatever_its_name(tmp_path):
    d = tmp_path / "mirror"
    d.mkdir()
    (d / "openssl_3.5.9.orig.tar.gz").write_bytes(PAYLOAD)
    (d / "decoy.tar.gz").write_bytes(b"x" * len(PAYLOAD))  # same size, other content
    sess = FakeSession({})
    got = sources.Sources(tmp_path / "cache", [d], session=sess, ui=quiet()).fetch(src())
    assert got == d / "openssl_3.5.9.orig.tar.gz" and sess.calls == []


def test_offline_and_nowhere_lists_what_was_tried(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    with pytest.raises(SourceError) as e:
        sources.Sources(tmp_path / "cache", [d], offline=True, ui=quiet()).fetch(src())
    msg = str(e.value)
    assert "was found nowhere" in msg and f"source dir {d}: no file with sha256" in msg
    assert "network: not tried (offline)" in msg and "--source-dir" in e.value.hint


def test_corrupt_cache_entry_is_removed_and_refetched(tmp_path):
    s = src()
    bad = tmp_path / "sources" / s.sha256 / "openssl-3.5.9.tar.gz"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"bitrot")
    sess = FakeSession({"https://example.invalid/openssl-3.5.9.tar.gz": (200, PAYLOAD)})
    got = sources.Sources(tmp_path, session=sess, ui=quiet()).fetch(s)
    assert got.read_bytes() == PAYLOAD


def test_source_dirs_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PYBUILDSSL_SOURCE_DIRS", f"{tmp_path}/a:{tmp_path}/b")
    assert sources.source_dirs_from_env() == [tmp_path / "a", tmp_path / "b"]


# ----------------------------------------------------------------- extraction ---

def make_tar(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes] = {}) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for m in members:
            body = data.get(m.name)
            if body is not None:
                m.size = len(body)
                tf.addfile(m, io.BytesIO(body))
            else:
                tf.addfile(m)
    return path


def member(name, kind=tarfile.REGTYPE, link=""):
    m = tarfile.TarInfo(name)
    m.type, m.linkname = kind, link
    return m


def test_extract_strips_the_top_directory(tmp_path):
    a = make_tar(tmp_path / "a.tar.gz", [member("pkg-1.0", tarfile.DIRTYPE), member("pkg-1.0/README")],
                 {"pkg-1.0/README": b"hi"})
    out = sources.extract(a, tmp_path / "out")
    assert (out / "README").read_bytes() == b"hi"


@pytest.mark.parametrize("bad,words", [
    (member("../evil"), "escapes the destination"),
    (member("pkg/../../evil"), "escapes the destination"),
    (member("/etc/evil"), "absolute path"),
    (member("pkg/link", tarfile.SYMTYPE, "../../etc/passwd"), "links outside the tree"),
    (member("pkg/abs", tarfile.SYMTYPE, "/etc/passwd"), "links to an absolute path"),
    (member("pkg/dev", tarfile.CHRTYPE), "device or fifo"),
])
def test_extract_refuses_members_escaping_their_directory(tmp_path, bad, words):
    a = make_tar(tmp_path / "bad.tar.gz", [member("pkg", tarfile.DIRTYPE), bad])
    with pytest.raises(ArchiveError) as e:
        sources.extract(a, tmp_path / "out")
    assert words in str(e.value) and repr(bad.name) in str(e.value)
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.tar.gz"]  # no staging left behind


def test_truncated_archive_is_a_clear_error(tmp_path):
    a = make_tar(tmp_path / "a.tar.gz", [member("pkg/big")], {"pkg/big": bytes(range(256)) * 4000})
    data = a.read_bytes()
    a.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError) as e:
        sources.extract(a, tmp_path / "out")
    assert "truncated or corrupt" in str(e.value)


def test_link_inside_the_tree_is_fine(tmp_path):
    a = make_tar(tmp_path / "a.tar.gz", [member("pkg", tarfile.DIRTYPE), member("pkg/bin", tarfile.DIRTYPE),
                                         member("pkg/bin/python3.13"),
                                         member("pkg/bin/python3", tarfile.SYMTYPE, "python3.13")],
                 {"pkg/bin/python3.13": b"elf"})
    out = sources.extract(a, tmp_path / "out")
    assert (out / "bin" / "python3").read_bytes() == b"elf"
