"""The one download door (safe extraction lives in :mod:`pybuildssl.archive`).

Where a pinned source comes from, in order:
  1. the cache (``CACHE/sources/SHA256/NAME``), re-checked every time it is reused;
  2. ``--source-dir`` directories (and ``PYBUILDSSL_SOURCE_DIRS``, ``os.pathsep``
     separated): a file whose sha256 matches the pin is used *whatever its name*
     (Debian's ``openssl_3.5.7.orig.tar.gz`` is the upstream tarball);
  3. the recipe's URL, then its mirrors, in order: streamed with requests into
     a temp file while hashing, renamed into the cache only when the sha256
     (and size, when pinned) match.  Nothing bad stays in the cache.

A source may pin alternatives of the same version (``alternatives``: a
distribution's repack, another compression), each with its own sha256 and
size; a file matching any pin is accepted in 1 and 2, and an alternative
with a URL is downloaded after the upstream URLs.  :meth:`Sources.fetch_pinned`
also says which pin matched (the manifest records it).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Iterable

from .errors import SourceError
from .hashing import sha256_file
from .recipe_source import Source
from .ui import UI, human_size

CHUNK = 1 << 20
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tar.zst", ".tar", ".zip")


def source_dirs_from_env() -> list[Path]:
    raw = os.environ.get("PYBUILDSSL_SOURCE_DIRS", "")
    return [Path(p) for p in raw.split(os.pathsep) if p]


class Sources:
    def __init__(self, cache_dir: Path, source_dirs: Iterable[Path] = (), *,
                 ui: UI | None = None, offline: bool = False, session=None) -> None:
        self.cache_dir = Path(cache_dir) / "sources"
        self.source_dirs = [Path(d) for d in source_dirs]
        self.ui = ui or UI()
        self.offline = offline
        self._session = session

    # -- public ------------------------------------------------------------
    def fetch(self, src: Source) -> Path:
        """A local, checked copy of ``src``.  Raises SourceError naming what was tried."""
        return self.fetch_pinned(src)[0]

    def fetch_pinned(self, src: Source) -> tuple[Path, str]:
        """(local checked copy, the sha256 of the pin it matched)."""
        tried: list[str] = []
        pins = _pins(src)
        for pin in pins:
            cached = self._from_cache(pin, tried)
            if cached:
                return cached, pin.sha256
        local = self._from_source_dirs(src, pins, tried)
        if local:
            return local
        if self.offline:
            tried.append("network: not tried (offline)")
        else:
            for pin in pins:
                for url in pin.urls:
                    got = self._download(pin, url, tried)
                    if got:
                        return got, pin.sha256
        also = "".join(f"; or {a.file or a.url.rsplit('/', 1)[-1] or 'an alternative'} (sha256 {a.sha256})"
                       for a in src.alternatives)
        raise SourceError(
            f"{src.name} {src.version} ({src.filename}, sha256 {src.sha256}{also}) was found nowhere:\n  "
            + "\n  ".join(tried),
            hint="put the file in a directory and pass --source-dir DIR (any file name; "
                 "it is found by its sha256), or check the network and the recipe's mirrors",
        )

    # -- the three places ----------------------------------------------------
    def _cache_path(self, src: "Source | _Pin") -> Path:
        return self.cache_dir / src.sha256 / src.filename

    def _from_cache(self, src: "_Pin", tried: list[str]) -> Path | None:
        path = self._cache_path(src)
        if not path.is_file():
            tried.append(f"cache: {path}: absent")
            return None
        actual = sha256_file(path)
        if actual == src.sha256:
            return path
        self.ui.warn(f"cached {path} is corrupt (sha256 {actual}); removing it")
        path.unlink()
        tried.append(f"cache: {path}: corrupt, removed")
        return None

    def _from_source_dirs(self, src: Source, pins: list["_Pin"], tried: list[str]) -> tuple[Path, str] | None:
        by_sha = {p.sha256: p for p in pins}
        sizes = {p.size for p in pins}
        for d in self.source_dirs:
            if not d.is_dir():
                tried.append(f"source dir {d}: not a directory")
                continue
            candidates = sorted(p for p in d.iterdir() if p.is_file() and p.name.endswith(ARCHIVE_SUFFIXES))
            if 0 not in sizes:
                candidates = [p for p in candidates if p.stat().st_size in sizes]
            for p in candidates:
                actual = sha256_file(p)
                pin = by_sha.get(actual)
                if pin is not None and (not pin.size or p.stat().st_size == pin.size):
                    kind = "the pin" if pin.sha256 == src.sha256 else f"the alternative pin {pin.filename}"
                    self.ui.info(f"{src.name} {src.version}: using {p} (sha256 matches {kind})")
                    return p, actual
            tried.append(f"source dir {d}: no file with sha256 " + " or ".join(by_sha))
        return None

    def _download(self, src: "_Pin", url: str, tried: list[str]) -> Path | None:
        import requests

        session = self._session or requests.Session()
        dest = self._cache_path(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
        tmp = Path(tmp_name)
        h = hashlib.sha256()
        size = 0
        start = time.monotonic()
        try:
            with os.fdopen(fd, "wb") as out, session.get(url, stream=True, timeout=(15, 60)) as resp:
                if resp.status_code != 200:
                    tried.append(f"{url}: HTTP {resp.status_code}")
                    return None
                total = int(resp.headers.get("content-length") or src.size or 0)
                for chunk in resp.iter_content(CHUNK):
                    out.write(chunk)
                    h.update(chunk)
                    size += len(chunk)
                    rate = size / max(time.monotonic() - start, 1e-6)
                    pct = f" {100 * size / total:3.0f}%" if total else ""
                    self.ui.live(f"  {src.filename}{pct} {human_size(size)} {human_size(rate)}/s")
            actual = h.hexdigest()
            if actual != src.sha256 or (src.size and size != src.size):
                tried.append(f"{url}: sha256 mismatch: expected {src.sha256}, got {actual} ({size} bytes)")
                raise SourceError(
                    f"{src.name} {src.version}: sha256 mismatch for {url}\n"
                    f"  expected {src.sha256}\n  actual   {actual}",
                    hint="the download is not the pinned file; nothing was kept. "
                         "If the recipe is right, try another mirror")
            os.replace(tmp, dest)
            self.ui.info(f"downloaded {src.filename} ({human_size(size)}) from {url}")
            return dest
        except requests.RequestException as e:
            tried.append(f"{url}: {type(e).__name__}: {e}")
            return None
        finally:
            if tmp.exists():
                tmp.unlink()


class _Pin:
    """One acceptable tarball of a source: what the three places check."""

    def __init__(self, src: Source, sha256: str, size: int, urls: tuple[str, ...], filename: str) -> None:
        self.name, self.version = src.name, src.version
        self.sha256, self.size, self.urls, self.filename = sha256, size, urls, filename


def _pins(src: Source) -> list[_Pin]:
    pins = [_Pin(src, src.sha256, src.size, src.urls, src.filename)]
    for a in src.alternatives:
        url = a.url.replace("{version}", src.version)
        name = a.file or (url.rsplit("/", 1)[-1] if url else "") or src.filename
        pins.append(_Pin(src, a.sha256, a.size, (url,) if url else (), name))
    return pins
