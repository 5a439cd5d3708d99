"""The ssl trust patch: render it, apply it to text, to a source tree, to a prefix.

The patch is a block of Python appended to the END of CPython's ``Lib/ssl.py``
(so it costs no extra import and lives in the same ``.pyc``), between two
marker lines.  What it does at run time is the trust-resolution contract of
docs/trust-contract.md (the project design: ../shared/design.md); the code itself is ``templates/ssl_patch.py.j2``.

Deciding and acting are kept apart:

* pure, text in, text out: :func:`render_patch`, :func:`apply_to_text`,
  :func:`strip_from_text`, :func:`extract_block`, :func:`is_patched`;
* acting on files: :func:`patch_source_tree` (build time, before CPython is
  compiled) and :func:`patch_prefix` (``pybuildssl patch PREFIX`` on an
  existing distribution: backup, record, bytecode refresh, revert).
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .shipped import shipped_dir
from .hashing import sha256_bytes
from . import layouts, targets
from .errors import PatchError

#: Bumped whenever the runtime behaviour of the rendered block changes.
PATCH_VERSION = 2  # 2: the safety walk of issue 11 (every element, compiled defaults too), dir first

START_MARKER = "# >>> pybuildssl trust fallback >>>"
END_MARKER = "# <<< pybuildssl trust fallback <<<"

#: The documented opt-out: set to anything but "" or "0" to turn the fallback off.
#: (Written literally in the template too; a unit test checks they agree.)
OPT_OUT_ENV = "PYBUILDSSL_NO_FALLBACK"

WINDOWS_MODES = targets.WINDOWS_TRUST_MODES
TARGET_OSES = (*layouts.POSIX_OSES, "windows")

#: Next to the patched ssl.py: the pristine original, byte for byte.
BACKUP_SUFFIX = ".pybuildssl-orig"
#: Next to the patched ssl.py: what was done, when, with which fallback list.
RECORD_NAME = "pybuildssl-patch.json"

#: Lines any CPython ssl.py from 3.9 to 3.15 has and the block relies on.
#: The last one matters most: overriding set_default_verify_paths() only covers
#: load_default_certs() and create_default_context() because of it.
_SSL_PY_LANDMARKS = (
    ("import _ssl", "it does not import _ssl"),
    ("class SSLContext(_SSLContext)", "it defines no SSLContext(_SSLContext) class"),
    ("def get_default_verify_paths(", "it defines no get_default_verify_paths()"),
    ("def load_default_certs(", "it defines no load_default_certs()"),
    ("self.set_default_verify_paths()", "load_default_certs() does not call set_default_verify_paths()"),
)

Log = Callable[[str], None]


# --------------------------------------------------------------- render ----

def _template_text() -> str:
    return (shipped_dir("templates") / "ssl_patch.py.j2").read_text("utf-8")


def _py_literal(value: object) -> str:
    """A Python literal for str/int/bool values: what the template writes."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return repr(value)
    raise PatchError(f"ssl patch template: cannot render {type(value).__name__} {value!r}")


