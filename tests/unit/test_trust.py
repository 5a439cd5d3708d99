"""The ssl trust patch: rendering, applying to text and prefixes, and its run-time logic.

No subprocess here.  The run-time logic is tested by executing the rendered
block in a namespace with a fake ``_ssl`` / ``_SSLContext`` (everything the
block needs from ssl.py), on files under tmp_path; and once against the real
ssl.py of this interpreter with its real OpenSSL.

Regenerate the golden renderings with ``PYBUILDSSL_REGEN_GOLDEN=1``.
"""

from __future__ import annotations

import collections
import glob
import hashlib
import json
import os
import ssl
import sys
import types
from pathlib import Path

import pytest

from pybuildssl import layouts, trust
from pybuildssl.errors import PatchError

GOLDEN = Path(__file__).resolve().parent / "golden"
PEM = (b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
HOST_SSL_PY = Path(ssl.__file__)


def stock_ssl_files() -> list[Path]:
    """ssl.py of the stock CPythons ci/stock_pythons.py has built into the cache (3.9, 3.11,
    3.13; none before the integration tests or the script first ran) and the host's own."""
    cache = Path(os.environ.get("PYBUILDSSL_CACHE") or Path.home() / ".cache" / "pybuildssl")
    found = sorted(glob.glob(str(cache / "stock-pythons" / "*" / "lib" / "python3.*" / "ssl.py")))
    return [Path(p) for p in found] + [HOST_SSL_PY]


SSL_FILES = stock_ssl_files()


# ------------------------------------------------------------- rendering ----

@pytest.mark.parametrize("os_name", ["linux", "macos", "windows"])
def test_golden_rendering(os_name):
    block = trust.render_patch(os_name)
    golden = GOLDEN / f"ssl_patch-{os_name}.py"
    if os.environ.get("PYBUILDSSL_REGEN_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(block, encoding="utf-8")
    assert block == golden.read_text(encoding="utf-8"), \
        "rendering changed: review, then regenerate with PYBUILDSSL_REGEN_GOLDEN=1"


@pytest.mark.parametrize("os_name", trust.TARGET_OSES)
def test_rendering_compiles_and_has_markers(os_name):
    block = trust.render_patch(os_name)
    compile(block, "block", "exec")
    assert block.startswith(trust.START_MARKER + "\n")
    assert block.endswith(trust.END_MARKER + "\n")
    assert f"_PYBUILDSSL_PATCH_VERSION = {trust.PATCH_VERSION}\n" in block


def test_linux_rendering_holds_the_table_fallback_in_order():
    ns = exec_constants(trust.render_patch("linux"))
    assert list(ns["_PYBUILDSSL_FALLBACK"]) == layouts.load().fallback("linux")
    assert ns["_PYBUILDSSL_TARGET_OS"] == "linux"
    assert ns["_PYBUILDSSL_OPT_OUT_ENV"] == trust.OPT_OUT_ENV


def test_windows_rendering_has_no_posix_fallback_and_overrides_nothing():
    block = trust.render_patch("windows")
    ns = exec_constants(block)
    assert ns["_PYBUILDSSL_FALLBACK"] == ()
    assert ns["_PYBUILDSSL_WINDOWS_MODE"] == "enumeration"
    every_posix_path = {p for os_name in layouts.POSIX_OSES
                        for _, p in layouts.load().fallback(os_name)}
    assert not [p for p in every_posix_path if p in block]
    assert "/etc/" not in block
    assert "SSLContext.set_default_verify_paths =" not in block
    assert "\ndef get_default_verify_paths(" not in block
    assert "_PYBUILDSSL_WINDOWS_MODE = 'both'" in trust.render_patch("windows", windows_mode="both")


def test_render_refuses_bad_input():
    with pytest.raises(PatchError, match="unknown target os"):
        trust.render_patch("plan9")
    with pytest.raises(PatchError, match="windows_mode") as e:
        trust.render_patch("windows", windows_mode="certstore")
    assert "enumeration" in e.value.hint
    with pytest.raises(PatchError, match="kind"):
        trust.render_patch("linux", fallback=[("bundle", "/etc/x.pem")])
    with pytest.raises(PatchError, match="absolute"):
        trust.render_patch("linux", fallback=[("file", "etc/x.pem")])
    with pytest.raises(PatchError, match="no file fallback"):
        trust.render_patch("windows", fallback=[("file", "/etc/x.pem")])


def test_odd_paths_render_as_literals_never_code():
    odd = "/etc/x'\")\nimport os; os._exit(7)  # \\ {{ x }} {% y %}\u00e9.pem"
    block = trust.render_patch("linux", fallback=[("file", odd), ("dir", "/etc/ok")])
    ns = exec_constants(block)
    assert ns["_PYBUILDSSL_FALLBACK"] == (("file", odd), ("dir", "/etc/ok"))
    assert "\nimport os; os._exit" not in block


def test_empty_fallback_renders_an_empty_tuple():
    assert "_PYBUILDSSL_FALLBACK = ()\n" in trust.render_patch("linux", fallback=[])


def exec_constants(block: str) -> dict:
    """The _PYBUILDSSL_* constants of a block, without running its functions."""
    lines = block.splitlines(keepends=True)
    src, i = [], 0
    while i < len(lines):
        if lines[i].startswith("_PYBUILDSSL_"):
            src.append(lines[i])
            if lines[i].rstrip().endswith("("):
                i += 1
                while not lines[i].startswith(")"):
                    src.append(lines[i])
                    i += 1
                src.append(lines[i])
        i += 1
    ns: dict = {}
    exec("".join(src), ns)
    return ns


# ------------------------------------------------------------------ text ----

@pytest.mark.parametrize("ssl_py", SSL_FILES, ids=lambda p: f"{p.parts[-4]}/{p.parts[-2]}")
def test_apply_strip_round_trip_on_real_ssl_py(ssl_py):
    original = ssl_py.read_bytes().decode("utf-8")
    block = trust.render_patch("linux")
    patched = trust.apply_to_text(original, block)
    assert trust.is_patched(patched) and not trust.is_patched(original)
    assert patched.startswith(original) and patched.endswith(block)
    assert trust.strip_from_text(patched) == original
    assert trust.extract_block(patched) == block and trust.extract_block(original) is None
    assert trust.apply_to_text(patched, block) == patched  # idempotent
    other = trust.render_patch("linux", fallback=[("file", "/etc/other.pem")])
    assert trust.strip_from_text(trust.apply_to_text(patched, other)) == original
    compile(patched, str(ssl_py), "exec")


@pytest.mark.parametrize("tail", ["\n", "", "\n\n", "\r\n"])
def test_round_trip_is_byte_exact_whatever_the_file_ends_with(tail):
    sample = ("import _ssl\nclass SSLContext(_SSLContext):\n"
              "    def load_default_certs(self):\n        self.set_default_verify_paths()\n"
              "def get_default_verify_paths():\n    pass" + tail)
    block = trust.render_patch("macos")
    patched = trust.apply_to_text(sample, block)
    assert trust.strip_from_text(patched) == sample
    assert trust.apply_to_text(patched, block) == patched


def test_strip_keeps_what_someone_appended_after_the_block():
    original = HOST_SSL_PY.read_text(encoding="utf-8")
    patched = trust.apply_to_text(original, trust.render_patch("linux")) + "# local addition\n"
    assert trust.strip_from_text(patched) == original + "# local addition\n"


def test_strip_of_unpatched_text_is_identity():
    assert trust.strip_from_text("x = 1\n") == "x = 1\n"


def test_refuses_a_file_that_is_not_cpython_ssl_py():
    with pytest.raises(PatchError, match="does not look like CPython's ssl.py") as e:
        trust.apply_to_text("import os\nprint('hello')\n", trust.render_patch("linux"))
    assert "3.9 to 3.14" in e.value.hint
    no_call = HOST_SSL_PY.read_text(encoding="utf-8").replace(
        "self.set_default_verify_paths()", "pass")
    with pytest.raises(PatchError, match="does not call set_default_verify_paths"):
        trust.apply_to_text(no_call, trust.render_patch("linux"))


def test_refuses_a_damaged_block():
    original = HOST_SSL_PY.read_text(encoding="utf-8")
    damaged = original + "\n" + trust.START_MARKER + "\nx = 1\n"
    with pytest.raises(PatchError, match="no end marker") as e:
        trust.strip_from_text(damaged)
    assert trust.BACKUP_SUFFIX in e.value.hint
    block = trust.render_patch("linux")
    twice = trust.apply_to_text(original, block) + "\n" + block
    with pytest.raises(PatchError, match="more than one"):
        trust.strip_from_text(twice)
    with pytest.raises(PatchError, match="markers"):
        trust.apply_to_text(original, "x = 1\n")


def test_opt_out_env_is_the_one_the_template_reads():
    assert f'_PYBUILDSSL_OPT_OUT_ENV = "{trust.OPT_OUT_ENV}"' in trust.render_patch("linux")


# ---------------------------------------------------- run-time behaviour ----

class FakeSSLError(Exception):
    pass


class Harness:
    """The rendered block executed against a fake ssl.py namespace.

    ``compiled``: the (cafile, capath) OpenSSL would report; ``fallback``:
    the baked list.  ``loaded`` records what the fake _SSLContext loads.
    """

    def __init__(self, tmp_path: Path, fallback, *, compiled=None, platform="linux",
                 fail_load=(), stat_override=None):
        self.tmp = tmp_path
        compiled = compiled or (str(tmp_path / "ossl" / "cert.pem"), str(tmp_path / "ossl" / "certs"))
        self.compiled = compiled
        self.opens: list[str] = []
        self.scans: list[str] = []
        self.stat_override = stat_override or {}
        harness = self

        parts = ("SSL_CERT_FILE", compiled[0], "SSL_CERT_DIR", compiled[1])
        fake_ssl = types.SimpleNamespace(get_default_verify_paths=lambda: parts)
        DefaultVerifyPaths = collections.namedtuple(
            "DefaultVerifyPaths", "cafile capath openssl_cafile_env openssl_cafile "
                                  "openssl_capath_env openssl_capath")

        def stock_get_default_verify_paths():  # CPython's, verbatim in spirit
            cafile = os.environ.get(parts[0], parts[1])
            capath = os.environ.get(parts[2], parts[3])
            return DefaultVerifyPaths(cafile if os.path.isfile(cafile) else None,
                                      capath if os.path.isdir(capath) else None, *parts)

        class _SSLContext:
            def __init__(self):
                self.loaded = []

            def set_default_verify_paths(self):
                self.loaded.append(("default",))

            def load_verify_locations(self, cafile=None, capath=None, cadata=None):
                where = cafile or capath
                if where in fail_load:
                    raise FakeSSLError("[X509] no certificate or crl found")
                self.loaded.append(("cafile", cafile) if cafile else ("capath", capath))

        class SSLContext(_SSLContext):
            def load_default_certs(self):
                self.set_default_verify_paths()

        fake_os = types.ModuleType("fake_os")
        fake_os.__dict__.update({k: getattr(os, k) for k in dir(os) if not k.startswith("__")})

        def stat(path, *a, **kw):
            st = os.stat(path, *a, **kw)
            over = harness.stat_override.get(os.fspath(path))
            if over:
                fields = {k: getattr(st, k) for k in dir(st) if k.startswith("st_")}
                fields.update(over)
                return types.SimpleNamespace(**fields)
            return st

        def scandir(path):
            harness.scans.append(path)
            return os.scandir(path)

        fake_os.stat = stat
        fake_os.scandir = scandir
        fake_sys = types.SimpleNamespace(platform=platform)

        def fake_open(path, mode="r", *a, **kw):
            harness.opens.append(path)
            return open(path, mode, *a, **kw)

        self.ns = {
            "__name__": "ssl", "os": fake_os, "sys": fake_sys, "_ssl": fake_ssl,
            "_SSLContext": _SSLContext, "SSLContext": SSLContext, "SSLError": FakeSSLError,
            "DefaultVerifyPaths": DefaultVerifyPaths, "open": fake_open,
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


def hashed_dir(path: Path, names=("a1b2c3d4.0",)) -> str:
    path.mkdir(parents=True, exist_ok=True)
    for n in names:
        (path / n).write_bytes(PEM)
    return str(path)


def test_compiled_file_usable_means_stock(tmp_path, clean_env):
    h = Harness(tmp_path, [("file", write(tmp_path / "fb" / "b.pem"))])
    write(Path(h.compiled[0]))
    assert h.resolve()["source"] == "compiled"
    assert h.context().loaded == [("default",)]
    assert h.paths().cafile == h.compiled[0]


def test_compiled_hashed_dir_usable_means_stock(tmp_path, clean_env):
    h = Harness(tmp_path, [("file", write(tmp_path / "fb" / "b.pem"))])
    hashed_dir(Path(h.compiled[1]))
    assert h.resolve()["source"] == "compiled"
    assert h.context().loaded == [("default",)]


@pytest.mark.parametrize("junk", [[], ["README", "cert.pem", "a1b2c3d4.pem", "A1B2C3D4.0",
                                       "a1b2c3d4.r0", "a1b2c3d.0", "a1b2c3d4.", "a1b2c3d4.0x"]])
def test_existing_but_unhashed_compiled_dir_is_not_usable(tmp_path, clean_env, junk):
    fb = write(tmp_path / "fb" / "b.pem")
    h = Harness(tmp_path, [("file", fb)])
    hashed_dir(Path(h.compiled[1]), names=junk)
    assert h.resolve()["source"] == "fallback"
    assert h.context().loaded == [("default",), ("cafile", fb)]


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
    assert h.context().loaded == [("default",), ("cafile", fb)]
    # set_default_verify_paths() alone (truststore's and pip's path) loads the same
    ctx = h.ns["SSLContext"]()
    ctx.set_default_verify_paths()
    assert ctx.loaded == [("default",), ("cafile", fb)]


def test_fallback_dir_is_reported_in_capath(tmp_path, clean_env):
    d = hashed_dir(tmp_path / "fb" / "certs")
    h = Harness(tmp_path, [("file", str(tmp_path / "nope.pem")), ("dir", d)])
    r = h.resolve()
    assert (r["source"], r["cafile"], r["capath"]) == ("fallback", None, d)
    assert h.paths().capath == d
    assert h.context().loaded == [("default",), ("capath", d)]


def test_file_kind_must_be_a_regular_file_and_dir_kind_a_directory(tmp_path, clean_env):
    d = hashed_dir(tmp_path / "fb" / "certs")
    f = write(tmp_path / "fb" / "b.pem")
    h = Harness(tmp_path, [("file", d), ("dir", f)])
    r = h.resolve(explain=True)
    assert r["source"] == "none"
    verdicts = [c[3] for c in r["checked"] if c[0] == "fallback"]
    assert verdicts == ["not a regular file", "not a directory"]


def test_symlinked_bundle_is_followed(tmp_path, clean_env):
    real = write(tmp_path / "fb" / "real.pem")
    link = tmp_path / "fb" / "link.pem"
    link.symlink_to(real)
    h = Harness(tmp_path, [("file", str(link))])
    assert h.resolve()["cafile"] == str(link)


def test_marker_after_long_comments_split_across_reads(tmp_path, clean_env):
    fb = write(tmp_path / "straddle.pem", b"#" * (16384 - 10) + PEM)  # across the 1st read
    long = write(tmp_path / "long.pem", b"# comment line\n" * 14000 + PEM)  # ~196 KiB
    too_long = write(tmp_path / "too-long.pem", b"#" * (300 * 1024) + PEM)
    for path, expected in ((fb, "fallback"), (long, "fallback"), (too_long, "none")):
        h = Harness(tmp_path, [("file", path)])
        assert h.resolve()["source"] == expected, path


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
    r = h.resolve()
    assert r["source"] == ("disabled" if disabled else "fallback")
    assert h.context().loaded == ([("default",)] if disabled else [("default",), ("cafile", fb)])
    assert h.paths().cafile == (None if disabled else fb)


def test_world_writable_location_or_parent_is_skipped(tmp_path, clean_env):
    ww_file = write(tmp_path / "a" / "ww.pem", mode=0o666)
    ww_parent = tmp_path / "b"
    ww_in = write(ww_parent / "in.pem")
    ww_parent.chmod(0o777)
    ww_dir = hashed_dir(tmp_path / "c" / "certs")
    os.chmod(ww_dir, 0o777)
    good = write(tmp_path / "d" / "good.pem")
    h = Harness(tmp_path, [("file", ww_file), ("file", ww_in), ("dir", ww_dir), ("file", good)])
    r = h.resolve(explain=True)
    assert r["cafile"] == good
    verdicts = {c[2]: c[3] for c in r["checked"] if c[0] == "fallback"}
    assert verdicts[ww_file] == "unsafe: world-writable"
    assert "world-writable" in verdicts[ww_in] and "parent directory" in verdicts[ww_in]
    assert verdicts[ww_dir] == "unsafe: world-writable"
    assert verdicts[good] == "usable"
    assert h.context().loaded == [("default",), ("cafile", good)]


def test_link_into_a_world_writable_directory_is_skipped(tmp_path, clean_env):
    drop = tmp_path / "drop"
    target = write(drop / "bundle.pem")
    drop.chmod(0o1777)  # sticky or not: refused
    (tmp_path / "etc").mkdir()
    link = tmp_path / "etc" / "cert.pem"
    link.symlink_to(target)
    h = Harness(tmp_path, [("file", str(link))])
    r = h.resolve(explain=True)
    assert r["source"] == "none"
    assert "world-writable" in r["checked"][-1][3]


def test_other_owner_is_skipped_root_and_self_are_trusted(tmp_path, clean_env):
    other = write(tmp_path / "a" / "other.pem")
    other_parent = write(tmp_path / "b" / "p.pem")
    mine = write(tmp_path / "c" / "mine.pem")
    by_root = write(tmp_path / "d" / "root.pem")
    me = os.geteuid()
    override = {other: {"st_uid": 4242}, str(tmp_path / "b"): {"st_uid": 4243},
                mine: {"st_uid": me}, by_root: {"st_uid": 0}}
    h = Harness(tmp_path, [("file", other), ("file", other_parent), ("file", mine)],
                stat_override=override)
    r = h.resolve(explain=True)
    verdicts = {c[2]: c[3] for c in r["checked"] if c[0] == "fallback"}
    assert verdicts[other] == "unsafe: owned by uid 4242"
    assert "owned by uid 4243" in verdicts[other_parent]
    assert r["cafile"] == mine
    h2 = Harness(tmp_path, [("file", other), ("file", by_root)], stat_override=override)
    assert h2.resolve()["cafile"] == by_root


def test_nothing_usable_is_stock_and_raises_nothing(tmp_path, clean_env):
    h = Harness(tmp_path, [("file", str(tmp_path / "x.pem")), ("dir", str(tmp_path / "y"))])
    r = h.resolve()
    assert (r["source"], r["cafile"], r["capath"]) == ("none", None, None)
    assert h.context().loaded == [("default",)]
    assert h.paths() == h.ns["_pybuildssl_stock_get_default_verify_paths"]()


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


def test_a_location_openssl_cannot_load_is_skipped_for_the_next(tmp_path, clean_env):
    first = write(tmp_path / "a" / "first.pem")
    second = write(tmp_path / "b" / "second.pem")
    h = Harness(tmp_path, [("file", first), ("file", second)], fail_load={first})
    assert h.context().loaded == [("default",), ("cafile", second)]
    assert h.paths().cafile == second  # consistent from now on
    assert h.context().loaded == [("default",), ("cafile", second)]


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
    os.utime(fb, ns=(1, 1))  # a new mtime (and size): probed again
    assert h.resolve()["cafile"] == str(fb)
    assert h.opens.count(str(fb)) == 2


def test_compiled_defaults_cost_a_stat_and_no_read_when_cached(tmp_path, clean_env):
    h = Harness(tmp_path, [("file", write(tmp_path / "fb" / "b.pem"))])
    write(Path(h.compiled[0]))
    for _ in range(10):
        h.context()
    assert h.opens == [h.compiled[0]]


def test_runtime_guard_on_windows_platform(tmp_path, clean_env):
    fb = write(tmp_path / "fb" / "b.pem")
    h = Harness(tmp_path, [("file", fb)], platform="win32")
    assert h.resolve()["source"] == "none"
    assert h.context().loaded == [("default",)]


def test_resolve_explain_lists_compiled_then_fallback(tmp_path, clean_env):
    fb = write(tmp_path / "fb" / "b.pem")
    h = Harness(tmp_path, [("file", fb)])
    r = h.resolve(explain=True)
    assert [c[:2] for c in r["checked"]] == [("compiled", "file"), ("compiled", "dir"),
                                             ("fallback", "file")]
    assert r["target_os"] == "linux" and r["patch_version"] == trust.PATCH_VERSION
    assert "checked" not in h.resolve()


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

def load_patched_ssl(monkeypatch, fallback) -> types.ModuleType:
    """This interpreter's ssl.py, patched, loaded as a separate module."""
    name = "_pybuildssl_patched_ssl"
    text = trust.apply_to_text(HOST_SSL_PY.read_text(encoding="utf-8"),
                               trust.render_patch("linux", fallback=fallback))
    module = types.ModuleType(name)
    module.__file__ = str(HOST_SSL_PY)
    monkeypatch.setitem(sys.modules, name, module)
    exec(compile(text, str(HOST_SSL_PY), "exec"), module.__dict__)
    return module


def a_private_ca_pem() -> bytes:
    """A CA certificate no system store holds."""
    from pybuildssl.verify import tls

    return tls.CA("pybuildssl unit-test CA").cert_pem


def test_real_ssl_py_with_real_openssl(tmp_path, clean_env):
    pem = a_private_ca_pem()
    bundle = write(tmp_path / "trust" / "bundle.pem", b"# a comment first\n" + pem)
    mod = load_patched_ssl(clean_env, [("file", bundle)])
    assert mod.SSLContext.set_default_verify_paths.__module__ == mod.__name__
    source = mod._pybuildssl_resolve()["source"]
    assert source in ("compiled", "none")
    # Make OpenSSL's compiled defaults look unusable to the block: only the
    # block's view changes; OpenSSL still loads its (here: usable) defaults.
    real = mod._ssl
    mod._ssl = types.SimpleNamespace(get_default_verify_paths=lambda: (
        "SSL_CERT_FILE", str(tmp_path / "none.pem"), "SSL_CERT_DIR", str(tmp_path / "none")))
    try:
        assert mod._pybuildssl_resolve()["cafile"] == bundle
        assert mod.get_default_verify_paths().cafile == bundle
        der = ssl.PEM_cert_to_DER_cert(pem.decode())
        stock = ssl.create_default_context()
        assert der not in stock.get_ca_certs(binary_form=True)
        ctx = mod.create_default_context()
        ders = [c for c in ctx.get_ca_certs(binary_form=True)]
        assert der in ders
        ctx2 = mod.SSLContext(mod.PROTOCOL_TLS_CLIENT)
        ctx2.set_default_verify_paths()
        assert der in ctx2.get_ca_certs(binary_form=True)
        clean_env.setenv(trust.OPT_OUT_ENV, "1")
        assert der not in mod.create_default_context().get_ca_certs(binary_form=True)
    finally:
        mod._ssl = real


# ---------------------------------------------------- files and prefixes ----

def make_prefix(root: Path, version: str = "3.12", pycs: bool = True,
                sysconfig: str = "_sysconfigdata__linux_x86_64-linux-gnu.py") -> Path:
    lib = root / "lib" / f"python{version}"
    lib.mkdir(parents=True)
    (lib / "ssl.py").write_bytes(HOST_SSL_PY.read_bytes())
    (lib / "ssl.py").chmod(0o640)
    (lib / sysconfig).write_text("build_time_vars = {}\n")
    if pycs:
        cache = lib / "__pycache__"
        cache.mkdir()
        tag = "cpython-" + version.replace(".", "")
        for suffix in ("", ".opt-1", ".opt-2"):
            (cache / f"ssl.{tag}{suffix}.pyc").write_bytes(b"stale")
        (cache / f"os.{tag}.pyc").write_bytes(b"keep")
    return root


def test_patch_prefix_patches_records_and_reverts_byte_for_byte(tmp_path):
    prefix = make_prefix(tmp_path / "py")
    ssl_py = prefix / "lib" / "python3.12" / "ssl.py"
    original = ssl_py.read_bytes()
    messages: list[str] = []
    result = trust.patch_prefix(prefix, log=messages.append)
    assert result.changed and result.target_os == "linux"
    (f,) = result.files
    assert f.action == "patched" and f.ssl_py == ssl_py
    patched = ssl_py.read_bytes()
    assert trust.is_patched(patched.decode())
    assert (ssl_py.stat().st_mode & 0o777) == 0o640
    backup = ssl_py.with_name("ssl.py" + trust.BACKUP_SUFFIX)
    assert backup.read_bytes() == original
    record = json.loads((ssl_py.parent / trust.RECORD_NAME).read_text())
    assert record["original_sha256"] == hashlib.sha256(original).hexdigest()
    assert record["patched_sha256"] == hashlib.sha256(patched).hexdigest()
    assert record["patch_version"] == trust.PATCH_VERSION
    assert record["fallback"] == [list(x) for x in layouts.load().fallback("linux")]
    # no interpreter in this prefix: the stale ssl pycs go, others stay
    cache = ssl_py.parent / "__pycache__"
    assert sorted(p.name for p in cache.iterdir()) == ["os.cpython-312.pyc"]
    assert any("removed stale" in m for m in messages)

    record_inode = (ssl_py.parent / trust.RECORD_NAME).stat().st_ino
    again = trust.patch_prefix(prefix)
    assert not again.changed and again.files[0].action == "unchanged"
    assert ssl_py.read_bytes() == patched and backup.read_bytes() == original
    assert (ssl_py.parent / trust.RECORD_NAME).stat().st_ino == record_inode  # not rewritten

    back = trust.patch_prefix(prefix, revert=True)
    assert back.files[0].action == "reverted"
    assert ssl_py.read_bytes() == original
    assert (ssl_py.stat().st_mode & 0o777) == 0o640
    assert not backup.exists() and not (ssl_py.parent / trust.RECORD_NAME).exists()
    assert trust.patch_prefix(prefix, revert=True).files[0].action == "not-patched"
    assert not [p for p in ssl_py.parent.iterdir() if p.name.startswith(".ssl.py")]  # no temp files


def test_dry_run_changes_nothing_and_shows_the_diff(tmp_path):
    prefix = make_prefix(tmp_path / "py")
    before = {p: p.read_bytes() for p in prefix.rglob("*") if p.is_file()}
    result = trust.patch_prefix(prefix, dry_run=True)
    assert result.files[0].action == "patched" and result.changed
    assert "+" + trust.START_MARKER in result.diff
    assert result.diff.startswith("--- ")
    assert {p: p.read_bytes() for p in prefix.rglob("*") if p.is_file()} == before
    trust.patch_prefix(prefix)
    rev = trust.patch_prefix(prefix, revert=True, dry_run=True)
    assert "-" + trust.START_MARKER in rev.diff
    assert trust.is_patched((prefix / "lib/python3.12/ssl.py").read_text())


def test_patch_prefix_refreshes_backup_when_ssl_py_was_reinstalled(tmp_path):
    prefix = make_prefix(tmp_path / "py", pycs=False)
    ssl_py = prefix / "lib" / "python3.12" / "ssl.py"
    trust.patch_prefix(prefix)
    newer = HOST_SSL_PY.read_bytes() + b"# a newer patch release\n"
    ssl_py.write_bytes(newer)  # `make install` of a newer release over the prefix
    trust.patch_prefix(prefix)
    assert ssl_py.with_name("ssl.py" + trust.BACKUP_SUFFIX).read_bytes() == newer
    trust.patch_prefix(prefix, revert=True)
    assert ssl_py.read_bytes() == newer


def test_revert_refuses_when_backup_and_file_disagree(tmp_path):
    prefix = make_prefix(tmp_path / "py", pycs=False)
    ssl_py = prefix / "lib" / "python3.12" / "ssl.py"
    trust.patch_prefix(prefix)
    ssl_py.with_name("ssl.py" + trust.BACKUP_SUFFIX).write_bytes(b"edited")
    with pytest.raises(PatchError, match="does not match"):
        trust.patch_prefix(prefix, revert=True)


def test_revert_without_backup_strips_the_block(tmp_path):
    prefix = make_prefix(tmp_path / "py", pycs=False)
    ssl_py = prefix / "lib" / "python3.12" / "ssl.py"
    original = ssl_py.read_bytes()
    trust.patch_prefix(prefix)
    ssl_py.with_name("ssl.py" + trust.BACKUP_SUFFIX).unlink()
    trust.patch_prefix(prefix, revert=True)
    assert ssl_py.read_bytes() == original


def test_patch_prefix_errors_say_what_to_do(tmp_path):
    with pytest.raises(PatchError, match="no such directory"):
        trust.patch_prefix(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PatchError, match="no ssl.py under") as e:
        trust.patch_prefix(tmp_path / "empty")
    assert "lib/pythonX.Y" in e.value.hint and "python/install" in e.value.hint
    notssl = tmp_path / "bogus" / "lib" / "python3.12"
    notssl.mkdir(parents=True)
    (notssl / "ssl.py").write_text("print('not ssl')\n")
    with pytest.raises(PatchError, match="does not look like CPython"):
        trust.patch_prefix(tmp_path / "bogus")
    assert (notssl / "ssl.py").read_text() == "print('not ssl')\n"


def test_write_failure_is_a_patch_error_with_a_hint(tmp_path, monkeypatch):
    prefix = make_prefix(tmp_path / "py", pycs=False)
    original = (prefix / "lib/python3.12/ssl.py").read_bytes()

    def denied(path, data, like=None):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(trust, "_atomic_write", denied)
    with pytest.raises(PatchError, match="Permission denied") as e:
        trust.patch_prefix(prefix)
    assert "owner" in e.value.hint
    assert (prefix / "lib/python3.12/ssl.py").read_bytes() == original


def test_find_ssl_py_layouts(tmp_path):
    pbs = make_prefix(tmp_path / "python" / "install", version="3.13t", pycs=False)
    assert trust.find_ssl_py(tmp_path / "python") == [pbs / "lib" / "python3.13t" / "ssl.py"]
    two = make_prefix(tmp_path / "usrlocal", version="3.9", pycs=False)
    make_prefix(tmp_path / "other", version="3.12", pycs=False)
    os.rename(tmp_path / "other" / "lib" / "python3.12", two / "lib" / "python3.12")
    assert [p.parent.name for p in trust.find_ssl_py(two)] == ["python3.12", "python3.9"]
    win = tmp_path / "win" / "Lib"
    win.mkdir(parents=True)
    (win / "ssl.py").write_bytes(HOST_SSL_PY.read_bytes())
    assert trust.find_ssl_py(tmp_path / "win") == [win / "ssl.py"]
    assert trust.detect_target_os(win / "ssl.py") == "windows"


def test_target_os_is_read_from_the_prefix(tmp_path):
    mac = make_prefix(tmp_path / "mac", sysconfig="_sysconfigdata__darwin_darwin.py", pycs=False)
    result = trust.patch_prefix(mac)
    assert result.target_os == "macos"
    text = (mac / "lib/python3.12/ssl.py").read_text()
    assert "_PYBUILDSSL_TARGET_OS = 'macos'" in text and "/private/etc/ssl/cert.pem" in text


def test_windows_prefix_gets_the_windows_block_and_mode_is_recorded(tmp_path):
    win = tmp_path / "win" / "Lib"
    win.mkdir(parents=True)
    (win / "ssl.py").write_bytes(HOST_SSL_PY.read_bytes())
    result = trust.patch_prefix(tmp_path / "win", windows_mode="winstore")
    assert result.target_os == "windows"
    text = (win / "ssl.py").read_text()
    assert "_PYBUILDSSL_WINDOWS_MODE = 'winstore'" in text and "/etc/" not in text
    record = json.loads((win / trust.RECORD_NAME).read_text())
    assert record["windows_mode"] == "winstore" and record["fallback"] == []


def test_patch_source_tree(tmp_path):
    lib = tmp_path / "Python-3.12.1" / "Lib"
    lib.mkdir(parents=True)
    (lib / "ssl.py").write_bytes(HOST_SSL_PY.read_bytes())
    out = trust.patch_source_tree(tmp_path / "Python-3.12.1", "linux")
    first = out.read_bytes()
    assert trust.is_patched(first.decode())
    trust.patch_source_tree(tmp_path / "Python-3.12.1", "linux")
    assert out.read_bytes() == first
    assert not (lib / ("ssl.py" + trust.BACKUP_SUFFIX)).exists()
    with pytest.raises(PatchError, match="no Lib/ssl.py"):
        trust.patch_source_tree(tmp_path, "linux")


def test_windows_winstore_mode_turns_enumeration_off_and_only_then():
    winstore = trust.render_patch("windows", windows_mode="winstore")
    assert "SSLContext._windows_cert_stores = ()" in winstore
    for mode in ("enumeration", "both"):
        assert "_windows_cert_stores" not in trust.render_patch("windows", windows_mode=mode)
    ns = {"SSLContext": type("SSLContext", (), {"_windows_cert_stores": ("CA", "ROOT")}),
          "get_default_verify_paths": lambda: None, "os": __import__("os"), "sys": __import__("sys")}
    exec(compile(winstore, "<winstore>", "exec"), ns)
    assert ns["SSLContext"]._windows_cert_stores == ()
