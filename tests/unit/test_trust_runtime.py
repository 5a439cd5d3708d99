"""What the rendered ssl patch decides at run time, on real files under tmp_path.

The block runs in a namespace with a fake ``_ssl`` / ``_SSLContext`` that
records what would be loaded.  Files, directories, links, modes and group
owners are real (these tests run as root in CI: ``chown`` to another group
is real too); only two facts are faked, through the ``os`` the block sees:
the directories ABOVE tmp_path look root-owned and not writable by others
(``/tmp`` is world-writable, which the block rightly refuses), and a few
tests give an element another owner uid.  The attacks themselves, played by
a real unprivileged user in mount namespaces, are in
tests/integration/test_trust_attacks.py.
"""

from __future__ import annotations

import collections
import os
import ssl
import sys
import types
from pathlib import Path

import pytest

from pybuildssl import trust

PEM = (b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
HOST_SSL_PY = Path(ssl.__file__)
OTHER_GID = 65534  # nogroup: a group root is not in


class FakeSSLError(Exception):
    pass


def safe_view_os(tmp_path: Path, overrides: dict, log: list | None = None) -> types.ModuleType:
    """``os`` as the block sees it: tmp_path's ancestors look root-owned 0755."""
    fake = types.ModuleType("fake_os")
    fake.__dict__.update({k: getattr(os, k) for k in dir(os) if not k.startswith("__")})
    ancestors = {str(p) for p in Path(tmp_path).parents}

    def patched(st, path):
        over = dict(overrides.get(path, {}))
        if path in ancestors:  # outside the test: also still while other tests come and go
            over.setdefault("st_mode", st.st_mode & ~0o7022)
            over.setdefault("st_uid", 0)
            over.setdefault("st_gid", 0)
            over.setdefault("st_mtime_ns", 0)
            over.setdefault("st_ctime_ns", 0)
        if not over:
            return st
        fields = {k: getattr(st, k) for k in dir(st) if k.startswith("st_")}
        fields.update(over)
        return types.SimpleNamespace(**fields)

    def lstat(path, *a, **kw):
        if log is not None:
            log.append(("lstat", os.fspath(path)))
        return patched(os.lstat(path, *a, **kw), os.fspath(path))

    def stat(path, *a, **kw):
        return patched(os.stat(path, *a, **kw), os.fspath(path))

    fake.lstat = lstat
    fake.stat = stat
    return fake


class Harness:
    """The rendered block executed against a fake ssl.py namespace.

    ``compiled``: the (cafile, capath) OpenSSL would report; ``fallback``:
    the baked list.  A context's ``loaded`` records what it loads; the
    throwaway contexts of get_default_verify_paths() land in ``trials``.
    """

    def __init__(self, tmp_path: Path, fallback, *, compiled=None, platform="linux",
                 fail_load=(), stat_override=None):
        self.tmp = tmp_path
        compiled = compiled or (str(tmp_path / "ossl" / "cert.pem"), str(tmp_path / "ossl" / "certs"))
        self.compiled = compiled
        self.opens: list[str] = []
        self.scans: list[str] = []
        self.calls: list[tuple[str, str]] = []
        self.trials: list[str] = []
        self.stat_override = stat_override if stat_override is not None else {}
        harness = self

        parts = ("SSL_CERT_FILE", compiled[0], "SSL_CERT_DIR", compiled[1])
        fake_ssl = types.SimpleNamespace(get_default_verify_paths=lambda: parts,
                                         PROTOCOL_TLS_CLIENT=16)
        DefaultVerifyPaths = collections.namedtuple(
            "DefaultVerifyPaths", "cafile capath openssl_cafile_env openssl_cafile "
                                  "openssl_capath_env openssl_capath")

        def stock_get_default_verify_paths():  # CPython's, verbatim in spirit
            cafile = os.environ.get(parts[0], parts[1])
            capath = os.environ.get(parts[2], parts[3])
            return DefaultVerifyPaths(cafile if os.path.isfile(cafile) else None,
                                      capath if os.path.isdir(capath) else None, *parts)

        class _SSLContext:
            def __init__(self, protocol=None):
                self.loaded = []
                self.throwaway = protocol is not None

            def set_default_verify_paths(self):
                self.loaded.append(("default",))

            def load_verify_locations(self, cafile=None, capath=None, cadata=None):
                if self.throwaway:
                    harness.trials.append(cafile)
                if cafile in fail_load:
                    raise FakeSSLError("[X509] no certificate or crl found")
                if cafile:
                    self.loaded.append(("cafile", cafile))
                if capath:
                    self.loaded.append(("capath", capath))

        class SSLContext(_SSLContext):
            def load_default_certs(self):
                self.set_default_verify_paths()

        fake_os = safe_view_os(tmp_path, self.stat_override, self.calls)

        def scandir(path):
            harness.scans.append(path)
            return os.scandir(path)

        fake_os.scandir = scandir

        def fake_open(path, mode="r", *a, **kw):
            harness.opens.append(path)
            return open(path, mode, *a, **kw)

        self.ns = {
            "__name__": "ssl", "os": fake_os, "sys": types.SimpleNamespace(platform=platform),
            "_ssl": fake_ssl, "_SSLContext": _SSLContext, "SSLContext": SSLContext,
            "SSLError": FakeSSLError, "DefaultVerifyPaths": DefaultVerifyPaths, "open": fake_open,
            "get_default_verify_paths": stock_get_default_verify_paths,
        }
        block = trust.render_patch("linux", fallback=fallback)
        exec(compile(block, "<ssl patch>", "exec"), self.ns)

    def context(self):
        ctx = self.ns["SSLContext"]()
        ctx.load_default_certs()
        return ctx

    def resolve(self, **kw):
        return self.ns["_pybuildssl_resolve"](**kw)

    def verdicts(self):
        return {c[2]: c[3] for c in self.resolve(explain=True)["checked"]}

    def paths(self):
        return self.ns["get_default_verify_paths"]()


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", trust.OPT_OUT_ENV):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def write(path: Path, data: bytes = PEM, mode: int = 0o644) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    return str(path)


def hashed_dir(path: Path, names=("a1b2c3d4.0",), data: bytes = PEM) -> str:
    path.mkdir(parents=True, exist_ok=True)
    for n in names:
        (path / n).write_bytes(data)
    return str(path)


def group_writable(path: Path | str, gid: int = OTHER_GID) -> None:
    os.chown(path, -1, gid)
    os.chmod(path, os.stat(path).st_mode & 0o7777 | 0o020)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="environment gate: not root (changing a group owner)")