def _check_fallback(fallback: Iterable[Sequence[str]], target_os: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for item in fallback:
        try:
            kind, path = item
        except (TypeError, ValueError):
            raise PatchError(f"fallback entry {item!r}: expected (kind, path)") from None
        if kind not in ("file", "dir"):
            raise PatchError(f"fallback entry {item!r}: kind must be 'file' or 'dir'")
        if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
            raise PatchError(f"fallback entry {item!r}: path must be an absolute POSIX path",
                             hint="fallback locations come from pybuildssl/data/layouts.toml")
        out.append((kind, path))
    if out and target_os == "windows":
        raise PatchError("a Windows target has no file fallback",
                         hint="Windows trust is the certificate store; see windows_mode")
    return out


def render_patch(target_os: str, *, fallback: Iterable[Sequence[str]] | None = None,
                 windows_mode: str = "enumeration") -> str:
    """The block appended to ssl.py for ``target_os``, markers included.

    ``fallback`` defaults to the layout table's list for the OS (none for
    Windows).  The result ends with a newline and always compiles.
    """
    import jinja2

    if target_os not in TARGET_OSES:
        raise PatchError(f"unknown target os {target_os!r}",
                         hint="valid: " + ", ".join(TARGET_OSES))
    if windows_mode not in WINDOWS_MODES:
        raise PatchError(f"unknown windows_mode {windows_mode!r}",
                         hint="valid: " + ", ".join(WINDOWS_MODES))
    if fallback is None:
        fallback = [] if target_os == "windows" else layouts.load().fallback(target_os)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters["py"] = _py_literal
    block = env.from_string(_template_text()).render(
        target_os=target_os,
        patch_version=PATCH_VERSION,
        fallback=_check_fallback(fallback, target_os),
        windows_mode=windows_mode,
    )
    if not (block.startswith(START_MARKER + "\n") and block.endswith(END_MARKER + "\n")):
        raise PatchError("ssl patch template: the block must start and end with its markers")
    compile(block, "<pybuildssl ssl patch>", "exec")
    return block


# ----------------------------------------------------------------- text ----

def _line_start(text: str, marker: str, start: int = 0) -> int:
    """Index of the first line that is exactly ``marker`` (-1 if none)."""
    pattern = re.compile("^" + re.escape(marker) + r"\r?$", re.MULTILINE)
    m = pattern.search(text, start)
    return m.start() if m else -1


def is_patched(text: str) -> bool:
    return _line_start(text, START_MARKER) >= 0


def _block_span(text: str) -> tuple[int, int] | None:
    """(start, stop) of the marked block: its first line through the newline after its last."""
    start = _line_start(text, START_MARKER)
    if start < 0:
        return None
    end = _line_start(text, END_MARKER, start)
    if end < 0:
        raise PatchError("ssl.py holds a pybuildssl start marker but no end marker",
                         hint="the patch block was damaged by hand; restore ssl.py from "
                              f"ssl.py{BACKUP_SUFFIX} or reinstall Python")
    nl = text.find("\n", end)
    return start, (len(text) if nl < 0 else nl + 1)


def extract_block(text: str) -> str | None:
    """The block in ``text`` exactly as :func:`render_patch` made it (None if unpatched)."""
    span = _block_span(text)
    return None if span is None else text[span[0]:span[1]]


def strip_from_text(text: str) -> str:
    """``text`` without the marked block: exactly what :func:`apply_to_text` was given."""
    span = _block_span(text)
    if span is None:
        return text
    start, stop = span
    if start > 0 and text[start - 1] == "\n":
        start -= 1  # the separator apply_to_text() added
    rest = text[:start] + text[stop:]
    if is_patched(rest):
        raise PatchError("ssl.py holds more than one pybuildssl block",
                         hint=f"restore ssl.py from ssl.py{BACKUP_SUFFIX} or reinstall Python")
    return rest


def check_ssl_py(text: str, where: str = "ssl.py") -> None:
    """Raise PatchError unless ``text`` looks like CPython's ssl.py."""
    missing = [why for needle, why in _SSL_PY_LANDMARKS if needle not in text]
    if missing:
        raise PatchError(f"{where} does not look like CPython's ssl.py: {missing[0]}",
                         hint=f"pybuildssl patches the Lib/ssl.py of {supported_range()} only; "
                              "check the path, or that the file was not replaced")


def apply_to_text(ssl_py: str, block: str) -> str:
    """``ssl_py`` with ``block`` at its end, replacing any earlier block.

    Idempotent; ``strip_from_text(apply_to_text(t, b)) == strip_from_text(t)``
    byte for byte.
    """
    if not (block.startswith(START_MARKER + "\n") and block.rstrip("\n").endswith(END_MARKER)):
        raise PatchError("not a pybuildssl patch block (markers missing)")
    base = strip_from_text(ssl_py)
    check_ssl_py(base)
    if not block.endswith("\n"):
        block += "\n"
    return base + "\n" + block


# ------------------------------------------------------------ locations ----

#: The CPython lines (major, minor) whose Lib/ssl.py the patch is written for, oldest and
#: newest.  Each line's ssl.py at its release tag is a test fixture (tests/fixtures/ssl_py/).
SUPPORTED_LINES = ((3, 9), (3, 15))
_STDLIB_DIR_RE = re.compile(r"python(?P<major>\d+)\.(?P<minor>\d+)t?")


def supported_range() -> str:
    """The supported lines as text: "CPython 3.9 to 3.15"."""
    (a, b), (c, d) = SUPPORTED_LINES
    return f"CPython {a}.{b} to {c}.{d}"


def _stdlib_ssl_pys(prefix: Path) -> list[tuple[Path, tuple[int, int] | None]]:
    """(ssl.py, line) of every stdlib a prefix holds; line None for a Windows ``Lib/``."""
    roots = [prefix]
    if (prefix / "install").is_dir():
        roots.append(prefix / "install")
    found: list[tuple[Path, tuple[int, int] | None]] = []
    for root in roots:
        lib = root / "lib"
        if lib.is_dir():
            for d in sorted(lib.iterdir()):
                m = _STDLIB_DIR_RE.fullmatch(d.name)
                if m and (d / "ssl.py").is_file():
                    found.append((d / "ssl.py", (int(m["major"]), int(m["minor"]))))
        if (root / "Lib" / "ssl.py").is_file():
            found.append((root / "Lib" / "ssl.py", None))
    # Case-insensitive file systems see lib/ and Lib/ as one directory.
    unique: dict[tuple[int, int], tuple[Path, tuple[int, int] | None]] = {}
    for p, line in found:
        st = p.stat()
        unique.setdefault((st.st_dev, st.st_ino), (p, line))
    return list(unique.values())


def _supported(line: tuple[int, int] | None) -> bool:
    return line is None or SUPPORTED_LINES[0] <= line <= SUPPORTED_LINES[1]


def find_ssl_py(prefix: Path) -> list[Path]:
    """Every stdlib ssl.py of a supported line in a distribution prefix.

    Accepts a ``make install`` or pyenv prefix (``lib/pythonX.Y/ssl.py``,
    free-threaded ``lib/pythonX.Yt`` too), a Windows layout (``Lib/ssl.py``),
    and python-build-standalone's ``python/`` directory (``install/...``).
    """
    return [p for p, line in _stdlib_ssl_pys(prefix) if _supported(line)]


def unsupported_ssl_py(prefix: Path) -> list[tuple[Path, str]]:
    """(ssl.py, "X.Y") of every stdlib in ``prefix`` whose line the patch does not support."""
    return [(p, f"{line[0]}.{line[1]}") for p, line in _stdlib_ssl_pys(prefix)
            if line is not None and not _supported(line)]


def detect_target_os(ssl_py: Path) -> str:
    """The OS a distribution was built for, read from its stdlib directory."""
    if ssl_py.parent.name == "Lib":
        return "windows"
    names = [p.name for p in ssl_py.parent.glob("_sysconfigdata_*.py")]
    if any("darwin" in n for n in names):
        return "macos"
    if any("linux" in n for n in names):
        return "linux"
    for os_name in ("freebsd", "openbsd", "netbsd"):
        if any(os_name in n for n in names):
            return os_name
    return layouts.host_os()


# ---------------------------------------------------------------- files ----

def _sha256(data: bytes) -> str:
    return sha256_bytes(data)


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _atomic_write(path: Path, data: bytes, like: os.stat_result | None = None) -> None:
    """Write via a temp file in the same directory and os.replace; keep mode (and owner)."""
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if like is not None:
            os.chmod(tmp, like.st_mode & 0o7777)
            if hasattr(os, "chown"):
                try:
                    os.chown(tmp, like.st_uid, like.st_gid)
                except OSError:
                    pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _diff(path: Path, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True),
        fromfile=f"{path} (current)", tofile=f"{path} (new)"))


