#!/usr/bin/env python3
"""What the upstream sites publish about new CPython and OpenSSL releases, for ci/track_pins.py.

Used when the network reaches them; an unreachable site is one line of report, never an error.
Each format below is the one the cited source file produces or serves; nothing here is signed:
a sha256 read over HTTPS is authenticated by the site's certificate only.

python.org (base $PYBUILDSSL_UPSTREAM_PYTHON_ORG, default https://www.python.org)
  GET /api/v2/downloads/release/ -- a JSON list of releases (python/pythondotorg
  pydotorg/urls_api.py registers the DRF router under api/v2/; apps/downloads/serializers.py
  ReleaseSerializer: name "Python X.Y.Z", is_published, pre_release, resource_uri ending in
  /release/<pk>/; pydotorg/settings/base.py: URL_FIELD_NAME resource_uri, no pagination, anonymous
  clients throttled to 100 requests a day -- this reads one list and one file list per line).
  GET /api/v2/downloads/release_file/?release=<pk> -- a JSON list of that release's files
  (ReleaseFileSerializer: url, release, sha256_sum, md5_sum, filesize, sbom_spdx2_file).
  sha256_sum exists since migration 0014 (2025-11) and python/release-tools add_to_pydotorg.py
  fills it since 2025-12 (commit 9d60cc9); older files carry md5_sum only.  For those, the SBOM
  published beside the tarball (Python-X.Y.Z.tar.xz.spdx.json, named by sbom_spdx2_file) holds
  the tarball's SHA256: python/release-tools sbom.py create_cpython_sbom() puts it in the
  "CPython" package's checksums (packageFileName = the tarball's name).  Neither: the sha256
  stays unknown (md5 is not used).  The FTP listing /ftp/python/ (which python-build-standalone's
  scripts/update_downloads.py reads) gives versions only, and a X.Y.0/ directory exists before
  its final release; the API's pre_release flag is used instead.

GitHub, for OpenSSL (bases $PYBUILDSSL_UPSTREAM_GITHUB_API, default https://api.github.com,
and $PYBUILDSSL_UPSTREAM_GITHUB, default https://github.com)
  GET /repos/openssl/openssl/releases?per_page=100 -- GitHub's REST "List releases" (tag_name,
  draft, prerelease, assets[].name/size/digest; digest "sha256:<hex>" is computed by GitHub at
  upload, on assets uploaded since June 2025).  The newest 100 releases; the two pinned lines
  are among them.  openssl/openssl .github/workflows/make-release.yml uploads, per tag
  openssl-X.Y.Z, openssl-X.Y.Z.tar.gz and openssl-X.Y.Z.tar.gz.sha256 written by
  `openssl sha256 -r` ("<hex> *openssl-X.Y.Z.tar.gz"; dev/release.sh wrote the bare hex or
  "<hex> <name>" in other versions: all three are read), fetched from
  /openssl/openssl/releases/download/<tag>/<name>.sha256.  The .sha256 file is the sha256;
  the asset's digest, where given, must agree with it.  openssl-library.org/source/ is not
  read: its page's format could not be confirmed from a published source.

Python 3.9+ stdlib.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pybuildssl import pins  # noqa: E402

BASES = {  # environment variable -> default
    "PYBUILDSSL_UPSTREAM_PYTHON_ORG": "https://www.python.org",
    "PYBUILDSSL_UPSTREAM_GITHUB_API": "https://api.github.com",
    "PYBUILDSSL_UPSTREAM_GITHUB": "https://github.com",
}
TIMEOUT = 5.0
MAX_BYTES = 16 << 20
USER_AGENT = "pybuildssl ci/track_pins.py"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_PK = re.compile(r"/release/(\d+)/?$")


class Unusable(Exception):
    """A site that cannot be read now (unreachable, HTTP error, unexpected answer): one line."""


@dataclass(frozen=True)
class Upstream:
    """The newest release of a line as an upstream site publishes it."""

    site: str                  # "python.org" or "GitHub"
    version: str
    filename: str              # the release tarball's name
    sha256: Optional[str]      # None: not published where it was looked for
    size: Optional[int]
    url: str                   # where the sha256 was read (or, when unknown, the release listed)
    note: str = ""             # why the sha256 is unknown


def base(name: str) -> str:
    return os.environ.get(name, BASES[name]).rstrip("/")


# ---------------------------------------------------------------------------
# Pure parsing
# ---------------------------------------------------------------------------

def _newest_per_line(found: Dict[str, Tuple[str, Any]], version: str, value: Any) -> None:
    """Keep in ``found`` (line -> (version, value)) the newest release of ``version``'s line."""
    line = pins.line_of(version)
    if line not in found or pins.line_key(version) > pins.line_key(found[line][0]):
        found[line] = (version, value)