# ------------------------------------------------------------ usability ----

def test_compiled_file_usable_is_what_is_loaded_and_reported(tmp_path, clean_env):
    h = Harness(tmp_path, [("file", write(tmp_path / "fb" / "b.pem"))])
    write(Path(h.compiled[0]))
    assert h.resolve()["source"] == "compiled"
    assert h.context().loaded == [("cafile", h.compiled[0])]
    assert (h.paths().cafile, h.paths().capath) == (h.compiled[0], None)


def test_compiled_file_and_dir_both_usable_are_both_loaded_as_stock_does(tmp_path, clean_env):
    h = Harness(tmp_path, [])
    write(Path(h.compiled[0]))
    hashed_dir(Path(h.compiled[1]))
    assert h.context().loaded == [("cafile", h.compiled[0]), ("capath", h.compiled[1])]
    assert tuple(h.paths()[:2]) == h.compiled


def test_compiled_hashed_dir_usable(tmp_path, clean_env):
    h = Harness(tmp_path, [("file", write(tmp_path / "fb" / "b.pem"))])
    hashed_dir(Path(h.compiled[1]))
    assert h.resolve()["source"] == "compiled"
    assert h.context().loaded == [("capath", h.compiled[1])]


@pytest.mark.parametrize("junk", [[], ["README", "cert.pem", "a1b2c3d4.pem", "A1B2C3D4.0",
                                       "a1b2c3d4.r0", "a1b2c3d.0", "a1b2c3d4.", "a1b2c3d4.0x",
                                       "a1b2c3d4.1", "a1b2c3d4.\u0660"]])
def test_existing_but_unhashed_compiled_dir_is_not_usable(tmp_path, clean_env, junk):
    fb = write(tmp_path / "fb" / "b.pem")
    h = Harness(tmp_path, [("file", fb)])
    hashed_dir(Path(h.compiled[1]), names=junk)
    assert h.resolve()["source"] == "fallback"
    assert h.context().loaded == [("cafile", fb)]


@pytest.mark.parametrize("content", [b"", b"junk\n", b"-----BEGIN X509 CRL-----\n"])
def test_junk_hash_names_do_not_suppress_the_fallback(tmp_path, clean_env, content):
    junk = hashed_dir(tmp_path / "junk", names=("a1b2c3d4.0", "0badf00d.0"), data=content)
    good = write(tmp_path / "fb" / "b.pem")
    h = Harness(tmp_path, [("dir", junk), ("file", good)])
    assert h.verdicts()[junk] == "no readable certificate in a <hash>.0 entry"
    assert h.context().loaded == [("cafile", good)]
    (Path(junk) / "0badf00d.0").write_bytes(PEM)  # one real certificate is enough
    assert h.context().loaded == [("capath", junk)]