def patch_source_tree(cpython_src_dir: str | os.PathLike, target_os: str, *,
                      fallback: Iterable[Sequence[str]] | None = None,
                      windows_mode: str = "enumeration", log: Log | None = None) -> Path:
    """Patch ``Lib/ssl.py`` of a CPython source tree in place (build time).

    Idempotent.  No backup: a source tree is extracted afresh for each build.
    """
    log = log or (lambda _msg: None)
    ssl_py = Path(cpython_src_dir) / "Lib" / "ssl.py"
    if not ssl_py.is_file():
        raise PatchError(f"no Lib/ssl.py under {cpython_src_dir}",
                         hint="give the top directory of an extracted CPython source tree")
    block = render_patch(target_os, fallback=fallback, windows_mode=windows_mode)
    data = ssl_py.read_bytes()
    new = _encode(apply_to_text(_decode(data), block))
    if new != data:
        _atomic_write(ssl_py, new, ssl_py.stat())
        log(f"patched {ssl_py} (trust fallback for {target_os})")
    return ssl_py


@dataclasses.dataclass(frozen=True)
class FileResult:
    """What happened to one ssl.py."""

    ssl_py: Path
    #: "patched", "unchanged" (already patched with these bytes), "reverted",
    #: "not-patched" (revert of a pristine file); with dry_run the same words
    #: say what *would* happen.
    action: str
    original_sha256: str
    result_sha256: str
    backup: Path | None
    record: Path | None
    bytecode: tuple[str, ...] = ()
    diff: str = ""


