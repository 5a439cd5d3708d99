"""The ssl trust patch: rendering, applying to text and prefixes, and its run-time logic.

No subprocess here.  The run-time logic (what the block decides, on real
files) is in test_trust_runtime.py.

Regenerate the golden renderings with ``PYBUILDSSL_REGEN_GOLDEN=1``.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import ssl
from pathlib import Path

import pytest

from pybuildssl import layouts, trust
from pybuildssl.errors import PatchError

GOLDEN = Path(__file__).resolve().parent / "golden"
PEM = (b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
from pybuildssl.cache import default_cache_dir  # noqa: E402

HOST_SSL_PY = Path(ssl.__file__)


def stock_ssl_files() -> list[Path]:
    """ssl.py of the stock CPythons ci/stock_pythons.py has built into the cache (3.9, 3.11,
    3.13; none before the integration tests or the script first ran) and the host's own."""
    cache = default_cache_dir()
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
    assert "3.9 to 3.15" in e.value.hint
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


PY27_SSL_PY = (
    "# Python 2.7's Lib/ssl.py begins like this (it has no SSLContext(_SSLContext) class).\n"
    "import textwrap\nimport re\nimport sys\nimport os\n\nimport _ssl\n"
)


def make_py27_prefix(root: Path) -> Path:
    lib = root / "lib" / "python2.7"
    lib.mkdir(parents=True)
    (lib / "ssl.py").write_text(PY27_SSL_PY)
    (root / "bin").mkdir()
    return root


def test_patch_names_the_unsupported_line_and_the_range(tmp_path, capsys):
    from pybuildssl import cli

    prefix = make_py27_prefix(tmp_path / "py27")
    with pytest.raises(PatchError) as e:
        trust.patch_prefix(prefix)
    assert e.value.message == (f"{prefix} holds Python 2.7 (lib/python2.7/ssl.py); "
                               "pybuildssl patches CPython 3.9 to 3.15 only")
    assert cli.main(["patch", str(prefix)]) == 2
    err = capsys.readouterr().err
    assert "Python 2.7" in err and "CPython 3.9 to 3.15" in err and "no ssl.py under" not in err
    assert (prefix / "lib" / "python2.7" / "ssl.py").read_text() == PY27_SSL_PY
    assert sorted(p.name for p in (prefix / "lib" / "python2.7").iterdir()) == ["ssl.py"]


@pytest.mark.parametrize("version", ["3.8", "3.16", "4.0"])
def test_lines_outside_the_range_are_refused(tmp_path, version):
    prefix = make_prefix(tmp_path / "py", version=version, pycs=False)
    with pytest.raises(PatchError, match=f"holds Python {version} .*3.9 to 3.15 only"):
        trust.patch_prefix(prefix)


def test_a_supported_line_beside_an_unsupported_one_is_patched_alone(tmp_path):
    prefix = make_prefix(tmp_path / "usr", version="3.13", pycs=False)
    make_py27_prefix(tmp_path / "old")
    os.rename(tmp_path / "old" / "lib" / "python2.7", prefix / "lib" / "python2.7")
    messages: list[str] = []
    result = trust.patch_prefix(prefix, log=messages.append)
    assert [f.ssl_py.parent.name for f in result.files] == ["python3.13"]
    assert (prefix / "lib" / "python2.7" / "ssl.py").read_text() == PY27_SSL_PY
    assert any("skipping" in m and "Python 2.7 is outside CPython 3.9 to 3.15" in m for m in messages)


def test_write_failure_is_a_patch_error_with_a_hint(tmp_path, monkeypatch):
    prefix = make_prefix(tmp_path / "py", pycs=False)
    original = (prefix / "lib/python3.12/ssl.py").read_bytes()

    def denied(path, data, like=None):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(trust.prefix, "_atomic_write", denied)
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
