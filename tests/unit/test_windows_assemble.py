"""Windows on Linux (assemble): the pure decisions, the zip artifact, the ssl.pyc patch.

Nothing runs a subprocess: the "interpreter" that compiles the patched
ssl.pyc is this one, in-process (the script is the one the layout's own
python.exe runs under Wine).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import marshal
import sys
import types
import zipfile
from pathlib import Path

import pytest

from pybuildssl import embedzip, package_zip, recipe, trust
from pybuildssl.errors import BuildError, PatchError, RecipeError
from pybuildssl import windows_assemble as wa


def load(name="windows-x86_64-winstore", *sets):
    return recipe.load(name, list(sets))


# ------------------------------------------------------------------ decide ---

def test_the_method_applies_to_windows_recipes_on_linux_only():
    assert wa.applies(load(), "linux")
    assert not wa.applies(load(), "windows")
    assert not wa.applies(load("linux-x86_64-generic"), "linux")


def test_configure_targets_a_mingw64_child_so_the_dlls_are_named_as_pythons_ssl_pyd_imports_them():
    argv = wa.configure_args(load(), "/w/conf")
    assert argv[:5] == ["perl", "Configure", "--config=/w/conf", wa.MINGW_TARGET,
                        "--cross-compile-prefix=x86_64-w64-mingw32-"]
    # Configure builds the winstore loader only for target names starting with "mingw";
    # mingw.pm adds "-x64" to DLL names only for the target named exactly "mingw64".
    assert wa.MINGW_TARGET.startswith("mingw") and wa.MINGW_TARGET != "mingw64"
    assert '"mingw64"' in wa.MINGW_CONFIG and f'"{wa.MINGW_TARGET}"' in wa.MINGW_CONFIG
    # OPENSSLDIR = prefix + leaf: exactly the recipe's admin-only directory
    assert "--prefix=C:/Program Files/Common Files" in argv and "--openssldir=SSL" in argv
    assert "shared" in argv and "no-shared" not in argv
    for opt in ("no-module", "no-engine", "no-apps"):
        assert opt in argv
    assert "-Wl,--no-insert-timestamp" in argv


def test_the_openssl_key_follows_its_inputs():
    a = wa.openssl_key(load(), "gcc 12")
    assert a == wa.openssl_key(load(), "gcc 12")
    assert a != wa.openssl_key(load(), "gcc 13")
    assert a != wa.openssl_key(load("windows-x86_64"), "gcc 12"), "the winstore patch is an input"
    # the ssl patch's mode is not an OpenSSL input
    assert a == wa.openssl_key(load("windows-x86_64-winstore", "trust.windows_mode=winstore"), "gcc 12")


def test_the_artifact_name_says_cpython_openssl_mode_and_layout():
    r = load("windows-x86_64-winstore", "trust.windows_mode=winstore")
    name = wa.artifact_name(r, wa.check(r))
    assert name == (f"cpython-3.13.2+openssl{r.openssl.version}.winstore-x86_64-pc-windows-msvc-embeddable.zip")


def test_refusals_name_the_key():
    with pytest.raises(RecipeError, match="windows.method_linux is 'unsupported'"):
        wa.check(load("windows-arm64"))
    with pytest.raises(RecipeError, match=r"windows.layout is 'nuget' but \[python_nuget\] is not pinned"):
        wa.check(load("windows-x86_64", "windows.layout=nuget"))
    with pytest.raises(RecipeError, match="CVE-2019-1552"):
        wa.check(load("windows-x86_64", "openssl.openssldir=C:\\ProgramData\\SSL"))


def test_an_override_file_gives_the_embeddable_it_really_holds(tmp_path):
    f = tmp_path / "embed.toml"
    f.write_text('[python_embed]\nversion = "3.13.2"\nsha256 = "' + "a" * 64 + '"\nsize = 5\n')
    src = wa.check(recipe.load("windows-x86_64", override_files=[f]))
    assert (src.version, src.sha256, src.size) == ("3.13.2", "a" * 64, 5)
    f.write_text('[python_embed]\nversion = "3.13.3"\n')
    with pytest.raises(RecipeError, match="without a matching 'python_embed.sha256'"):
        recipe.load("windows-x86_64", override_files=[f])


def test_linux_recipes_carry_no_windows_sections():
    r = load("linux-x86_64-generic")
    assert not r.windows_binaries and not r.windows
    assert not {"windows", "python_embed", "python_nuget"} & set(r.raw)


# ------------------------------------------------------------ extraction ---

def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_pypi_data_zip_shape_is_unwrapped(tmp_path):
    a = _zip(tmp_path / "d.zip", {"cp313/python.exe": b"MZ", "cp313/python313.zip": b"z", "cp312/x": b""})
    wa.extract_zip(a, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["python.exe", "python313.zip"]


def test_a_member_outside_the_tree_is_refused(tmp_path):
    a = _zip(tmp_path / "d.zip", {"python.exe": b"MZ", "../evil.dll": b""})
    with pytest.raises(BuildError, match="would land outside the tree"):
        wa.extract_zip(a, tmp_path / "out")


def test_a_zip_without_python_exe_is_refused(tmp_path):
    with pytest.raises(BuildError, match="no python.exe inside"):
        wa.extract_zip(_zip(tmp_path / "d.zip", {"x.txt": b""}), tmp_path / "out")


# ------------------------------------------------------------ zip artifact ---

def test_two_zips_of_one_tree_are_byte_identical_and_the_manifest_is_first(tmp_path):
    root = tmp_path / "t"
    (root / "DLLs").mkdir(parents=True)
    (root / "python.exe").write_bytes(b"MZ exe")
    (root / "DLLs" / "_ssl.pyd").write_bytes(b"MZ pyd")
    (root / "a.txt").write_text("a")
    man = {"schema": 1, "files": package_zip.file_table(root)}
    a = package_zip.write_zip(root, man, tmp_path / "a" / "x.zip", mtime=1700000000)
    (root / "a.txt").touch()  # mtimes do not matter
    b = package_zip.write_zip(root, man, tmp_path / "b" / "x.zip", mtime=1700000000)
    assert a.read_bytes() == b.read_bytes()
    names = zipfile.ZipFile(a).namelist()
    assert names[0] == "python/PYBUILDSSL.json"
    assert names[1:] == sorted(names[1:])
    assert package_zip.read_manifest(a)["files"]["DLLs/_ssl.pyd"]["size"] == 6
    modes = {i.filename: i.external_attr >> 16 for i in zipfile.ZipFile(a).infolist()}
    assert modes["python/python.exe"] == 0o100755 and modes["python/a.txt"] == 0o100644
    c = package_zip.write_zip(root, man, tmp_path / "c" / "x.zip", mtime=1700000002)
    assert c.read_bytes() != a.read_bytes()


# -------------------------------------------------------------- ssl.pyc ---

FAKE_SSL = '''\
import _ssl, os, sys
class _SSLContext: pass
def get_default_verify_paths():
    return "stock"
class SSLContext(_SSLContext):
    _windows_cert_stores = ("CA", "ROOT")
'''


def _pyc(source: str) -> bytes:
    code = compile(source, "ssl.py", "exec")
    flags = (1).to_bytes(4, "little")  # unchecked hash, as the embeddable ships them
    return importlib.util.MAGIC_NUMBER + flags + b"\0" * 8 + marshal.dumps(code)


def in_process_python(args: list[str]) -> tuple[int, str, str]:
    """The COMPILE_SCRIPT, run by this interpreter in-process (no subprocess in unit tests)."""
    assert args[:3] == ["-I", "-S", "-c"]
    out, err = io.StringIO(), io.StringIO()
    old = sys.argv
    sys.argv = ["-c", *args[4:]]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            exec(compile(args[3], "<script>", "exec"), {"__name__": "__main__"})
        rc = 0
    except SystemExit as e:
        rc = int(e.code or 0)
    finally:
        sys.argv = old
    return rc, out.getvalue(), err.getvalue()


def _layout(root: Path) -> Path:
    root.mkdir()
    (root / "python.exe").write_bytes(b"MZ")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in (("abc.pyc", b"x"), ("ssl.pyc", _pyc(FAKE_SSL)), ("zz.pyc", b"y")):
            z.writestr(zipfile.ZipInfo(name, (2025, 2, 4, 16, 38, 4)), data)
    (root / "python313.zip").write_bytes(buf.getvalue())
    return root


def _run_module(pyc: bytes) -> dict:
    ns: dict = {"__name__": "ssl"}
    sys.modules.setdefault("_ssl", types.ModuleType("_ssl"))
    exec(marshal.loads(pyc[16:]), ns)
    return ns


def test_the_patched_ssl_pyc_runs_the_original_bytecode_then_the_block(tmp_path):
    root = _layout(tmp_path / "embed")
    before = (root / "python313.zip").read_bytes()
    block = trust.render_patch("windows", windows_mode="winstore")
    embedzip.patch_layout(root, block, in_process_python, work=tmp_path / "w", keep_backup=False)
    after = (root / "python313.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(before)) as a, zipfile.ZipFile(io.BytesIO(after)) as b:
        assert [(i.filename, i.date_time) for i in a.infolist()] == [(i.filename, i.date_time) for i in b.infolist()]
        assert a.read("abc.pyc") == b.read("abc.pyc")
        new = b.read("ssl.pyc")
    assert new[:16] == _pyc(FAKE_SSL)[:16]
    ns = _run_module(new)
    assert ns["_pybuildssl_stock_get_default_verify_paths"]() == "stock"   # the original code ran first
    assert ns["SSLContext"]._windows_cert_stores == ()                       # then the winstore block
    assert ns["_PYBUILDSSL_WINDOWS_MODE"] == "winstore" and "_pybuildssl_marshal" not in ns
    # deterministic
    root2 = _layout(tmp_path / "embed2")
    embedzip.patch_layout(root2, block, in_process_python, work=tmp_path / "w2", keep_backup=False)
    assert (root2 / "python313.zip").read_bytes() == after


def test_bytecode_of_another_minor_version_is_refused(tmp_path):
    root = _layout(tmp_path / "embed")
    z = (root / "python313.zip").read_bytes()
    bad = b"\x00\x00\r\n" + _pyc(FAKE_SSL)[4:]
    (root / "python313.zip").write_bytes(embedzip.rewrite_zip(z, "ssl.pyc", bad))
    with pytest.raises(PatchError, match="not bytecode of this distribution's interpreter"):
        embedzip.patch_layout(root, trust.render_patch("windows"), in_process_python, work=tmp_path / "w")


def test_patch_then_revert_restores_the_zip_byte_for_byte(tmp_path):
    root = _layout(tmp_path / "embed")
    before = (root / "python313.zip").read_bytes()
    block = trust.render_patch("windows", windows_mode="both")
    embedzip.patch_layout(root, block, in_process_python, work=tmp_path / "w", record={"mode": "both"})
    assert (root / "python313.zip").read_bytes() != before
    assert (root / embedzip.RECORD_NAME).is_file()
    # patching again starts from the backup, not from the patched zip
    embedzip.patch_layout(root, block, in_process_python, work=tmp_path / "w")
    assert embedzip.revert_layout(root) == root / "python313.zip"
    assert (root / "python313.zip").read_bytes() == before
    assert sorted(p.name for p in root.iterdir()) == ["python.exe", "python313.zip"]
    assert embedzip.revert_layout(root) is None


@pytest.mark.parametrize("where", ["", "DLLs/"])
def test_our_dlls_replace_pythons_where_they_are(tmp_path, where):
    built = tmp_path / "built"
    built.mkdir()
    for dll in wa.OPENSSL_DLLS:
        (built / dll).write_bytes(b"ours " + dll.encode())
    tree = tmp_path / "tree"
    (tree / "DLLs").mkdir(parents=True)
    for dll in wa.OPENSSL_DLLS:
        (tree / f"{where}{dll}").write_bytes(b"python.org's")
    wa.replace_openssl(tree, built)
    assert (tree / f"{where}libssl-3.dll").read_bytes() == b"ours libssl-3.dll"
    assert sorted(p.name for p in tree.rglob("*.dll")) == sorted(wa.OPENSSL_DLLS)
    (tree / "libcrypto-3.dll").write_bytes(b"a second copy") if where else (tree / "libcrypto-3.dll").unlink()
    with pytest.raises(BuildError, match="copies of libcrypto-3.dll, expected one"):
        wa.replace_openssl(tree, built)