@dataclasses.dataclass(frozen=True)
class PatchResult:
    prefix: Path
    target_os: str
    revert: bool
    dry_run: bool
    files: tuple[FileResult, ...]

    @property
    def changed(self) -> bool:
        return any(f.action in ("patched", "reverted") for f in self.files)

    @property
    def diff(self) -> str:
        return "".join(f.diff for f in self.files)


def patch_prefix(prefix: str | os.PathLike, *, target_os: str | None = None,
                 revert: bool = False, dry_run: bool = False, log: Log | None = None,
                 fallback: Iterable[Sequence[str]] | None = None,
                 windows_mode: str = "enumeration", refresh_bytecode: bool = True) -> PatchResult:
    """Patch (or with ``revert``, unpatch) every stdlib ssl.py of an installed Python.

    Keeps the pristine file as ``ssl.py.pybuildssl-orig`` and records what it
    did in ``pybuildssl-patch.json`` beside it; refreshes ``ssl.*.pyc`` with
    the distribution's own interpreter (or removes them when it cannot run).
    ``dry_run`` changes nothing: the result's ``diff`` holds what would change.
    """
    log = log or (lambda _msg: None)
    root = Path(prefix)
    if not root.is_dir():
        raise PatchError(f"{root}: no such directory",
                         hint="give the installation prefix (the directory holding bin/ and lib/)")
    files = find_ssl_py(root)
    others = unsupported_ssl_py(root)
    if not files and others:
        path, line = others[0]
        raise PatchError(f"{root} holds Python {line} ({path.relative_to(root)}); "
                         f"pybuildssl patches {supported_range()} only",
                         hint=f"give the prefix of a {supported_range()} installation")
    for path, line in others:
        log(f"skipping {path}: Python {line} is outside {supported_range()}")
    if not files:
        raise PatchError(f"no ssl.py under {root}",
                         hint="give the installation prefix: the directory holding lib/pythonX.Y/ "
                              "(Lib\\ on Windows); for python-build-standalone, python/install")
    if target_os is not None and target_os not in TARGET_OSES:
        raise PatchError(f"unknown target os {target_os!r}", hint="valid: " + ", ".join(TARGET_OSES))
    if fallback is not None:
        fallback = [tuple(x) for x in fallback]
    os_name = target_os or detect_target_os(files[0])
    if fallback is None:
        fallback = [] if os_name == "windows" else layouts.load().fallback(os_name)
    block = "" if revert else render_patch(os_name, fallback=fallback, windows_mode=windows_mode)
    results = []
    for ssl_py in files:
        try:
            if revert:
                results.append(_revert_one(root, ssl_py, dry_run, log, refresh_bytecode))
            else:
                results.append(_patch_one(root, ssl_py, block, os_name, fallback, windows_mode,
                                          dry_run, log, refresh_bytecode))
        except OSError as e:
            where = e.filename or ssl_py
            raise PatchError(f"cannot {'revert' if revert else 'patch'} {ssl_py}: "
                             f"{where}: {e.strerror or e}",
                             hint="run as the owner of the installation (or with sudo); "
                                  "files already written are consistent: run the same "
                                  "command again") from None
    return PatchResult(prefix=root, target_os=os_name, revert=revert, dry_run=dry_run,
                       files=tuple(results))