def test_hash_name_rule_is_one_function():
    ns = {"os": os, "sys": sys, "_ssl": None, "_SSLContext": object, "SSLContext": type("C", (), {}),
          "SSLError": Exception, "get_default_verify_paths": lambda: None}
    exec(compile(trust.render_patch("linux"), "<block>", "exec"), ns)
    rule = ns["_pybuildssl_hash_entry"]
    assert [rule(n) for n in ("a1b2c3d4.0", "a1b2c3d4.12", "a1b2c3d4.r0", "A1B2C3D4.0",
                              "a1b2c3d4.", "a1b2c3d4.r", "g1b2c3d4.0", "a1b2c3d4.0.pem")] == \
        ["cert", "cert", "crl", None, None, None, None, None]


def test_empty_or_certless_compiled_file_is_not_usable(tmp_path, clean_env):
    fb = write(tmp_path / "fb" / "b.pem")
    h = Harness(tmp_path, [("file", fb)])
    write(Path(h.compiled[0]), b"# no certificates here\n")
    assert h.resolve()["source"] == "fallback"


def test_fallback_file_is_loaded_and_reported(tmp_path, clean_env):
    missing = str(tmp_path / "nope.pem")
    empty_dir = str(tmp_path / "emptydir")
    os.mkdir(empty_dir)
    certless = write(tmp_path / "certless.pem", b"# only a comment\n")
    fb = write(tmp_path / "fb" / "b.pem")
    later = write(tmp_path / "later.pem")
    h = Harness(tmp_path, [("file", missing), ("dir", empty_dir), ("file", certless),
                           ("file", fb), ("file", later)])
    r = h.resolve()
    assert r["source"] == "fallback" and r["cafile"] == fb and r["capath"] is None
    paths = h.paths()
    assert paths.cafile == fb
    assert paths.openssl_cafile == h.compiled[0] and paths.openssl_capath == h.compiled[1]
    assert paths.openssl_cafile_env == "SSL_CERT_FILE"
    assert h.context().loaded == [("cafile", fb)]
    ctx = h.ns["SSLContext"]()
    ctx.set_default_verify_paths()  # truststore's and pip's path loads the same
    assert ctx.loaded == [("cafile", fb)]


def test_fallback_dir_is_reported_in_capath(tmp_path, clean_env):
    d = hashed_dir(tmp_path / "fb" / "certs")
    h = Harness(tmp_path, [("file", str(tmp_path / "nope.pem")), ("dir", d)])
    r = h.resolve()
    assert (r["source"], r["cafile"], r["capath"]) == ("fallback", None, d)
    assert h.paths().capath == d and h.paths().cafile is None
    assert h.context().loaded == [("capath", d)]


def test_file_kind_must_be_a_regular_file_and_dir_kind_a_directory(tmp_path, clean_env):
    d = hashed_dir(tmp_path / "fb" / "certs")
    f = write(tmp_path / "fb" / "b.pem")
    h = Harness(tmp_path, [("file", d), ("dir", f)])
    assert h.resolve()["source"] == "none"
    assert [h.verdicts()[p] for p in (d, f)] == ["not a regular file", "not a directory"]


def test_symlinks_are_followed_hop_by_hop(tmp_path, clean_env):
    real = write(tmp_path / "fb" / "real.pem")
    (tmp_path / "fb" / "link.pem").symlink_to("real.pem")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "cert.pem").symlink_to("../fb/link.pem")
    (tmp_path / "up").symlink_to(tmp_path / "etc")
    link = str(tmp_path / "up" / "cert.pem")
    h = Harness(tmp_path, [("file", link)])
    assert h.resolve()["cafile"] == link  # reported and loaded as given
    assert h.context().loaded == [("cafile", link)]
    assert real in h.opens


def test_a_link_loop_is_refused(tmp_path, clean_env):
    (tmp_path / "a.pem").symlink_to("b.pem")
    (tmp_path / "b.pem").symlink_to("a.pem")
    h = Harness(tmp_path, [("file", str(tmp_path / "a.pem"))])
    assert h.verdicts()[str(tmp_path / "a.pem")] == "too many levels of symbolic links"


def test_marker_after_long_comments_split_across_reads(tmp_path, clean_env):
    fb = write(tmp_path / "straddle.pem", b"#" * (16384 - 10) + PEM)  # across the 1st read
    long = write(tmp_path / "long.pem", b"# comment line\n" * 14000 + PEM)  # ~196 KiB
    too_long = write(tmp_path / "too-long.pem", b"#" * (300 * 1024) + PEM)
    for path, expected in ((fb, "fallback"), (long, "fallback"), (too_long, "none")):
        h = Harness(tmp_path, [("file", path)])
        assert h.resolve()["source"] == expected, path


