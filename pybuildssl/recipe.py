"""Recipes: TOML -> validated, frozen :class:`Recipe`.

A recipe names a target and pins its sources.  Keys are validated strictly
against :data:`SCHEMA` (the one list of valid keys, which also generates the
recipe reference in docs/); a misspelt key fails with a did-you-mean, and
every error names the recipe file and the key.

Layers, lowest first: the ``extends`` chain, the recipe itself, then
``--set section.key=value`` overrides from the command line.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from . import _toml, layouts, pins
from .errors import RecipeError
from .hashing import sha256_json
from .recipe_schema import COMPONENTS, MIN_OPENSSL, SCHEMA, SOURCE_SECTIONS, WINDOWS_BINARIES, WINDOWS_SECTIONS
from .recipe_source import Source, resolve_line, source as _source
from .shipped import shipped_dir

@dataclass(frozen=True)
class Recipe:
    name: str
    path: str
    description: str
    os: str
    arch: str
    vendor: str
    libc: str
    glibc: str
    openssl: Source
    openssldir: str
    openssl_options: tuple[str, ...]
    cpython: Source
    cpython_optimizations: bool
    cpython_lto: bool
    cpython_shared: bool
    fallback: tuple[tuple[str, str], ...]
    windows_mode: str
    jobs: int
    strip: bool
    compression: str
    source_date_epoch: int
    verify: bool
    cflags: str
    allow_libraries: tuple[str, ...]
    toolchain: str = "cc"
    cpython_free_threaded: bool = False
    #: Components built from source (Linux), enabled ones only, in build order.
    components: Mapping[str, Source] = field(default_factory=dict)
    #: Windows: python.org's binaries that are pinned (python_embed, python_nuget).
    windows_binaries: Mapping[str, Source] = field(default_factory=dict)
    #: Windows: the ``[windows]`` section (layout, method_linux, method_windows).
    windows: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def target(self) -> str:
        return f"{self.os}-{self.arch}"

    @property
    def glibc_tuple(self) -> tuple[int, ...]:
        return tuple(int(x) for x in self.glibc.split(".")) if self.glibc else ()

    def to_dict(self) -> dict[str, Any]:
        """The resolved recipe as plain data (what `recipes show` prints)."""
        return json.loads(json.dumps(self.raw))

    def digest(self) -> str:
        """sha256 of the resolved recipe: part of every cache key and the manifest."""
        return sha256_json(self.raw)


# ----------------------------------------------------------------- finding ---

def builtin_dir() -> Path:
    """recipes/ (shipped inside the wheel as pybuildssl.recipes)."""
    return shipped_dir("recipes")


def available() -> dict[str, Path]:
    """Target recipes by name (files starting with "_" are shared layers, not targets)."""
    return {p.stem: p for p in sorted(builtin_dir().glob("*.toml")) if not p.stem.startswith("_")}


def find(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or "/" in name_or_path or "\\" in name_or_path:
        if not p.is_file():
            raise RecipeError(f"recipe file not found: {p}",
                              hint="give a path to an existing .toml file or a name from `pybuildssl recipes`")
        return p
    recipes = available()
    if name_or_path in recipes:
        return recipes[name_or_path]
    close = difflib.get_close_matches(name_or_path, list(recipes), n=3)
    hint = f"Perhaps you meant {', '.join(repr(c) for c in close)}? " if close else ""
    raise RecipeError(f"no recipe named {name_or_path!r}",
                      hint=hint + "`pybuildssl recipes` lists them")


def host_arch() -> str:
    """This machine's architecture in the words of its own OS's recipes (Linux aarch64; macOS and
    Windows arm64)."""
    import platform

    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    return "arm64" if arch == "aarch64" and layouts.host_os() != "linux" else arch


def default_for_host() -> str:
    os_name = layouts.host_os()
    return f"{os_name}-{host_arch()}" + ("-generic" if os_name == "linux" else "")


# ----------------------------------------------------------------- loading ---

def _read_toml(path: Path, what: str = "recipe") -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise RecipeError(f"cannot read {what} {path}: {e.strerror}",
                          hint="give the path of a TOML file" if what != "recipe" else None) from None
    try:
        return _toml.loads(text)
    except _toml.TOMLDecodeError as e:
        raise RecipeError(f"{path}: malformed TOML: {e}",
                          hint="fix the syntax at the line and column shown") from None


def _check_keys(data: Mapping[str, Any], where: str) -> None:
    for key, value in data.items():
        if isinstance(value, dict) and key in SCHEMA and key != "":
            for sub in value:
                if sub not in SCHEMA[key]:
                    _unknown(f"{key}.{sub}", list(f"{key}.{k}" for k in SCHEMA[key]), where)
        elif key not in SCHEMA[""]:
            valid = list(SCHEMA[""]) + [s for s in SCHEMA if s]
            _unknown(key, valid, where)


def _unknown(key: str, valid: list[str], where: str) -> None:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    hint = f"Perhaps you meant {close[0]!r}?" if close else "valid keys: " + ", ".join(valid)
    raise RecipeError(f"{where}: unknown key {key!r}", hint=hint)


def _layers(path: Path, seen: tuple[Path, ...] = ()) -> list[tuple[str, dict[str, Any]]]:
    """[(where, data)] from the root of the extends chain down to ``path``."""
    rp = path.resolve()
    if rp in seen:
        raise RecipeError(f"{path}: `extends` forms a cycle: "
                          + " -> ".join(str(s) for s in (*seen, rp)))
    data = _read_toml(path)
    _check_keys(data, str(path))
    parent = data.get("extends", "")
    out: list[tuple[str, dict[str, Any]]] = []
    if parent:
        if not isinstance(parent, str):
            raise RecipeError(f"{path}: key 'extends' must be a string (a recipe name)")
        sibling = path.parent / f"{parent}.toml"
        ppath = sibling if sibling.is_file() else find(parent)
        out = _layers(ppath, (*seen, rp))
    out.append((str(path), data))
    return out


def parse_override(text: str) -> tuple[str, str, Any]:
    """``section.key=value`` -> (section, key, value); values are TOML when they parse."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise RecipeError(f"--set {text!r}: expected section.key=value",
                          hint="for example --set openssl.version=3.5.7")
    section, dot, sub = key.rpartition(".")
    name = sub if dot else key
    spec = SCHEMA.get(section, {}).get(name)
    try:
        parsed = _toml.loads(f"v = {value}")["v"]
    except _toml.TOMLDecodeError:
        parsed = value
    if spec is not None and spec.type is str and not isinstance(parsed, str):
        parsed = value.strip()  # target.glibc=2.28 or a sha256 of digits is text, not a number
    return section, name, parsed


