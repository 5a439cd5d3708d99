"""The probe's facts about CA locations, read into :class:`~.model.Location` objects.

:class:`Locations` hands out one Location per (kind, path) and records where
each was named (``compiled``, ``env:SSL_CERT_FILE``, ``vendor:rhel``,
``fallback``): the order locations are first asked for is the order doctor
shows them in.
"""

from __future__ import annotations

from typing import Any, Mapping

from .facts import LOCATION_VARS, OTHER_VARS, split_paths
from .model import Location


def _location(kind: str, path: str, raw: Mapping[str, Any] | None) -> Location:
    loc = Location(kind=kind, path=path, origins=[])
    if not path:
        loc.exists, loc.usable, loc.reason = False, False, "empty value"
        return loc
    if raw is None:
        return loc
    loc.exists = raw.get("exists")
    v, vu = raw.get("verdict"), raw.get("verdict_unsafe_ok")
    if vu is not None:
        loc.usable = vu == "usable"
        loc.reason = vu
    elif not loc.exists:
        loc.reason = "missing"
    if v == "usable":
        loc.safe = True
    elif isinstance(v, str) and v.startswith("unsafe: "):
        loc.safe, loc.safety = False, v[len("unsafe: "):]
    for key in ("certs", "hashed", "entries", "mode", "uid"):
        if key in raw:
            setattr(loc, key, raw[key])
    return loc


class Locations:
    """The probe's location facts, by (kind, path), tagged with where each came from."""

    def __init__(self, facts: Mapping[str, Any]) -> None:
        self.raw: dict[tuple[str, str], Mapping[str, Any]] = {}
        for item in list(facts.get("compiled_locations") or []) + list(facts.get("locations") or []):
            self.raw.setdefault((item["kind"], item["path"]), item)
        self.seen: dict[tuple[str, str], Location] = {}

    def get(self, kind: str, path: str, origin: str | None = None) -> Location:
        key = (kind, path)
        if key not in self.seen:
            self.seen[key] = _location(kind, path, self.raw.get(key))
        loc = self.seen[key]
        if origin and origin not in loc.origins:
            loc.origins.append(origin)
        return loc

    def either(self, path: str, origin: str) -> Location:
        """A bundle or a hashed directory: whichever the path is."""
        d = self.raw.get(("dir", path))
        if d is not None and d.get("exists") and (d.get("hashed") is not None or d.get("entries") is not None):
            return self.get("dir", path, origin)
        return self.get("file", path, origin)

    def named_by(self, name: str, value: str) -> list[Location]:
        """The locations trust variable ``name`` (one of LOCATION_VARS) set to ``value`` names."""
        kind, _who = LOCATION_VARS[name]
        origin = f"env:{name}"
        return [self.either(p, origin) if kind == "either" else self.get(kind, p, origin)
                for p in split_paths(name, value)]


def env_report(env: Mapping[str, str], locs: Locations) -> list[dict[str, Any]]:
    """Every variable the probe saw, with who reads it and what its locations hold."""
    out = []
    for name, value in env.items():
        item: dict[str, Any] = {"name": name, "value": value}
        if name in LOCATION_VARS:
            who = LOCATION_VARS[name][1]
            found = locs.named_by(name, value)
            item.update(read_by=who, usable=all(x.usable for x in found) if found else False,
                        safe=None if any(x.safe is None for x in found) else all(x.safe for x in found),
                        status=found[0].describe() if len(found) == 1 else
                        "; ".join(f"{x.path or '(empty)'}: {x.describe()}" for x in found))
        else:
            item.update(read_by=OTHER_VARS.get(name, ""), usable=None, safe=None, status="")
        out.append(item)
    return out


def shown(locs: Locations) -> list[Location]:
    """Every location looked at, compiled and environment first."""
    def rank(loc: Location) -> int:
        o = loc.origins
        return 0 if "compiled" in o else 1 if any(x.startswith("env:") for x in o) else \
            2 if any(x.startswith("vendor:") for x in o) else 3
    return sorted(locs.seen.values(), key=rank)