# ----------------------------------------------------------- precedence ----

def test_explicit_environment_wins_and_no_fallback(tmp_path, clean_env):
    fb = write(tmp_path / "fb" / "b.pem")
    h = Harness(tmp_path, [("file", fb)])
    clean_env.setenv("SSL_CERT_FILE", str(tmp_path / "does-not-exist.pem"))
    assert h.resolve()["source"] == "env"
    assert h.context().loaded == [("default",)]
    assert h.paths().cafile is None  # stock: a missing SSL_CERT_FILE reports None
    clean_env.delenv("SSL_CERT_FILE")
    clean_env.setenv("SSL_CERT_DIR", "")
    assert h.resolve()["source"] == "env"
    assert h.context().loaded == [("default",)]


@pytest.mark.parametrize("value,disabled", [("1", True), ("yes", True), ("0", False), ("", False)])
def test_opt_out(tmp_path, clean_env, value, disabled):
    fb = write(tmp_path / "fb" / "b.pem")
    h = Harness(tmp_path, [("file", fb)])
    clean_env.setenv(trust.OPT_OUT_ENV, value)
    assert h.resolve()["source"] == ("disabled" if disabled else "fallback")
    assert h.context().loaded == ([("default",)] if disabled else [("cafile", fb)])
    assert h.paths().cafile == (None if disabled else fb)


def test_nothing_usable_loads_nothing_and_raises_nothing(tmp_path, clean_env):
    h = Harness(tmp_path, [("file", str(tmp_path / "x.pem")), ("dir", str(tmp_path / "y"))])
    r = h.resolve()
    assert (r["source"], r["cafile"], r["capath"]) == ("none", None, None)
    assert h.context().loaded == []
    assert h.paths() == h.ns["_pybuildssl_stock_get_default_verify_paths"]()


def test_resolve_explain_lists_compiled_then_fallback(tmp_path, clean_env):
    fb = write(tmp_path / "fb" / "b.pem")
    h = Harness(tmp_path, [("file", fb)])
    r = h.resolve(explain=True)
    assert [c[:2] for c in r["checked"]] == [("compiled", "file"), ("compiled", "dir"),
                                             ("fallback", "file")]
    assert r["target_os"] == "linux" and r["patch_version"] == trust.PATCH_VERSION
    assert "checked" not in h.resolve()


# --------------------------------------------------------------- safety ----

def test_world_writable_location_or_ancestor_is_refused(tmp_path, clean_env):
    ww_file = write(tmp_path / "a" / "ww.pem", mode=0o666)
    ww_parent = tmp_path / "b"
    ww_in = write(ww_parent / "in.pem")
    ww_parent.chmod(0o777)
    ww_dir = hashed_dir(tmp_path / "c" / "certs")
    os.chmod(ww_dir, 0o777)
    good = write(tmp_path / "d" / "good.pem")
    h = Harness(tmp_path, [("file", ww_file), ("file", ww_in), ("dir", ww_dir), ("file", good)])
    v = h.verdicts()
    assert v[ww_file] == f"unsafe: {ww_file!r} is world-writable"
    assert v[ww_in] == f"unsafe: {str(ww_parent)!r} is world-writable"
    assert v[ww_dir] == f"unsafe: {ww_dir!r} is world-writable"
    assert v[good] == "usable"
    assert h.context().loaded == [("cafile", good)]


def test_a_sticky_directory_is_a_passage_to_what_others_cannot_replace(tmp_path, clean_env):
    """/tmp, or NixOS's /nix/store (root:nixbld 1775): others may add names to a sticky
    directory but cannot rename, remove or replace an entry they do not own."""
    sticky = tmp_path / "s"
    below = write(sticky / "pkg" / "ca.pem")                 # an existing directory of root's (or yours)
    direct = write(sticky / "direct.pem")                     # a file straight in the sticky dir
    linked = write(sticky / "linked.pem")
    os.link(linked, tmp_path / "elsewhere.pem")               # two links: could have been planted
    store = hashed_dir(sticky / "certs")
    sticky.chmod(0o1777)
    def verdict(kind, path):  # each alone: resolution stops at the first usable location
        return Harness(tmp_path, [(kind, str(path))]).verdicts()[str(path)]

    assert verdict("file", below) == verdict("file", direct) == verdict("dir", store) == "usable"
    assert verdict("file", linked) == \
        f"unsafe: {str(linked)!r} has 2 hard links in a directory others may add names to"
    # as the location itself a sticky directory is refused: anyone could add a <hash>.0 there
    assert verdict("dir", sticky) == f"unsafe: {str(sticky)!r} is world-writable (sticky)"
    # a group-writable sticky directory (NixOS's store) likewise, as a passage and as a location
    sticky.chmod(0o1775)
    assert verdict("file", below) == "usable"
    if os.geteuid() == 0:
        os.chown(sticky, -1, OTHER_GID)
        assert verdict("dir", sticky) == f"unsafe: {str(sticky)!r} is writable by group {OTHER_GID}"