def load(name_or_path: str, overrides: list[str] | tuple[str, ...] = (),
         *, override_files: Sequence[Path] = (),
         host_vendor: Callable[[], str] = layouts.detect_vendor) -> Recipe:
    """The recipe, then each override file (a TOML layer, e.g. the one
    ``ci/fetch_sources.py`` writes), then the ``--set`` overrides."""
    path = find(name_or_path)
    layers = _layers(path)
    for f in override_files:
        data = _read_toml(Path(f), "override file")
        if "extends" in data:
            raise RecipeError(f"{f}: an override file cannot use 'extends'",
                              hint="name the recipe on the command line; the file only overrides keys")
        _check_keys(data, str(f))
        layers.append((str(f), data))
    if overrides:
        data: dict[str, Any] = {}
        for text in overrides:
            section, key, value = parse_override(text)
            target = data.setdefault(section, {}) if section else data
            if not isinstance(target, dict):
                raise RecipeError(f"--set {text!r}: {section!r} is not a section")
            target[key] = value
        _check_keys(data, "--set")
        layers.append(("--set", data))
    return _resolve(path, layers, host_vendor)


def _merge(layers: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, Any], dict[str, str]]:
    """Merged values and, for each dotted key, the layer that set it last."""
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for where, data in layers:
        for key, value in data.items():
            if key == "extends":
                continue
            if isinstance(value, dict):
                sect = merged.setdefault(key, {})
                for sub, v in value.items():
                    sect[sub] = v
                    origin[f"{key}.{sub}"] = where
            else:
                merged[key] = value
                origin[key] = where
    return merged, origin