def _patch_one(root: Path, ssl_py: Path, block: str, os_name: str,
               fallback: list[tuple[str, str]], windows_mode: str,
               dry_run: bool, log: Log, refresh_bytecode: bool) -> FileResult:
    backup = ssl_py.with_name(ssl_py.name + BACKUP_SUFFIX)
    record = ssl_py.with_name(RECORD_NAME)
    st = ssl_py.stat()
    current = ssl_py.read_bytes()
    text = _decode(current)
    pristine = _encode(strip_from_text(text))
    check_ssl_py(_decode(pristine), str(ssl_py))
    new = _encode(apply_to_text(text, block))
    action = "unchanged" if new == current else "patched"
    diff = _diff(ssl_py, text, _decode(new)) if new != current else ""
    if dry_run:
        log(f"would patch {ssl_py}" if action == "patched" else f"{ssl_py} is already patched")
        return FileResult(ssl_py, action, _sha256(pristine), _sha256(new), backup, record, (), diff)

    if backup.exists():
        if backup.read_bytes() != pristine:
            # ssl.py was replaced since the last patch (a reinstall or an upgrade):
            # what is there now, without our block, is the original to keep.
            log(f"{ssl_py} changed since it was last patched: refreshing {backup.name}")
            _atomic_write(backup, pristine, st)
    else:
        _atomic_write(backup, pristine, st)
    if action == "unchanged" and _record_matches(record, new):
        log(f"{ssl_py} is already patched")
        return FileResult(ssl_py, action, _sha256(pristine), _sha256(new), backup, record, (), "")
    if action == "patched":
        _atomic_write(ssl_py, new, st)
        log(f"patched {ssl_py}")
    notes = _refresh_bytecode(root, ssl_py, log) if refresh_bytecode else ()
    payload = {
        "tool": "pybuildssl",
        "patch_version": PATCH_VERSION,
        "time": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "ssl_py": ssl_py.name,
        "backup": backup.name,
        "target_os": os_name,
        "original_sha256": _sha256(pristine),
        "patched_sha256": _sha256(new),
        "fallback": [list(x) for x in fallback],
        "bytecode": list(notes),
    }
    if os_name == "windows":
        payload["windows_mode"] = windows_mode
    _atomic_write(record, (json.dumps(payload, indent=2) + "\n").encode("utf-8"))
    return FileResult(ssl_py, action, _sha256(pristine), _sha256(new), backup, record,
                      tuple(notes), diff)


def _record_matches(record: Path, patched: bytes) -> bool:
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("patched_sha256") == _sha256(patched)


def _revert_one(root: Path, ssl_py: Path, dry_run: bool, log: Log,
                refresh_bytecode: bool) -> FileResult:
    backup = ssl_py.with_name(ssl_py.name + BACKUP_SUFFIX)
    record = ssl_py.with_name(RECORD_NAME)
    st = ssl_py.stat()
    current = ssl_py.read_bytes()
    text = _decode(current)
    if not is_patched(text):
        log(f"{ssl_py} is not patched")
        if not dry_run:
            for leftover in (backup, record):
                if leftover.exists():
                    leftover.unlink()
        sha = _sha256(current)
        return FileResult(ssl_py, "not-patched", sha, sha, None, None)
    stripped = _encode(strip_from_text(text))
    if backup.exists():
        original = backup.read_bytes()
        if original != stripped:
            raise PatchError(
                f"{backup} does not match {ssl_py} without its pybuildssl block",
                hint=f"one of them was edited; inspect both, then move the one to keep to {ssl_py}")
    else:
        log(f"{backup.name} is missing: removing the block from {ssl_py} instead")
        original = stripped
    diff = _diff(ssl_py, text, _decode(original))
    if dry_run:
        log(f"would revert {ssl_py}")
        return FileResult(ssl_py, "reverted", _sha256(original), _sha256(original), backup,
                          record, (), diff)
    _atomic_write(ssl_py, original, st)
    log(f"reverted {ssl_py}")
    for leftover in (backup, record):
        if leftover.exists():
            leftover.unlink()
    notes = _refresh_bytecode(root, ssl_py, log) if refresh_bytecode else ()
    return FileResult(ssl_py, "reverted", _sha256(original), _sha256(original), None, None,
                      tuple(notes), diff)


