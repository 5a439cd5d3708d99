"""The vendor trust-store table: one loader for ``data/layouts.toml``.

Every other module asks this one for trust-store paths: recipes (OPENSSLDIR),
the ssl patch (the fallback list), doctor and verify (layouts).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Mapping

from . import _toml
from .errors import RecipeError

#: Operating systems whose trust lives in files that OpenSSL can read.
POSIX_OSES = ("linux", "macos", "freebsd", "openbsd", "netbsd")


@dataclass(frozen=True)
class Vendor:
    name: str
    os: str
    ids: tuple[str, ...]
    description: str
    openssldir: str
    cafiles: tuple[str, ...]
    capaths: tuple[str, ...]
    links: Mapping[str, str] = field(default_factory=dict)
    decoys: tuple[str, ...] = ()
    admin_add: Mapping[str, object] = field(default_factory=dict)
    removed: Mapping[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    @property
    def locations(self) -> tuple[tuple[str, str], ...]:
        """(kind, path) in fallback order: hashed dirs first, then CA files.

        Where a vendor ships both forms of one store, the directory is the
        cheap one: adding it to a context reads nothing (OpenSSL opens the
        one ``<hash>.0`` a chain needs, at verification), while a bundle is
        parsed whole for every context (about 19 times the cost measured on
        a Fedora layout; docs/benchmarks.md).
        """
        return tuple([("dir", p) for p in self.capaths] + [("file", p) for p in self.cafiles])


@dataclass(frozen=True)
class Table:
    vendors: Mapping[str, Vendor]
    generic: Mapping[str, str]

    def vendor(self, name: str, *, where: str = "vendor") -> Vendor:
        try:
            return self.vendors[name]
        except KeyError:
            valid = ", ".join(sorted(self.vendors))
            raise RecipeError(
                f"{where}: unknown vendor {name!r}",
                hint=f"valid vendors: generic, auto, {valid}",
            ) from None

    def vendors_for_os(self, os_name: str) -> list[Vendor]:
        return [v for v in self.vendors.values() if v.os == os_name]

    def openssldir(self, os_name: str, vendor: str, *, where: str = "target.vendor") -> str:
        """The OPENSSLDIR for a target: the vendor's own, or the generic choice."""
        if vendor == "generic":
            try:
                return self.generic[os_name]
            except KeyError:
                raise RecipeError(f"{where}: no generic OPENSSLDIR for os {os_name!r}") from None
        v = self.vendor(vendor, where=where)
        if v.os != os_name:
            raise RecipeError(
                f"{where}: vendor {vendor!r} is a {v.os} vendor, but the target os is {os_name!r}",
                hint="valid vendors for this os: generic, "
                + ", ".join(x.name for x in self.vendors_for_os(os_name)),
            )
        return v.openssldir

    def fallback(self, os_name: str) -> list[tuple[str, str]]:
        """The ordered, de-duplicated fallback list baked into builds for an OS.

        Only locations OpenSSL can use: CA bundles and hashed directories.
        Windows gets none (its trust is the certificate store).
        """
        seen: set[str] = set()
        out: list[tuple[str, str]] = []
        for v in self.vendors_for_os(os_name):
            for kind, path in v.locations:
                if path not in seen:
                    seen.add(path)
                    out.append((kind, path))
        return out

    def trust_roots(self, os_name: str = "linux") -> list[str]:
        """Top directories that hold any vendor's trust store (for sandboxes)."""
        paths: set[str] = set()
        for v in self.vendors_for_os(os_name):
            for p in (*v.cafiles, *v.capaths, *v.links, *v.decoys, v.openssldir):
                if p:
                    paths.add(_top_two(p))
            d = v.admin_add.get("dir")
            if d:
                paths.add(str(d))  # e.g. /usr/local/share/ca-certificates: not its parent
        return sorted(paths)


def _top_two(path: str) -> str:
    parts = path.strip("/").split("/")
    return "/" + "/".join(parts[:3] if parts[0] == "usr" else parts[:2])


def _freeze(name: str, raw: dict) -> Vendor:
    return Vendor(
        name=name,
        os=raw["os"],
        ids=tuple(raw.get("ids", ())),
        description=raw.get("description", ""),
        openssldir=raw.get("openssldir", ""),
        cafiles=tuple(raw.get("cafiles", ())),
        capaths=tuple(raw.get("capaths", ())),
        links=dict(raw.get("links", {})),
        decoys=tuple(raw.get("decoys", ())),
        admin_add=dict(raw.get("admin_add", {})),
        removed=dict(raw.get("removed", {})),
        sources=tuple(raw.get("sources", ())),
    )


def parse(text: str) -> Table:
    raw = _toml.loads(text)
    vendors = {name: _freeze(name, v) for name, v in raw["vendors"].items()}
    return Table(vendors=vendors, generic=dict(raw.get("generic", {})))


@functools.lru_cache(maxsize=None)
def load() -> Table:
    text = resources.files("pybuildssl").joinpath("data/layouts.toml").read_text("utf-8")
    return parse(text)


def read_os_release(path: str = "/etc/os-release") -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, sep, value = line.strip().partition("=")
                if sep and not key.startswith("#"):
                    out[key] = value.strip().strip('"').strip("'")
    except OSError:
        pass
    return out


def detect_vendor(table: Table | None = None, os_release: dict[str, str] | None = None,
                  platform: str | None = None) -> str:
    """The vendor name of this host (``generic`` when unknown)."""
    import sys

    table = table or load()
    platform = platform or sys.platform
    if platform == "darwin":
        return "macos"
    if platform.startswith("win"):
        return "windows"
    info = read_os_release() if os_release is None else os_release
    candidates = [info.get("ID", "")] + info.get("ID_LIKE", "").split()
    for cand in candidates:  # ID first: RHEL says ID_LIKE="fedora"
        for v in table.vendors.values():
            if cand and cand in v.ids:
                return v.name
    return "generic"


def host_os() -> str:
    import sys

    if sys.platform == "darwin":
        return "macos"
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform.startswith("linux"):
        return "linux"
    return sys.platform.rstrip("0123456789")