def _typed(section: str, key: str, value: Any, where: str) -> Any:
    spec = SCHEMA[section][key]
    name = f"{section}.{key}" if section else key
    ok = isinstance(value, spec.type) and not (spec.type is int and isinstance(value, bool))
    if not ok:
        tname = spec.type.__name__ if isinstance(spec.type, type) else "value"
        raise RecipeError(f"{where}: key {name!r} must be a {tname}, got {value!r}")
    if spec.choices and value not in spec.choices:
        raise RecipeError(f"{where}: key {name!r} is {value!r}",
                          hint="valid values: " + ", ".join(c for c in spec.choices if c))
    return value


def _resolve(path: Path, layers: list[tuple[str, dict[str, Any]]],
             host_vendor: Callable[[], str]) -> Recipe:
    merged, origin = _merge(layers)
    values = _values(path, merged, origin)
    where = str(path)
    table = pins.load()
    for s in SOURCE_SECTIONS:
        resolve_line(s, values[s], origin, where, table)
    sources = {s: _source(s, values[s], origin, where) for s in SOURCE_SECTIONS}
    ossl = sources["openssl"]
    if ossl.version_tuple < MIN_OPENSSL:
        raise RecipeError(
            f"{origin.get('openssl.version', where)}: key 'openssl.version' is {ossl.version!r}; "
            "pybuildssl needs OpenSSL 3.2 or newer",
            hint="OpenSSL 3.2 brought the store APIs this project relies on; pin 3.5 (LTS) or later")
    target = values["target"]
    vendor, openssldir, fallback = _trust_facts(values, origin, where, host_vendor)
    glibc, toolchain = _glibc_and_toolchain(values, origin, where)
    _apply_profile(values, toolchain, host_arch)
    components: dict[str, Source] = {}
    if target["os"] == "linux":
        for name in enabled_components(values["components"]):
            components[name] = _source(name, values[name], origin, where, component=True)
    binaries, windows = _windows_facts(values, origin, where)
    raw = {s or "recipe": dict(v) for s, v in values.items()
           if (s not in COMPONENTS or s in components)
           and (s not in WINDOWS_SECTIONS or s in binaries or (s == "windows" and windows))}
    raw["build"]["toolchain_resolved"] = toolchain
    raw["target"]["vendor"] = vendor
    raw["openssl"]["openssldir"] = openssldir
    raw["trust"]["fallback_list"] = [list(x) for x in fallback]
    raw["recipe"]["name"] = path.stem
    return Recipe(
        name=path.stem, path=str(path), description=values[""]["description"],
        os=target["os"], arch=target["arch"], vendor=vendor, libc=target["libc"],
        openssl=ossl, openssldir=openssldir, openssl_options=tuple(values["openssl"]["options"]),
        cpython=sources["cpython"], cpython_optimizations=values["cpython"]["optimizations"],
        cpython_lto=values["cpython"]["lto"], cpython_shared=values["cpython"]["shared"],
        fallback=fallback, windows_mode=values["trust"]["windows_mode"],
        jobs=values["build"]["jobs"], strip=values["build"]["strip"],
        compression=values["build"]["compression"], source_date_epoch=values["build"]["source_date_epoch"],
        verify=values["build"]["verify"], cflags=values["build"]["cflags"],
        allow_libraries=tuple(values["verify"]["allow_libraries"]), glibc=glibc,
        toolchain=toolchain, components=components, raw=raw, windows_binaries=binaries, windows=windows,
        cpython_free_threaded=_free_threaded(values, sources["cpython"], origin, where),
    )


def _windows_facts(values: dict[str, dict[str, Any]], origin: dict[str, str],
                   where: str) -> tuple[dict[str, Source], dict[str, str]]:
    """Windows targets: the pinned python.org binaries and the ``[windows]`` section (else nothing)."""
    if values["target"]["os"] != "windows":
        return {}, {}
    binaries = {name: _source(name, values[name], origin, where, component=True)
                for name in WINDOWS_BINARIES if values[name]["sha256"] is not None}
    return binaries, dict(values["windows"])


