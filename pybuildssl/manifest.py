"""The artifact's manifest, ``python/PYBUILDSSL.json``, as typed data.

Build writes it (``Manifest(...)`` then :meth:`Manifest.to_json`), verify reads
it (:meth:`Manifest.load`).  The JSON is ``json.dumps(indent=1, sort_keys=True)``
of :meth:`Manifest.to_dict`: the same bytes the untyped dict gave.  A leaf:
stdlib only, imports nothing of pybuildssl but ``errors``.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from .errors import PybuildsslError

#: The file name inside the artifact's top directory.
FILE_NAME = "PYBUILDSSL.json"
#: Bump when a key changes meaning or goes away.
SCHEMA = 1


class ManifestError(PybuildsslError):
    """A manifest that is not JSON, misses a key or holds the wrong type (exit 2)."""


@dataclass
class RecipeInfo:
    name: str = ""
    sha256: str = ""
    resolved: dict[str, Any] = field(default_factory=dict)  # recipe.to_dict(): the recipe as built

    def allow_libraries(self) -> list[str]:
        return list(self.resolved.get("verify", {}).get("allow_libraries", []))


@dataclass
class TargetInfo:
    os: str = ""
    arch: str = ""
    vendor: str = ""
    libc: str = ""
    triple: str = ""
    glibc: str | None = None
    target_triple: str = ""


@dataclass
class Toolchain:
    kind: str = ""
    id: str = ""


@dataclass
class OpenSSLInfo:
    version: str = ""
    openssldir: str = ""
    options: list[str] = field(default_factory=list)
    linkage: str = ""  # "static" (linked into _ssl/_hashlib) or "shared" (libssl/libcrypto shipped)


@dataclass
class CPythonInfo:
    version: str = ""
    shared: bool = False
    interpreter: str = ""  # relative to the prefix, e.g. bin/python3.13


@dataclass
class TrustInfo:
    fallback: list[list[str]] | None = None  # [kind, path] pairs baked into ssl.py
    windows_mode: str = "enumeration"
    patch_sha256: str = ""
    opt_out_env: str = ""


@dataclass
class SourcePin:
    name: str
    version: str
    sha256: str
    url: str
    license: str


@dataclass
class ComponentPin:
    name: str
    version: str
    sha256: str
    pinned_as: str
    url: str
    license: str
    modules: list[str]


@dataclass
class Manifest:
    schema: int = SCHEMA
    tool: str = "pybuildssl"
    recipe: RecipeInfo = field(default_factory=RecipeInfo)
    target: TargetInfo = field(default_factory=TargetInfo)
    build_tag: str = ""
    tool_version: str = ""
    sysconfig_placeholder: str = ""  # what installers (uv) replace in _sysconfigdata
    toolchain: Toolchain = field(default_factory=Toolchain)
    openssl: OpenSSLInfo = field(default_factory=OpenSSLInfo)
    cpython: CPythonInfo = field(default_factory=CPythonInfo)
    trust: TrustInfo = field(default_factory=TrustInfo)
    sources: list[SourcePin] = field(default_factory=list)
    components: list[ComponentPin] = field(default_factory=list)  # linked statically into extensions
    component_keys: dict[str, str] = field(default_factory=dict)
    build_prefix: str = ""
    build_paths: list[str] = field(default_factory=list)  # no file of the artifact may name these
    build_time: str = ""
    build_time_note: str = ""
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # rel path -> {type, sha256|target, ...}

    # -- writing ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> bytes:
        return dumps(self.to_dict())

    # -- reading ---------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, *, source: str = "manifest", partial: bool = False) -> "Manifest":
        """Typed from parsed JSON; :class:`ManifestError` names ``source`` and the key.

        ``partial`` fills absent keys with their defaults (hand-made manifests in
        tests, a prefix checked without one); a real artifact's is read strictly.
        """
        return _build(cls, data, source, "", partial)

    @classmethod
    def loads(cls, text: str | bytes, *, source: str = "manifest") -> "Manifest":
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ManifestError(f"{source} is not JSON: {e}",
                                hint="the artifact is damaged: rebuild it, or verify another one") from None
        return cls.from_dict(data, source=source)

    @classmethod
    def load(cls, path: Path) -> "Manifest":
        return cls.loads(Path(path).read_bytes(), source=str(path))


def dumps(data: dict[str, Any]) -> bytes:
    """The manifest's bytes: one form for every writer."""
    return json.dumps(data, indent=1, sort_keys=True).encode() + b"\n"


def _build(cls: type, data: Any, source: str, where: str, partial: bool) -> Any:
    if not isinstance(data, dict):
        raise _wrong(source, where or "(top level)", "a JSON object", data)
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        key = f"{where}.{f.name}" if where else f.name
        if f.name not in data:
            if partial and (f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING):
                continue
            raise ManifestError(f"{source}: key {key!r} is missing",
                                hint="the artifact was not written by this pybuildssl's build, or was edited: "
                                     "rebuild it")
        values[f.name] = _convert(hints[f.name], data[f.name], source, key, partial)
    return cls(**values)


def _convert(hint: Any, value: Any, source: str, key: str, partial: bool) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Union or type(hint).__name__ == "UnionType":
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, source, key, partial)
    if origin is list:
        if not isinstance(value, list):
            raise _wrong(source, key, "a list", value)
        return [_convert(args[0], v, source, f"{key}[{i}]", partial) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _wrong(source, key, "an object", value)
        return value
    if hint is Any:
        return value
    want = {str: "a string", int: "an integer", bool: "true or false"}[hint]
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise _wrong(source, key, want, value)
    return value


def _wrong(source: str, key: str, want: str, value: Any) -> ManifestError:
    return ManifestError(f"{source}: key {key!r} must be {want}, not {type(value).__name__}",
                         hint="the artifact was not written by this pybuildssl's build, or was edited: rebuild it")