@needs_root
def test_an_entry_of_another_user_in_a_sticky_directory_is_refused(tmp_path, clean_env):
    sticky = tmp_path / "s"
    theirs = write(sticky / "theirs" / "ca.pem")
    os.chown(sticky / "theirs", 65534, 65534)
    sticky.chmod(0o1777)
    v = Harness(tmp_path, [("file", theirs)]).verdicts()
    assert v[theirs] == f"unsafe: {str(sticky / 'theirs')!r} is owned by uid 65534"


@needs_root
def test_group_writable_bundle_dir_or_ancestor_is_refused_unless_group_root(tmp_path, clean_env):
    gw_file = write(tmp_path / "a" / "gw.pem")
    group_writable(gw_file)
    gw_dir = hashed_dir(tmp_path / "b" / "certs")
    group_writable(gw_dir)
    gw_top = tmp_path / "c"
    gw_deep = write(gw_top / "x" / "y" / "z.pem")
    group_writable(gw_top)
    root_group = write(tmp_path / "d" / "root-group.pem")
    group_writable(root_group, gid=0)
    h = Harness(tmp_path, [("file", gw_file), ("dir", gw_dir), ("file", gw_deep),
                           ("file", root_group)])
    v = h.verdicts()
    assert v[gw_file] == f"unsafe: {gw_file!r} is writable by group {OTHER_GID}"
    assert v[gw_dir] == f"unsafe: {gw_dir!r} is writable by group {OTHER_GID}"
    assert v[gw_deep] == f"unsafe: {str(gw_top)!r} is writable by group {OTHER_GID}"
    assert v[root_group] == "usable"


def test_symlink_hop_in_a_writable_dir_is_refused(tmp_path, clean_env):
    # etc/cert.pem -> ../drop/hop.pem -> ../store/real.pem: only the middle
    # hop sits in a world-writable directory.
    real = write(tmp_path / "store" / "real.pem")
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "hop.pem").symlink_to("../store/real.pem")
    drop.chmod(0o777)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "cert.pem").symlink_to("../drop/hop.pem")
    loc = str(tmp_path / "etc" / "cert.pem")
    h = Harness(tmp_path, [("file", loc), ("file", real)])
    assert h.verdicts()[loc] == f"unsafe: {str(drop)!r} is world-writable"
    assert h.context().loaded == [("cafile", real)]


def test_hashed_entry_linking_into_a_writable_dir_refuses_the_directory(tmp_path, clean_env):
    drop = tmp_path / "drop"
    write(drop / "evil.pem")
    drop.chmod(0o777)
    d = hashed_dir(tmp_path / "store" / "certs", names=("a1b2c3d4.0",))
    (Path(d) / "0badf00d.0").symlink_to(drop / "evil.pem")
    good = write(tmp_path / "fb" / "good.pem")
    h = Harness(tmp_path, [("dir", d), ("file", good)])
    assert h.verdicts()[d] == f"unsafe: entry 0badf00d.0: {str(drop)!r} is world-writable"
    assert h.context().loaded == [("cafile", good)]
    # a CRL entry is read too (with CRL checks on): the same rule
    os.unlink(Path(d) / "0badf00d.0")
    (Path(d) / "0badf00d.r0").symlink_to(drop / "evil.pem")
    assert h.verdicts()[d].startswith("unsafe: entry 0badf00d.r0: ")
    os.unlink(Path(d) / "0badf00d.r0")
    assert h.context().loaded == [("capath", d)]


def test_a_dangling_entry_is_ignored_not_fatal(tmp_path, clean_env):
    d = hashed_dir(tmp_path / "store" / "certs")
    (Path(d) / "0badf00d.0").symlink_to(tmp_path / "store" / "gone.pem")
    h = Harness(tmp_path, [("dir", d)])
    assert h.context().loaded == [("capath", d)]


