"""What goes beside the artifacts in ``dist/``: ``SHA256SUMS``, an SBOM per artifact, and a
Python downloads list in uv's format.

uv installs python-build-standalone-shaped archives from any list given with
``--python-downloads-json-url`` (or ``UV_PYTHON_DOWNLOADS_JSON_URL``): a JSON
object whose keys name an installation (``cpython-3.13.15-linux-x86_64-gnu``)
and whose values give the implementation, version parts, os, arch, libc,
variant, the archive's URL and its sha256.  uv builds its installation key
from those fields, so two artifacts for one platform cannot share a list
(which one uv took would be chance): that is refused.

The functions that decide are pure (:func:`uv_entry`, :func:`downloads_list`,
:func:`sha256sums`); :func:`publish` reads the archives and writes every file
atomically.
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import fsutil, hashing, package, sbom
from .errors import UsageError

DOWNLOADS_JSON = "python-downloads.json"
SUMS = "SHA256SUMS"
ARCHIVE_GLOBS = ("cpython-*.tar.gz", "cpython-*.tar.xz", "cpython-*.tar.zst")

_UV_OS = {"linux": "linux", "macos": "darwin", "windows": "windows"}


def uv_platform(target: dict[str, Any]) -> tuple[str, str, str]:
    """(os, arch, libc) in uv's words for a manifest's ``target``."""
    os_ = _UV_OS[target["os"]]
    arch = "aarch64" if target["arch"] in ("aarch64", "arm64") else target["arch"]
    libc = ("musl" if target.get("libc") == "musl" else "gnu") if os_ == "linux" else "none"
    return os_, arch, libc


def uv_entry(manifest: dict[str, Any], url: str, sha256: str) -> tuple[str, dict[str, Any]]:
    """(key, entry) of one archive in uv's downloads list."""
    version = manifest["cpython"]["version"]
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)((?:a|b|rc)\d+)?", version)
    if not m:
        raise UsageError(f"CPython version {version!r} is not X.Y.Z[a|b|rcN]: uv cannot list it")
    os_, arch, libc = uv_platform(manifest["target"])
    major, minor, patch, pre = int(m[1]), int(m[2]), int(m[3]), m[4] or ""
    # a free-threaded build is uv's "freethreaded" variant: `uv python install 3.13+freethreaded`
    variant = "freethreaded" if manifest["recipe"]["resolved"]["cpython"].get("free_threaded") else None
    entry = {
        "name": "cpython", "arch": {"family": arch, "variant": None}, "os": os_, "libc": libc,
        "major": major, "minor": minor, "patch": patch, "prerelease": pre,
        "url": url, "sha256": sha256, "variant": variant, "build": manifest.get("build_tag") or None,
    }
    return f"cpython-{major}.{minor}.{patch}{pre}{'+' + variant if variant else ''}-{os_}-{arch}-{libc}", entry


def downloads_list(archives: list[tuple[str, dict[str, Any], str, str]]) -> dict[str, Any]:
    """uv's downloads list for (file name, manifest, url, sha256) of each archive; one per platform."""
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name, manifest, url, sha in archives:
        key, entry = uv_entry(manifest, url, sha)
        if key in out:
            raise UsageError(
                f"{origin[key]} and {name} are both {key}: uv would pick one of them by chance",
                hint="list one artifact per platform: name them, e.g. `pybuildssl publish-index "
                     f"dist/{origin[key]}`, or keep each recipe's artifacts in its own --dist directory")
        out[key], origin[key] = entry, name
    return dict(sorted(out.items()))


def sha256sums(files: dict[str, str]) -> str:
    """``sha256sum -c`` format, sorted by name."""
    return "".join(f"{sha}  {name}\n" for name, sha in sorted(files.items()))


def archive_url(base_url: str | None, path: Path) -> str:
    """Where the list says an archive is: under ``base_url``, or a file:// URL of ``path``."""
    if base_url:
        return base_url.rstrip("/") + "/" + quote(path.name)
    return path.resolve().as_uri()


def check_base_url(base_url: str | None) -> None:
    if base_url is not None and not re.match(r"^(https?|file)://[^\s]+$", base_url):
        raise UsageError(f"--base-url {base_url}: not an http(s):// or file:// URL",
                         hint="for example --base-url https://python.internal.example/pythons/")


def find_archives(dist: Path) -> list[Path]:
    found = sorted({p for g in ARCHIVE_GLOBS for p in dist.glob(g) if p.is_file()})
    if not found:
        raise UsageError(f"{dist}: no artifact (cpython-*.tar.gz, .tar.xz or .tar.zst) to publish",
                         hint="run `pybuildssl build` first, or give the artifacts' paths")
    return found


def publish(dist: Path, *, base_url: str | None = None, archives: list[Path] | None = None) -> list[Path]:
    """Write SBOMs, ``SHA256SUMS`` and ``python-downloads.json`` for ``archives`` (default: all in
    ``dist``) into ``dist``; return the files written."""
    check_base_url(base_url)
    dist = Path(dist)
    paths = [Path(a) for a in archives] if archives else find_archives(dist)
    rows, sums, files = [], {}, {}
    for p in paths:
        if not p.is_file():
            raise UsageError(f"{p}: no such artifact")
        if p.resolve().parent != dist.resolve():
            raise UsageError(f"{p}: not in {dist}", hint="SHA256SUMS and the list name files beside them: "
                                                         "keep the artifacts in the --dist directory")
        try:
            manifest = package.read_manifest(p)
        except (OSError, ValueError, KeyError, tarfile.TarError) as e:
            raise UsageError(f"{p}: not a pybuildssl artifact ({str(e).splitlines()[0]})") from None
        sha = hashing.sha256_file(p)
        rows.append((p.name, manifest, archive_url(base_url, p), sha))
        doc = json.dumps(sbom.cyclonedx(manifest, p.name, sha), indent=1) + "\n"
        files[dist / (p.name + sbom.SUFFIX)] = doc
        sums[p.name] = sha
        sums[p.name + sbom.SUFFIX] = hashing.sha256_text(doc)
    files[dist / DOWNLOADS_JSON] = json.dumps(downloads_list(rows), indent=2) + "\n"
    files[dist / SUMS] = sha256sums(sums)
    fsutil.write_texts_atomic(files)
    return list(files)


def write_sbom(archive: Path) -> Path:
    """The SBOM beside one archive (``ARCHIVE.cdx.json``), written atomically."""
    archive = Path(archive)
    dest = archive.parent / (archive.name + sbom.SUFFIX)
    doc = sbom.cyclonedx(package.read_manifest(archive), archive.name, hashing.sha256_file(archive))
    fsutil.write_texts_atomic({dest: json.dumps(doc, indent=1) + "\n"})
    return dest