def python_releases(data: Any) -> Dict[str, Tuple[str, int]]:
    """{line: (newest final release, its API pk)} from /api/v2/downloads/release/."""
    found: Dict[str, Tuple[str, Any]] = {}
    for item in _json_list(data, "the release list"):
        m = re.fullmatch(r"Python (\d+\.\d+\.\d+)", str(item.get("name", "")))
        pk = _PK.search(str(item.get("resource_uri", "")))
        if m and pk and item.get("is_published") is True and item.get("pre_release") is False:
            _newest_per_line(found, m[1], int(pk[1]))
    return found


def python_source_file(data: Any, version: str, pk: int) -> Optional[Dict[str, Any]]:
    """Release ``pk``'s entry for Python-<version>.tar.xz in /api/v2/downloads/release_file/."""
    for item in _json_list(data, "the release file list"):
        pk_of = _PK.search(str(item.get("release", "")))
        if pk_of and int(pk_of[1]) == pk and str(item.get("url", "")).endswith(f"/Python-{version}.tar.xz"):
            return item
    return None


def sbom_sha256(data: Any, filename: str) -> Optional[str]:
    """The SHA256 an SPDX SBOM (python/release-tools sbom.py) gives the package ``filename``."""
    packages = data.get("packages") if isinstance(data, dict) else None
    for package in packages if isinstance(packages, list) else []:
        if isinstance(package, dict) and package.get("packageFileName") == filename:
            for c in package.get("checksums") or []:
                if isinstance(c, dict) and c.get("algorithm") == "SHA256":
                    return _hex64(c.get("checksumValue"))
    return None


def openssl_releases(data: Any) -> Dict[str, Tuple[str, Dict[str, Dict[str, Any]]]]:
    """{line: (newest final release, {asset name: asset})} from GitHub's release list."""
    found: Dict[str, Tuple[str, Any]] = {}
    for item in _json_list(data, "the release list"):
        m = re.fullmatch(r"openssl-(\d+\.\d+\.\d+)", str(item.get("tag_name", "")))
        if m and item.get("draft") is False and item.get("prerelease") is False:
            assets = {a.get("name"): a for a in item.get("assets") or [] if isinstance(a, dict)}
            _newest_per_line(found, m[1], assets)
    return found


def sha256_file(text: str, filename: str) -> Optional[str]:
    """The hash in a .sha256 file: "<hex>", "<hex> <name>" or "<hex> *<name>" (one line)."""
    fields = text.split()
    if len(fields) == 1 or (len(fields) == 2 and fields[1].lstrip("*") == filename):
        return _hex64(fields[0].lower())
    return None