def test_other_owner_is_refused_root_and_self_are_trusted(tmp_path, clean_env):
    other = write(tmp_path / "a" / "other.pem")
    above = write(tmp_path / "b" / "x" / "p.pem")
    link = tmp_path / "c" / "link.pem"
    link.parent.mkdir()
    link.symlink_to(write(tmp_path / "c" / "real.pem"))
    mine = write(tmp_path / "d" / "mine.pem")
    me = os.geteuid()
    override = {other: {"st_uid": 4242}, str(tmp_path / "b"): {"st_uid": 4243},
                str(link): {"st_uid": 4244}, mine: {"st_uid": me}}
    h = Harness(tmp_path, [("file", other), ("file", above), ("file", str(link)), ("file", mine)],
                stat_override=override)
    v = h.verdicts()
    assert v[other] == f"unsafe: {other!r} is owned by uid 4242"
    assert v[above] == f"unsafe: {str(tmp_path / 'b')!r} is owned by uid 4243"
    assert v[str(link)] == f"unsafe: {str(link)!r} is owned by uid 4244"
    assert h.resolve()["cafile"] == mine


def test_unsafe_compiled_defaults_are_skipped(tmp_path, clean_env):
    good = write(tmp_path / "fb" / "good.pem")
    h = Harness(tmp_path, [("file", good)])
    write(Path(h.compiled[0]), mode=0o666)
    d = hashed_dir(Path(h.compiled[1]))
    h.stat_override[d] = {"st_uid": 4242}
    r = h.resolve(explain=True)
    assert r["source"] == "fallback" and r["cafile"] == good
    assert [c[3][:7] for c in r["checked"][:2]] == ["unsafe:", "unsafe:"]
    assert h.context().loaded == [("cafile", good)]
    del h.stat_override[d]  # the compiled dir alone is safe: loaded alone, never the file
    assert h.context().loaded == [("capath", d)]
    assert tuple(h.paths()[:2]) == (None, d)


# ------------------------------------------------------- get/set agree ----

def test_get_and_set_agree_when_first_bundle_is_corrupt(tmp_path, clean_env):
    first = write(tmp_path / "a" / "first.pem")  # a PEM marker OpenSSL cannot load
    second = write(tmp_path / "b" / "second.pem")
    h = Harness(tmp_path, [("file", first), ("file", second)], fail_load={first})
    assert h.paths().cafile == second  # truststore's order: get first, then set
    assert h.trials == [first, second]
    ctx = h.ns["SSLContext"]()
    ctx.set_default_verify_paths()
    assert ctx.loaded == [("cafile", second)]
    assert h.trials == [first, second]  # decided once: no second trial
    assert h.verdicts()[first] == "OpenSSL could not load it"


def test_set_first_then_get_also_agree_on_a_corrupt_bundle(tmp_path, clean_env):
    first = write(tmp_path / "a" / "first.pem")
    second = write(tmp_path / "b" / "second.pem")
    h = Harness(tmp_path, [("file", first), ("file", second)], fail_load={first})
    assert h.context().loaded == [("cafile", second)]
    assert h.paths().cafile == second and h.trials == []  # set's own load was the proof
    write(Path(first), PEM + b"# rewritten\n")  # it changed: tried again
    assert h.context().loaded == [("cafile", second)]


# ---------------------------------------------------------------- cost ----

def test_the_common_path_is_a_few_lstats_no_read_no_scan(tmp_path, clean_env):
    store = tmp_path / "share" / "mozilla"
    d = tmp_path / "etc" / "certs"
    d.mkdir(parents=True)
    for i in range(50):
        target = write(store / f"ca{i}.crt")
        (d / f"ca{i}.pem").symlink_to(target)
        (d / f"{i:08x}.0").symlink_to(f"ca{i}.pem")
    h = Harness(tmp_path, [("dir", str(d))])
    h.context()
    opens, scans = len(h.opens), len(h.scans)
    assert opens == 1 and scans == 1  # deciding: one read, one scan
    h.calls.clear()
    for _ in range(5):
        h.context()
        h.paths()
    assert len(h.opens) == opens and len(h.scans) == scans
    per_call = {p for _, p in h.calls}
    # every directory examined and the one entry read (its link chain), never the other 149
    files = sorted(p[len(str(tmp_path)):] for p in per_call if p.endswith((".0", ".pem", ".crt")))
    assert files == ["/etc/certs/00000000.0", "/etc/certs/ca0.pem", "/share/mozilla/ca0.crt"]
    assert len(h.calls) / 10 <= len(tmp_path.parts) + 8


def test_a_change_of_mode_anywhere_on_the_path_is_noticed(tmp_path, clean_env):
    top = tmp_path / "top"
    fb = write(top / "mid" / "b.pem")
    h = Harness(tmp_path, [("file", fb)])
    assert h.context().loaded == [("cafile", fb)]
    top.chmod(0o777)
    assert h.context().loaded == []
    top.chmod(0o755)
    assert h.context().loaded == [("cafile", fb)]