# ------------------------------------------------------------- bytecode ----

_PYC_RE = re.compile(r"ssl\.(?P<tag>[A-Za-z0-9_-]+?)(?:\.opt-(?P<opt>[12]))?\.pyc")

#: Runs inside the distribution's own interpreter: recompiles ssl.py for the
#: given optimisation levels, keeping each .pyc's invalidation mode.
_COMPILE_SCRIPT = """\
import py_compile, sys
if sys.implementation.cache_tag != sys.argv[1]:
    sys.exit(3)
for spec in sys.argv[3:]:
    opt, mode = spec.split(":")
    py_compile.compile(sys.argv[2], doraise=True, optimize=int(opt),
                       invalidation_mode=py_compile.PycInvalidationMode[mode])
"""


def _pyc_mode(pyc: Path) -> str:
    """The invalidation mode of a .pyc, from its header flags (PEP 552)."""
    try:
        with open(pyc, "rb") as f:
            flags = int.from_bytes(f.read(8)[4:8], "little")
    except OSError:
        return "TIMESTAMP"
    if flags & 0b1:
        return "CHECKED_HASH" if flags & 0b10 else "UNCHECKED_HASH"
    return "TIMESTAMP"


def _interpreters(root: Path, ssl_py: Path) -> list[Path]:
    libdir = ssl_py.parent
    base = libdir.parent.parent  # PREFIX/lib/pythonX.Y -> PREFIX
    names = []
    if libdir.name.startswith("python3"):
        names.append(base / "bin" / libdir.name)  # bin/python3.12 (or python3.13t)
        names.append(base / "bin" / "python3")
    else:  # Windows layout: PREFIX/Lib
        names.append(libdir.parent / "python.exe")
    return [p for p in names if p.is_file() and os.access(p, os.X_OK)]


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def _refresh_bytecode(root: Path, ssl_py: Path, log: Log) -> list[str]:
    """Bring ssl.*.pyc in line with ssl.py: recompile, or remove when that fails."""
    cache = ssl_py.parent / "__pycache__"
    pycs = sorted(p for p in cache.glob("ssl.*.pyc") if _PYC_RE.fullmatch(p.name)) \
        if cache.is_dir() else []
    if not pycs:
        return []
    by_tag: dict[str, list[Path]] = {}
    for p in pycs:
        by_tag.setdefault(_PYC_RE.fullmatch(p.name).group("tag"), []).append(p)
    notes: list[str] = []
    for tag, group in sorted(by_tag.items()):
        specs = []
        for p in group:
            opt = _PYC_RE.fullmatch(p.name).group("opt") or "0"
            specs.append(f"{opt}:{_pyc_mode(p)}")
        done = False
        for exe in _interpreters(root, ssl_py):
            try:
                proc = subprocess.run(
                    [str(exe), "-I", "-S", "-c", _COMPILE_SCRIPT, tag, str(ssl_py), *specs],
                    env=_clean_env(), stdin=subprocess.DEVNULL, capture_output=True,
                    text=True, timeout=120)
            except (OSError, subprocess.SubprocessError) as e:
                log(f"cannot run {exe}: {e}")
                continue
            if proc.returncode == 0:
                names = ", ".join(p.name for p in group)
                notes.append(f"recompiled {names} with {exe}")
                log(notes[-1])
                done = True
                break
            if proc.returncode != 3:
                log(f"{exe} could not compile {ssl_py}: {proc.stderr.strip()[-500:]}")
        if not done:
            for p in group:
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass
            notes.append("removed stale " + ", ".join(p.name for p in group)
                         + " (no interpreter of this prefix could recompile them)")
            log(notes[-1])
    return notes