def _hex64(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and _HEX64.match(value) else None


def _json_list(data: Any, what: str) -> List[Dict[str, Any]]:
    if not isinstance(data, list):
        raise Unusable(f"{what} is not a JSON list")
    return [x for x in data if isinstance(x, dict)]


# ---------------------------------------------------------------------------
# Fetching (urllib, HTTPS with the default certificate verification)
# ---------------------------------------------------------------------------

def get(url: str) -> bytes:
    """The body of ``url`` (HTTPS verified against the default CA store; SSL_CERT_FILE and
    SSL_CERT_DIR apply); Unusable on any failure."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=ssl.create_default_context()) as r:
            body = r.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as e:
        raise Unusable(f"HTTP {e.code} for {url}") from None
    except urllib.error.URLError as e:
        raise Unusable(str(e.reason)) from None
    except (OSError, ValueError) as e:
        raise Unusable(str(e) or type(e).__name__) from None
    if len(body) > MAX_BYTES:
        raise Unusable(f"{url} answers more than {MAX_BYTES} bytes")
    return body


def get_json(url: str) -> Any:
    try:
        return json.loads(get(url).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Unusable(f"{url} did not answer JSON") from None


def python_org(lines: Sequence[str]) -> Dict[str, Upstream]:
    """{line: Upstream} for the CPython lines python.org's API knows."""
    api = base("PYBUILDSSL_UPSTREAM_PYTHON_ORG") + "/api/v2/downloads"
    out = {}
    for line, (version, pk) in python_releases(get_json(f"{api}/release/")).items():
        if line in lines:
            url = f"{api}/release_file/?release={pk}"
            out[line] = _python_file(version, python_source_file(get_json(url), version, pk), url)
    return out


def _python_file(version: str, item: Optional[Dict[str, Any]], url: str) -> Upstream:
    name = f"Python-{version}.tar.xz"
    size = item.get("filesize") if item else None
    size = size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None
    if item is None:
        return Upstream("python.org", version, name, None, None, url, f"{url} lists no {name}")
    sha = _hex64(item.get("sha256_sum"))
    if sha:
        return Upstream("python.org", version, name, sha, size, url)
    if not item.get("sbom_spdx2_file"):
        return Upstream("python.org", version, name, None, size, url, "python.org gives an md5 only")
    sbom = f"{base('PYBUILDSSL_UPSTREAM_PYTHON_ORG')}/ftp/python/{version}/{name}.spdx.json"
    sha = sbom_sha256(get_json(sbom), name)
    return Upstream("python.org", version, name, sha, size, sbom, "" if sha else f"{sbom} gives no SHA256")


def github_openssl(lines: Sequence[str]) -> Dict[str, Upstream]:
    """{line: Upstream} for the OpenSSL lines GitHub's release list knows."""
    api = base("PYBUILDSSL_UPSTREAM_GITHUB_API") + "/repos/openssl/openssl/releases?per_page=100"
    out = {}
    for line, (version, assets) in openssl_releases(get_json(api)).items():
        if line in lines:
            out[line] = _openssl_tarball(version, assets, api)
    return out


def _openssl_tarball(version: str, assets: Dict[str, Dict[str, Any]], listed: str) -> Upstream:
    name = f"openssl-{version}.tar.gz"
    tarball = assets.get(name) or {}
    size = tarball.get("size") if isinstance(tarball.get("size"), int) else None
    if f"{name}.sha256" not in assets:
        return Upstream("GitHub", version, name, None, size, listed, f"the release has no {name}.sha256")
    url = f"{base('PYBUILDSSL_UPSTREAM_GITHUB')}/openssl/openssl/releases/download/openssl-{version}/{name}.sha256"
    sha = sha256_file(get(url).decode("ascii", "replace"), name)
    digest = str(tarball.get("digest") or "")
    if sha and digest.startswith("sha256:") and digest[7:] != sha:
        return Upstream("GitHub", version, name, None, size, url,
                        f"its sha256 {sha} and GitHub's asset digest {digest[7:]} differ: CHECK BY HAND")
    return Upstream("GitHub", version, name, sha, size, url, "" if sha else f"{url} holds no sha256 of {name}")


SITES: Tuple[Tuple[str, str, Callable[[Sequence[str]], Dict[str, Upstream]]], ...] = (
    ("python.org", "cpython", python_org),
    ("GitHub (openssl/openssl releases)", "openssl", github_openssl),
)


def upstream_releases(table: pins.Pins) -> Tuple[Dict[Tuple[str, str], Upstream], List[str]]:
    """{(product, line): Upstream} from every site that answers, and one line per site that does not."""
    found: Dict[Tuple[str, str], Upstream] = {}
    notes = []
    for site, product, fetch in SITES:
        try:
            found.update({(product, line): u for line, u in fetch(table.line_names(product)).items()})
        except Unusable as e:
            notes.append(f"{site}: not reachable ({e}); Debian's indices only")
    return found, notes


def main() -> int:
    """Print what the upstream sites say of each pinned line (no Debian, no writing)."""
    found, notes = upstream_releases(pins.load())
    for (product, line), u in sorted(found.items()):
        sha = u.sha256 or f"unknown ({u.note})"
        print(f"{product} {line}: {u.site} {u.version} {u.filename} sha256 {sha} size {u.size} ({u.url})")
    print("\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