def test_usability_is_cached_until_the_location_changes(tmp_path, clean_env):
    fb = tmp_path / "fb" / "b.pem"
    write(fb, b"# comments only\n")
    d = hashed_dir(tmp_path / "d" / "certs")
    h = Harness(tmp_path, [("file", str(fb)), ("dir", d)])
    for _ in range(5):
        h.context()
        h.paths()
    assert h.opens.count(str(fb)) == 1
    assert h.scans.count(d) == 1
    write(fb, b"# comments\n" + PEM)
    assert h.resolve()["cafile"] == str(fb)
    assert h.opens.count(str(fb)) == 2


# ----------------------------------------------------------- robustness ----

def test_oserror_while_probing_is_swallowed(tmp_path, clean_env):
    bad = write(tmp_path / "a" / "bad.pem")
    good = write(tmp_path / "b" / "good.pem")
    h = Harness(tmp_path, [("file", bad), ("file", good)])

    def refusing_open(path, *a, **kw):
        if path == bad:
            raise PermissionError(13, "Permission denied", path)
        return open(path, *a, **kw)

    h.ns["open"] = refusing_open
    r = h.resolve(explain=True)
    assert r["cafile"] == good
    assert ("fallback", "file", bad, "unreadable") in r["checked"]


def test_a_bug_in_the_fallback_never_breaks_ssl(tmp_path, clean_env):
    fb = write(tmp_path / "fb" / "b.pem")
    h = Harness(tmp_path, [("file", fb)])
    del h.ns["os"].geteuid  # say, a platform without it
    assert h.context().loaded == [("default",)]
    assert h.paths() == h.ns["_pybuildssl_stock_get_default_verify_paths"]()
    with pytest.raises(AttributeError):  # doctor sees the bug
        h.resolve()


def test_runtime_guard_on_windows_platform(tmp_path, clean_env):
    fb = write(tmp_path / "fb" / "b.pem")
    h = Harness(tmp_path, [("file", fb)], platform="win32")
    assert h.resolve()["source"] == "none"
    assert h.context().loaded == [("default",)]


def test_overrides_look_like_the_methods_they_replace(tmp_path, clean_env):
    h = Harness(tmp_path, [])
    method = h.ns["SSLContext"].set_default_verify_paths
    assert method.__name__ == "set_default_verify_paths"
    assert h.ns["get_default_verify_paths"].__wrapped__ is \
        h.ns["_pybuildssl_stock_get_default_verify_paths"]


def test_windows_block_resolves_without_fallback(tmp_path, clean_env):
    ns = {"__name__": "ssl", "os": os, "sys": types.SimpleNamespace(platform="win32"),
          "_ssl": types.SimpleNamespace(get_default_verify_paths=lambda: (
              "SSL_CERT_FILE", None, "SSL_CERT_DIR", None)),
          "_SSLContext": object, "SSLContext": type("SSLContext", (), {}),
          "SSLError": FakeSSLError,
          "get_default_verify_paths": lambda: os.path.isfile(None)}  # stock's TypeError
    exec(trust.render_patch("windows", windows_mode="both"), ns)
    r = ns["_pybuildssl_resolve"]()
    assert (r["source"], r["cafile"], r["capath"], r["windows_mode"]) == ("none", None, None, "both")
    assert "set_default_verify_paths" not in vars(ns["SSLContext"])


# ------------------------------------------- the real ssl.py, in-process ----

def load_patched_ssl(monkeypatch, tmp_path, fallback) -> types.ModuleType:
    """This interpreter's ssl.py, patched, loaded as a separate module."""
    name = "_pybuildssl_patched_ssl"
    text = trust.apply_to_text(HOST_SSL_PY.read_text(encoding="utf-8"),
                               trust.render_patch("linux", fallback=fallback))
    module = types.ModuleType(name)
    module.__file__ = str(HOST_SSL_PY)
    monkeypatch.setitem(sys.modules, name, module)
    exec(compile(text, str(HOST_SSL_PY), "exec"), module.__dict__)
    module.os = safe_view_os(tmp_path, {})  # /tmp above tmp_path is world-writable
    return module


