"""A pinned source of a recipe (OpenSSL, CPython, each library): :class:`Source`, validated.

A pin belongs to a version: whoever changes a version in a layer must give its
sha256 in the same layer, and alternatives (a distribution's repack of the same
release) are pins of the version set beside them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from . import pins as pins_mod
from .errors import RecipeError


@dataclass(frozen=True)
class Alternative:
    """Another tarball of the same version, pinned by its own sha256 and size
    (for example a distribution's repack of the upstream release)."""

    sha256: str
    size: int
    file: str = ""
    url: str = ""
    note: str = ""


@dataclass(frozen=True)
class Source:
    name: str
    version: str
    url: str
    mirrors: tuple[str, ...]
    sha256: str
    size: int
    configure_args: tuple[str, ...]
    patches: tuple[Mapping[str, str], ...]
    alternatives: tuple[Alternative, ...] = ()
    license: str = ""

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(u.replace("{version}", self.version) for u in (self.url, *self.mirrors))

    @property
    def pins(self) -> tuple[tuple[str, int], ...]:
        """(sha256, size) of every acceptable tarball, the upstream one first (size 0: unchecked)."""
        return ((self.sha256, self.size), *((a.sha256, a.size) for a in self.alternatives))

    def pinned_as(self, sha256: str) -> str:
        """"primary", "alternative" or "" for a tarball with this sha256."""
        if sha256 == self.sha256:
            return "primary"
        return "alternative" if any(a.sha256 == sha256 for a in self.alternatives) else ""

    @property
    def filename(self) -> str:
        return self.urls[0].rsplit("/", 1)[-1]

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", self.version)[:3])


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def resolve_line(section: str, v: dict[str, Any], origin: dict[str, str], where: str,
                 table: "pins_mod.Pins") -> None:
    """A line (``version = "3.13"``) becomes the release pinned for it in pybuildssl/data/pins.toml,
    with its sha256 and size, as if the layer that named the line had pinned that release; so
    does a pinned release given without a sha256 (``--set cpython.version=3.13.15``).  In place."""
    version = v["version"]
    v_from = origin.get(f"{section}.version", where)
    own_sha = origin.get(f"{section}.sha256") == v_from
    if isinstance(version, str) and pins_mod.LINE_RE.match(version):
        pin = table.release(section, version)
        if pin is None:
            raise RecipeError(
                f"{v_from}: key '{section}.version' is the line {version!r}, which has no pinned release",
                hint=f"pinned {section} lines: {', '.join(table.line_names(section))} (pybuildssl/data/pins.toml); "
                     f"or give a release X.Y.Z with its {section}.sha256")
        if own_sha:
            raise RecipeError(
                f"{v_from}: key '{section}.version' names the line {version!r} and sets '{section}.sha256' too",
                hint=f"a line takes its release and sha256 from pybuildssl/data/pins.toml ({pin.version}); "
                     f"to pin your own, give the release X.Y.Z with its sha256")
    else:
        pin = table.by_version(section, version) if isinstance(version, str) and not own_sha else None
        if pin is None:
            if v["sha256"] is None and version is not None:
                pinned = ", ".join(table.lines[section][line].version for line in table.line_names(section))
                raise RecipeError(
                    f"{v_from}: key '{section}.version' is {version!r}, a release without a pin (no '{section}.sha256' beside it)",
                    hint=f"set {section}.sha256 (and {section}.size) for {version} in the same place, or name a "
                         f"pinned release ({pinned}) or its line")
            return
    v.update(version=pin.version, sha256=pin.sha256, size=pin.size, line=pin.line)
    origin[f"{section}.sha256"] = origin[f"{section}.size"] = v_from


def source(section: str, v: dict[str, Any], origin: dict[str, str], where: str,
            component: bool = False) -> Source:
    for key in ("version", "url", "sha256"):
        if v[key] is None:
            raise RecipeError(f"{where}: missing required key '{section}.{key}'",
                              hint=f"component {section} is built for this target: pin it "
                                   "(recipes/_common.toml holds the shipped pins)")
    sha = v["sha256"].lower()
    w = origin.get(f"{section}.sha256", where)
    if not _HEX64.match(sha):
        raise RecipeError(f"{w}: key '{section}.sha256' must be 64 hex digits, got {v['sha256']!r}")
    if component and not re.match(r"^\d+(\.\d+)+([-+.~][0-9A-Za-z.+-]+)?$", v["version"]):
        raise RecipeError(f"{origin.get(section + '.version', where)}: key '{section}.version' "
                          f"must look like X.Y[.Z][-SUFFIX], got {v['version']!r}")
    if not component and not re.match(r"^\d+\.\d+\.\d+", v["version"]):
        raise RecipeError(f"{origin.get(section + '.version', where)}: key '{section}.version' "
                          f"must look like X.Y.Z, got {v['version']!r}")
    # A pin belongs to a version: whoever changes the version must give its sha256.
    v_from = origin.get(f"{section}.version")
    if v_from and v_from != origin.get(f"{section}.sha256"):
        raise RecipeError(
            f"{v_from}: key '{section}.version' is changed to {v['version']!r} "
            f"without a matching '{section}.sha256' (the pin comes from {origin.get(section + '.sha256')})",
            hint=f"set {section}.sha256 (and {section}.size) for {v['version']} in the same place")
    size = v["size"] if origin.get(f"{section}.size") == v_from else 0
    alternatives: list[Alternative] = []
    # Alternatives are pins of the version set in the same layer; a later
    # layer that changes the version drops them (as it drops the size).
    if origin.get(f"{section}.alternatives") == v_from:
        aw = origin.get(f"{section}.alternatives", where)
        for i, a in enumerate(v["alternatives"]):
            ok = (isinstance(a, dict) and _HEX64.match(str(a.get("sha256", "")).lower())
                  and isinstance(a.get("size"), int) and not isinstance(a.get("size"), bool) and a["size"] > 0
                  and set(a) <= {"sha256", "size", "file", "url", "note"}
                  and all(isinstance(a.get(k, ""), str) for k in ("file", "url", "note")))
            if not ok:
                raise RecipeError(f"{aw}: key '{section}.alternatives[{i}]' must be "
                                  "{sha256 = \"64 hex digits\", size = BYTES, file = \"NAME\", url = \"URL\", "
                                  "note = \"TEXT\"} (file, url and note optional)")
            alternatives.append(Alternative(sha256=a["sha256"].lower(), size=a["size"], file=a.get("file", ""),
                                            url=a.get("url", ""), note=a.get("note", "")))
    for i, p in enumerate(v["patches"]):
        if not (isinstance(p, dict) and isinstance(p.get("file"), str) and _HEX64.match(str(p.get("sha256", "")))):
            raise RecipeError(f"{origin.get(section + '.patches', where)}: key '{section}.patches[{i}]' "
                              "must be {file = \"NAME\", sha256 = \"64 hex digits\"}")
    return Source(
        name=section, version=v["version"], url=v["url"], mirrors=tuple(v["mirrors"]),
        sha256=sha, size=size, configure_args=tuple(v["configure_args"]),
        patches=tuple(v["patches"]), alternatives=tuple(alternatives), license=v["license"],
    )
