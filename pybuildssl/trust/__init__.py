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

import re
from typing import Callable, Iterable, Sequence

from .. import layouts, targets
from ..errors import PatchError
from ..shipped import shipped_dir

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


# Acting on files, re-exported: callers say trust.patch_prefix, trust.find_ssl_py.
from .locations import (SUPPORTED_LINES, detect_target_os, find_ssl_py, supported_range,  # noqa: E402,F401
                        unsupported_ssl_py)
from .prefix import FileResult, PatchResult, patch_prefix, patch_source_tree  # noqa: E402,F401