def test_real_ssl_py_with_real_openssl(tmp_path, clean_env):
    from pybuildssl.verify import tls

    pem = tls.CA("pybuildssl unit-test CA").cert_pem
    bundle = write(tmp_path / "trust" / "bundle.pem", b"# a comment first\n" + pem)
    corrupt = write(tmp_path / "trust" / "corrupt.pem", PEM)  # a marker, no certificate
    mod = load_patched_ssl(clean_env, tmp_path, [("file", corrupt), ("file", bundle)])
    assert mod.SSLContext.set_default_verify_paths.__module__ == mod.__name__
    assert mod._pybuildssl_resolve()["source"] in ("compiled", "none")
    # Make OpenSSL's compiled defaults unusable for the block.
    real = mod._ssl
    # The real _ssl but for its compiled defaults (ssl.py of 3.13+ reads more of it, e.g.
    # VERIFY_X509_PARTIAL_CHAIN in create_default_context()).
    mod._ssl = types.SimpleNamespace(**{k: getattr(real, k) for k in dir(real) if not k.startswith("__")})
    mod._ssl.get_default_verify_paths = lambda: (
        "SSL_CERT_FILE", str(tmp_path / "none.pem"), "SSL_CERT_DIR", str(tmp_path / "none"))
    try:
        assert mod.get_default_verify_paths().cafile == bundle  # corrupt: refused by OpenSSL
        assert mod._pybuildssl_resolve()["cafile"] == bundle
        der = ssl.PEM_cert_to_DER_cert(pem.decode())
        ctx = mod.create_default_context()
        assert ctx.get_ca_certs(binary_form=True) == [der]  # exactly the fallback
        ctx2 = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
        ctx2.set_default_verify_paths()
        assert ctx2.get_ca_certs(binary_form=True) == [der]
        clean_env.setenv(trust.OPT_OUT_ENV, "1")
        assert der not in mod.create_default_context().get_ca_certs(binary_form=True)
    finally:
        mod._ssl = real


def test_usability_without_safety_reads_entries_in_their_directory(tmp_path, clean_env):
    # doctor's "usable, safe or not" view (and Windows): plain stats, same rule
    d = hashed_dir(tmp_path / "certs", names=("a1b2c3d4.0",))
    os.chmod(d, 0o777)
    junk = hashed_dir(tmp_path / "junk", names=("a1b2c3d4.0",), data=b"junk\n")
    h = Harness(tmp_path, [])
    probe = h.ns["_pybuildssl_probe"]
    assert probe("dir", d, False) is None
    assert probe("dir", d, True) == f"unsafe: {d!r} is world-writable"
    assert probe("dir", junk, False) == "no readable certificate in a <hash>.0 entry"


# ------------------------------------------------------------ free-threaded ----

def test_the_decision_cache_is_only_replaced_whole_never_mutated():
    """What keeps the cache safe without the GIL (free-threaded 3.14+): the one shared object,
    _pybuildssl_cache, is read with .get() and written by assigning a whole immutable tuple;
    a dict's get and set are atomic there too, so the worst a race can do is decide twice."""
    import ast

    tree = ast.parse(trust.render_patch("linux"))
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "_pybuildssl_cache"]
    parents = {id(c): p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    kinds = set()
    for n in uses:
        parent = parents[id(n)]
        if isinstance(parent, ast.Attribute):
            kinds.add(f".{parent.attr}")
        elif isinstance(parent, ast.Subscript):
            assign = parents[id(parent)]
            # a tuple literal, or `decision`: what _pybuildssl_decide() returned (tuples only, below)
            assert isinstance(assign, ast.Assign) and (isinstance(assign.value, ast.Tuple) or ast.unparse(
                assign.value) == "decision"), ast.unparse(assign)
            kinds.add("[key] = tuple")
        elif isinstance(parent, ast.Assign):
            assert isinstance(parent.value, ast.Dict) and not parent.value.keys  # the module-level `= {}`
            kinds.add("= {}")
        else:
            raise AssertionError(f"unexpected use of the cache: {ast.unparse(parent)}")
    assert kinds == {".get", "[key] = tuple", "= {}"}
    (decide,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_pybuildssl_decide"]
    returns = [n for n in ast.walk(decide) if isinstance(n, ast.Return)]
    assert returns and all(isinstance(r.value, ast.Tuple) for r in returns)


def test_threads_racing_on_one_location_agree(tmp_path, clean_env):
    """Many threads deciding (and re-deciding after a change) at once: every answer is a
    whole decision, and the last one stands.  With the GIL this exercises the interleavings
    a short switch interval allows; without it, dict get/set keep the same guarantees."""
    import threading

    bundle = write(tmp_path / "trust" / "bundle.pem")
    ns = Harness(tmp_path, [("file", bundle)]).ns
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    results, errors = [], []

    def worker():
        try:
            for _ in range(200):
                results.append(ns["_pybuildssl_verdict"]("file", bundle, os.geteuid(), {}))
        except Exception as e:  # pragma: no cover - the failure being tested for
            errors.append(e)

    try:
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors and len(results) == 1600
    assert all(isinstance(r, tuple) and len(r) == 3 and r[0] is None for r in results)