def _values(path: Path, merged: dict[str, Any], origin: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every schema key: the merged value (type-checked) or its default; a missing required key fails."""
    values: dict[str, dict[str, Any]] = {}
    for section, keys in SCHEMA.items():
        given = merged if section == "" else merged.get(section, {})
        out = values.setdefault(section, {})
        for key, spec in keys.items():
            dotted = f"{section}.{key}" if section else key
            if key in given:
                out[key] = _typed(section, key, given[key], origin.get(dotted, str(path)))
            elif spec.required:
                raise RecipeError(f"{path}: missing required key {dotted!r}",
                                  hint="add it to the recipe or to the recipe it extends")
            else:
                out[key] = spec.default
    return values


#: The first line with a free-threaded build (PEP 703): experimental upstream in 3.13, supported
#: from 3.14 (PEP 779).  3.13t is offered as python-build-standalone and uv offer it, and it is the
#: one this project's CI can build (the mirror serves no 3.14 tarball).
FREE_THREADED_SINCE = (3, 13)


def _free_threaded(values: dict[str, dict[str, Any]], cpython: Source, origin: dict[str, str], where: str) -> bool:
    if not values["cpython"]["free_threaded"]:
        return False
    w = origin.get("cpython.free_threaded", where)
    if cpython.version_tuple[:2] < FREE_THREADED_SINCE:
        raise RecipeError(f"{w}: key 'cpython.free_threaded' is true but cpython.version is {cpython.version}",
                          hint="free-threaded builds begin with CPython 3.13 (experimental there upstream, "
                               "supported from 3.14): --set cpython.version=3.14 (or 3.13, 3.15)")
    if values["target"]["os"] == "windows":
        raise RecipeError(f"{w}: key 'cpython.free_threaded' is not wired for Windows targets yet",
                          hint="build a free-threaded Linux or macOS target, or drop the key")
    return True


def _apply_profile(values: dict[str, dict[str, Any]], toolchain: str, host: Callable[[], str]) -> None:
    """cpython.optimizations (PGO) and cpython.lto left unset follow build.profile: both on in the
    release profile, with the host's cc and with Zig (pybuildssl/toolchain.py: its clang wrapper
    and LLVM's profile tools).  PGO runs the new interpreter on the build host (its training), so
    it stays off for a Zig build for another architecture."""
    release = values["build"]["profile"] == "release"
    native = toolchain == "cc" or values["target"]["arch"] == host()
    for key, on in (("optimizations", release and native), ("lto", release)):
        if values["cpython"][key] is None:
            values["cpython"][key] = on


def _trust_facts(values: dict[str, dict[str, Any]], origin: dict[str, str], where: str,
                 host_vendor: Callable[[], str]) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """The vendor, OPENSSLDIR and fallback list, from the layout table (the one source of both)."""
    target = values["target"]
    table = layouts.load()
    vendor = target["vendor"]
    if vendor == "auto":
        vendor = host_vendor()
    if vendor != "generic":
        table.vendor(vendor, where=f"{origin.get('target.vendor', where)}: key 'target.vendor'")
    openssldir = values["openssl"]["openssldir"] or table.openssldir(
        target["os"], vendor, where=f"{origin.get('target.vendor', where)}: key 'target.vendor'")
    if target["os"] == "windows" and "no-winstore" in values["openssl"]["options"]:
        raise RecipeError(f"{origin.get('openssl.options', where)}: key 'openssl.options' has 'no-winstore'",
                          hint="Windows recipes need OpenSSL's winstore loader; remove the option")
    fallback = tuple(table.fallback(target["os"])) if values["trust"]["fallback"] else ()
    return vendor, openssldir, fallback


def _glibc_and_toolchain(values: dict[str, dict[str, Any]], origin: dict[str, str], where: str) -> tuple[str, str]:
    target = values["target"]
    glibc = target["glibc"]
    if glibc and (not re.match(r"^2\.\d+$", glibc) or target["os"] != "linux" or target["libc"] != "glibc"):
        raise RecipeError(f"{origin.get('target.glibc', where)}: key 'target.glibc' is {glibc!r}",
                          hint="a glibc floor is X.Y (for example 2.17) and only for Linux glibc targets; "
                               "empty means the build host's glibc")
    toolchain = values["build"]["toolchain"]
    if toolchain == "auto":
        toolchain = "zig" if glibc else "cc"
    return glibc, toolchain


def enabled_components(switches: Mapping[str, Any]) -> list[str]:
    """Component sections a Linux build compiles, in build order."""
    off = set()
    if not switches.get("tkinter"):
        off |= {"tcl", "tk"}
    if not switches.get("gdbm"):
        off.add("gdbm")
    return [c for c in COMPONENTS if c not in off]


