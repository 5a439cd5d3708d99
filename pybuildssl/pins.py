"""The pinned release of each line of CPython and OpenSSL (pybuildssl/data/pins.toml).

One data file, one loader: recipes resolve a line (``version = "3.13"``) through
:func:`release`; ``ci/track_pins.py`` reads and rewrites the file.  A leaf over
:mod:`pybuildssl._toml` and :mod:`pybuildssl.errors`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from . import _toml
from .errors import RecipeError

PATH = Path(__file__).resolve().parent / "data" / "pins.toml"
PRODUCTS = ("cpython", "openssl")
LINE_RE = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)$")
RELEASE_RE = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_PIN_KEYS = {"version", "sha256", "size", "signed", "evidence"}


@dataclass(frozen=True)
class Pin:
    product: str
    line: str
    version: str
    sha256: str
    size: int
    signed: bool
    evidence: str


@dataclass(frozen=True)
class Pins:
    lines: Mapping[str, Mapping[str, Pin]]         # product -> line -> pin

    def release(self, product: str, line: str) -> Pin | None:
        return self.lines.get(product, {}).get(line)

    def by_version(self, product: str, version: str) -> Pin | None:
        """The pin of exactly this release, if it is one."""
        return next((p for p in self.lines.get(product, {}).values() if p.version == version), None)

    def line_names(self, product: str) -> list[str]:
        return sorted(self.lines.get(product, {}), key=line_key)


def line_key(line: str) -> tuple[int, ...]:
    return tuple(int(x) for x in line.split("."))


def line_of(version: str) -> str:
    """"3.13.15" -> "3.13"."""
    m = RELEASE_RE.match(version)
    if not m:
        raise ValueError(f"not a release X.Y.Z: {version!r}")
    return f"{m['major']}.{m['minor']}"


def parse(data: Mapping[str, Any], where: str) -> Pins:
    """Validate the file's data: every pin complete, in its line, with a sha256 and size."""
    lines: dict[str, dict[str, Pin]] = {}
    for product in PRODUCTS:
        section = data.get(product)
        if not isinstance(section, dict) or set(section) != {"lines"} or not isinstance(section["lines"], dict):
            raise RecipeError(f"{where}: no [{product}] with [{product}.lines.\"X.Y\"] tables")
        out = lines.setdefault(product, {})
        for line, pin in section["lines"].items():
            key = f"{product}.lines.{line!r}"
            ok = (LINE_RE.match(line) and isinstance(pin, dict) and set(pin) == _PIN_KEYS
                  and isinstance(pin["version"], str) and RELEASE_RE.match(pin["version"])
                  and line_of(pin["version"]) == line and _HEX64.match(str(pin["sha256"]))
                  and isinstance(pin["size"], int) and not isinstance(pin["size"], bool) and pin["size"] > 0
                  and isinstance(pin["signed"], bool) and isinstance(pin["evidence"], str) and pin["evidence"])
            if not ok:
                raise RecipeError(f"{where}: {key} must be X.Y holding version (a release of that line), "
                                  "sha256 (64 hex digits), size (bytes), signed (bool) and evidence (text)")
            out[line] = Pin(product, line, pin["version"], pin["sha256"], pin["size"], pin["signed"],
                            pin["evidence"])
    return Pins(lines)


def load(path: Path = PATH) -> Pins:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise RecipeError(f"cannot read the pins file {path}: {e.strerror}") from None
    try:
        data = _toml.loads(text)
    except _toml.TOMLDecodeError as e:
        raise RecipeError(f"{path}: malformed TOML: {e}") from None
    return parse(data, str(path))


def render(pins: Pins, header: str) -> str:
    """The file's text for ``pins`` (``header``: the comment block kept from the file)."""
    out = [header.rstrip("\n"), ""]
    for product in PRODUCTS:
        for line in pins.line_names(product):
            p = pins.lines[product][line]
            out += [f'[{product}.lines."{line}"]', f'version = "{p.version}"', f'sha256 = "{p.sha256}"',
                    f"size = {p.size}", f"signed = {'true' if p.signed else 'false'}",
                    f"evidence = {_toml_string(p.evidence)}", ""]
    return "\n".join(out)


def _toml_string(text: str) -> str:
    import json

    return json.dumps(text)  # a JSON string is a valid TOML basic string
