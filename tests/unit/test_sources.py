"""The download door and safe extraction (no network: a fake session stands in)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from pybuildssl import archive, sources
from pybuildssl.errors import ArchiveError, SourceError
from pybuildssl.recipe_source import Source
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
            body = data.get(m.name) if m.isreg() else None
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
    out = archive.extract(a, tmp_path / "out")
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
        archive.extract(a, tmp_path / "out")
    assert words in str(e.value) and repr(bad.name) in str(e.value)
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.tar.gz"]  # no staging left behind


def test_truncated_archive_is_a_clear_error(tmp_path):
    a = make_tar(tmp_path / "a.tar.gz", [member("pkg/big")], {"pkg/big": bytes(range(256)) * 4000})
    data = a.read_bytes()
    a.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError) as e:
        archive.extract(a, tmp_path / "out")
    assert "truncated or corrupt" in str(e.value)


def test_link_inside_the_tree_is_fine(tmp_path):
    a = make_tar(tmp_path / "a.tar.gz", [member("pkg", tarfile.DIRTYPE), member("pkg/bin", tarfile.DIRTYPE),
                                         member("pkg/bin/python3.13"),
                                         member("pkg/bin/python3", tarfile.SYMTYPE, "python3.13")],
                 {"pkg/bin/python3.13": b"elf"})
    out = archive.extract(a, tmp_path / "out")
    assert (out / "bin" / "python3").read_bytes() == b"elf"


# Escapes through links: each case puts a sentinel beside the destination (tmp/outside/sentinel),
# extracts into tmp/work/out (the staging directory is tmp/work/.out-*), and asserts the refusal,
# the sentinel's bytes and that nothing appeared anywhere else.  From the staging directory's
# members, "../../outside" is tmp/outside: a member one level down reaches it with "../../..".
S, H, D = tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE


def escape_case(tmp_path, members, data, *, strip_top=True):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel").write_bytes(b"SAFE")
    a = make_tar(tmp_path / "evil.tar.gz", members, data)
    try:
        archive.extract(a, tmp_path / "work" / "out", strip_top=strip_top)
        refusal = None
    except ArchiveError as e:
        refusal = e
    assert (outside / "sentinel").read_bytes() == b"SAFE", "written outside the destination"
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == \
        ["evil.tar.gz", "outside", "outside/sentinel", "work"]
    assert refusal is not None, "the archive was accepted"
    assert str(a) in str(refusal) and refusal.hint
    return str(refusal)


@pytest.mark.parametrize("strip_top", [True, False])
def test_the_chain_from_issue_11(tmp_path, strip_top):
    # b -> .. is the top directory; c -> b/.. is already outside it; d -> c/.. further out.
    # The hard link through d names the sentinel and the regular member after it would be
    # written through that hard link: the old textual check let all of it through.
    msg = escape_case(tmp_path, [
        member("pkg", D), member("pkg/b", S, ".."), member("pkg/c", S, "b/.."), member("pkg/d", S, "c/.."),
        member("pkg/e", H, "pkg/d/outside/sentinel"), member("pkg/e")], {"pkg/e": b"PWNED"},
        strip_top=strip_top)
    assert "'pkg/c' links outside the tree" in msg and "through 'pkg/b' -> '..'" in msg


def test_hard_link_through_a_symlink_that_leaves_the_tree(tmp_path):
    # pkg/b -> .. is the staging directory, allowed while streaming; a hard link through it
    # that climbs once more is resolved against the tree and refused before anything is linked.
    msg = escape_case(tmp_path, [
        member("pkg", D), member("pkg/b", S, ".."),
        member("pkg/e", H, "pkg/b/../../outside/sentinel"), member("pkg/e")], {"pkg/e": b"PWNED"})
    assert "'pkg/e' links outside the tree" in msg and "through 'pkg/b' -> '..'" in msg


def test_symlink_to_an_absolute_path_then_a_member_through_it(tmp_path):
    msg = escape_case(tmp_path, [
        member("pkg", D), member("pkg/x", S, str(tmp_path / "outside")), member("pkg/x/sentinel")],
        {"pkg/x/sentinel": b"PWNED"})
    assert "'pkg/x' links to an absolute path" in msg


@pytest.mark.parametrize("second", ["pkg/x/sentinel", "pkg/x"])
def test_member_over_an_existing_symlink_is_refused_even_inside(tmp_path, second):
    # x points inside, so the link itself is fine; writing through it or over it is not.
    msg = escape_case(tmp_path, [
        member("pkg", D), member("pkg/sub", D), member("pkg/x", S, "sub"), member(second)], {second: b"PWNED"})
    where = "through" if second.endswith("sentinel") else "over"
    assert f"{second!r} would be written {where} the symlink 'pkg/x' -> 'sub'" in msg


def test_member_over_a_symlink_pointing_outside(tmp_path):
    msg = escape_case(tmp_path, [member("pkg", D), member("pkg/x", S, "../../../outside"),
                                 member("pkg/x/sentinel")], {"pkg/x/sentinel": b"PWNED"})
    assert "'pkg/x' links outside the tree" in msg


def test_hard_link_to_a_symlink_pointing_outside(tmp_path):
    # pkg/s -> .. leaves the top directory that verify publishes; a hard link to the symlink
    # itself would carry it anywhere: hard links name regular files or nothing.
    msg = escape_case(tmp_path, [member("pkg", D), member("pkg/s", S, ".."), member("pkg/h", H, "pkg/s")], {})
    assert "'pkg/h' is a hard link to 'pkg/s', which is a symlink" in msg


def test_hard_link_to_nothing_is_refused_not_a_traceback(tmp_path):
    msg = escape_case(tmp_path, [member("pkg", D), member("pkg/h", H, "pkg/missing")], {})
    assert "'pkg/h' is a hard link to 'pkg/missing', which was not extracted before it" in msg


def test_symlink_loop_is_refused(tmp_path):
    msg = escape_case(tmp_path, [member("pkg", D), member("pkg/a", S, "b"), member("pkg/b", S, "a")], {})
    assert "symlink loop" in msg


def test_a_later_symlink_cannot_turn_an_earlier_one_outwards(tmp_path):
    # pkg/a -> b/../x is pkg/x while b does not exist; once pkg/b -> .. exists it is ../x.
    msg = escape_case(tmp_path, [member("pkg", D), member("pkg/a", S, "b/../x"), member("pkg/b", S, "..")], {},
                      strip_top=False)
    assert "'pkg/a' links outside the tree" in msg


def test_link_to_the_top_directory_parent_is_refused_when_the_top_is_stripped(tmp_path):
    # Inside the archive pkg/up -> .. is fine; published as the destination it points beside it.
    msg = escape_case(tmp_path, [member("pkg", D), member("pkg/up", S, "..")], {})
    assert "'pkg/up' links outside the tree: '..' leaves the top directory 'pkg'" in msg


def test_regular_file_named_twice_replaces_it_without_writing_through_a_hard_link(tmp_path):
    a = make_tar(tmp_path / "a.tar.gz", [member("pkg", D), member("pkg/f"), member("pkg/g", H, "pkg/f"),
                                         member("pkg/g")], {"pkg/f": b"first", "pkg/g": b"second"})
    out = archive.extract(a, tmp_path / "out")
    assert (out / "f").read_bytes() == b"first" and (out / "g").read_bytes() == b"second"


def test_real_prefix_links_that_stay_inside_are_accepted(tmp_path):
    # The shapes a CPython prefix has, including "../.." from deep inside and a link through a link.
    cfg = "python/lib/python3.13/config-3.13-x86_64-linux-gnu"
    members = [member("python", D), member("python/bin", D), member("python/bin/python3.13"),
               member("python/bin/python3", S, "python3.13"), member("python/bin/python3-copy", H,
                                                                     "python/bin/python3.13"),
               member("python/lib", D), member("python/lib/libpython3.13.a"),
               member("python/lib/python3.13", D), member(cfg, D),
               member(cfg + "/libpython3.13.a", S, "../../libpython3.13.a"),
               member("python/lib/config", S, "python3.13/config-3.13-x86_64-linux-gnu"),
               member("python/lib/via", S, "config/../../../bin/python3"),
               member("python/lib/a", D), member("python/lib/a/b", D),
               member("python/lib/a/b/up", S, "../../../bin"),
               member("python/lib/dangling", S, "not-there-yet")]
    a = make_tar(tmp_path / "a.tar.gz", members, {"python/bin/python3.13": b"elf", "python/lib/libpython3.13.a": b"ar"})
    out = archive.extract(a, tmp_path / "out")
    assert (out / cfg.split("/", 1)[1] / "libpython3.13.a").read_bytes() == b"ar"
    assert (out / "lib" / "via").read_bytes() == b"elf" and (out / "bin" / "python3-copy").read_bytes() == b"elf"
    assert (out / "lib" / "a" / "b" / "up" / "python3").read_bytes() == b"elf"
    assert (out / "lib" / "dangling").is_symlink()
    assert (out / "bin" / "python3-copy").stat().st_ino == (out / "bin" / "python3.13").stat().st_ino


def test_modes_are_normalised_the_same_on_every_python(tmp_path):
    f, d = member("pkg/f"), member("pkg/d", D)
    f.mode, d.mode = 0o6777, 0o500
    a = make_tar(tmp_path / "a.tar.gz", [member("pkg", D), d, f], {"pkg/f": b"x"})
    out = archive.extract(a, tmp_path / "out")
    assert (out / "f").stat().st_mode & 0o7777 == 0o755
    assert (out / "d").stat().st_mode & 0o7777 == 0o700  # r-x for its owner only, plus owner write


@pytest.mark.parametrize("bad,words", [
    (member("pkg/fifo", tarfile.FIFOTYPE), "is a device or fifo"),
    (member("pkg/odd", b"9"), "unsupported type"),
    (member("pkg/f/below"), "has the regular file 'pkg/f' as a parent directory"),
    (member("pkg/f", D), "would replace the regular file 'pkg/f' with a directory"),
    (member("pkg/f", H, "pkg/f"), "is a hard link to itself"),
    (member("pkg/long", S, "a/" * 2048), "has a link target of 4096 characters (1 to 4095 allowed)"),
])
def test_other_bad_members(tmp_path, bad, words):
    a = make_tar(tmp_path / "bad.tar.gz", [member("pkg", D), member("pkg/f"), bad], {"pkg/f": b"x"})
    with pytest.raises(ArchiveError) as e:
        archive.extract(a, tmp_path / "out")
    assert words in str(e.value) and repr(bad.name) in str(e.value)
    assert [p.name for p in tmp_path.iterdir()] == ["bad.tar.gz"]


def _random_link_archive(r, path: Path) -> None:
    """Up to 8 members under t/: symlinks and hard links made of a, b, .., outside, sentinel."""
    words = ["a", "b", "..", "outside", "sentinel", "t", ".", "a", "b"]
    members, data = [member("t", D)], {}
    for _ in range(r.randint(1, 8)):
        name = "t/" + "/".join(r.choice("abc") for _ in range(r.randint(1, 3)))
        link = "/".join(r.choice(words) for _ in range(r.randint(1, 5)))
        kind = r.choice([S, S, S, H, H, D, tarfile.REGTYPE, tarfile.REGTYPE])
        members.append(member(name, kind, link if kind == S else r.choice(["t/", ""]) + link if kind == H else ""))
        data[name] = b"PWNED"
    make_tar(path, members, data)


def test_random_link_archives_are_refused_or_contained(tmp_path):
    # An oracle independent of the model: after an accepted extraction, the kernel's view
    # (realpath, stat) of every symlink must stay inside; the sentinel never changes.
    import errno
    import os
    import random
    import shutil

    accepted = 0
    for seed in range(400):
        r, case = random.Random(seed), tmp_path / str(seed)
        (case / "outside").mkdir(parents=True)
        (case / "outside" / "sentinel").write_bytes(b"SAFE")
        _random_link_archive(r, case / "x.tar.gz")
        out = case / "w" / "out"
        try:
            archive.extract(case / "x.tar.gz", out, strip_top=r.random() < 0.5)
            accepted += 1
        except ArchiveError:
            assert not out.exists()
        assert (case / "outside" / "sentinel").read_bytes() == b"SAFE", seed
        assert sorted(p.name for p in case.rglob("*") if "w/out" not in p.as_posix()) == \
            ["outside", "sentinel", "w", "x.tar.gz"], seed
        for p in out.rglob("*") if out.exists() else ():
            if p.is_symlink():
                real = os.path.realpath(p)
                assert real == str(out) or real.startswith(str(out) + "/"), (seed, p, os.readlink(p))
                try:
                    p.stat()
                except OSError as e:  # dangling is fine, a loop is not
                    assert e.errno != errno.ELOOP, (seed, p, os.readlink(p))
        shutil.rmtree(case)
    assert 40 < accepted < 360  # both outcomes are exercised


def test_a_zip_is_refused_by_name(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "a.zip", "w") as z:
        z.writestr("../evil.txt", "x")
    with pytest.raises(ArchiveError) as e:
        archive.extract(tmp_path / "a.zip", tmp_path / "out")
    assert "it is a zip file; pybuildssl extracts tar archives only" in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]
