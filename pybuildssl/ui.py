"""The transcript: what people (and CI logs) read while pybuildssl works.

Kinds of line, as in pypa/build: ``* step``, ``> command``, ``< output``,
``! warning``, ``ERROR ...``.  Timed steps end with ``✓ 12.3s``.  On a tty,
long steps show one live status line (elapsed time and the step's last
output line); otherwise plain lines, at most one every 30 s.  GitHub Actions
gets ``::group::`` / ``::error::`` when ``GITHUB_ACTIONS=true``.  Colour only
on a tty and only when ``NO_COLOR`` is unset.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import Iterator, TextIO

QUIET, NORMAL, VERBOSE = 0, 1, 2


class UI:
    def __init__(self, stream: TextIO | None = None, level: int = NORMAL) -> None:
        self.stream = stream or sys.stderr
        self.level = level
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.color = self.tty and not os.environ.get("NO_COLOR")
        self.github = os.environ.get("GITHUB_ACTIONS") == "true"
        self._live = False

    # -- primitives ---------------------------------------------------------
    def _paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def write(self, line: str) -> None:
        """One plain line (no mark, no colour), after clearing a live line."""
        self.clear_live()
        self.stream.write(line + "\n")
        self.stream.flush()

    def clear_live(self) -> None:
        """End a live (overwritten) progress line before output that is not ours."""
        if self._live:
            self.stream.write("\r\033[K")
            self._live = False

    # -- kinds of line -----------------------------------------------------
    def step(self, text: str) -> None:
        if self.level >= NORMAL:
            self.write(self._paint("* ", "1;34") + text)

    def command(self, argv: list[str] | tuple[str, ...], cwd: str | None = None) -> None:
        if self.level >= VERBOSE:
            import shlex

            where = f"  (in {cwd})" if cwd else ""
            self.write(self._paint("> ", "2") + shlex.join(argv) + where)

    def output(self, line: str) -> None:
        if self.level >= VERBOSE:
            self.write(self._paint("< ", "2") + line.rstrip("\n"))

    def info(self, text: str) -> None:
        if self.level >= NORMAL:
            self.write("  " + text)

    def warn(self, text: str) -> None:
        if self.github:
            self.write(f"::warning::{text}")
        self.write(self._paint("! ", "1;33") + text)

    def error(self, text: str) -> None:
        if self.github:
            self.write("::error::" + text.replace("\n", "%0A"))
        self.write(self._paint("ERROR ", "1;31") + text)

    def done(self, text: str, seconds: float) -> None:
        if self.level >= NORMAL:
            self.write(f"  {self._paint('✓', '32') if self.color else 'ok'} {text} {seconds:.1f}s")

    # -- progress ------------------------------------------------------------
    def live(self, text: str) -> None:
        """A status line that the next line replaces (tty only)."""
        if self.tty and self.level >= NORMAL:
            width = 100
            self.stream.write("\r\033[K" + text[:width])
            self.stream.flush()
            self._live = True

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        if self.github:
            self.write(f"::group::{title}")
        try:
            yield
        finally:
            if self.github:
                self.write("::endgroup::")

    @contextmanager
    def timed(self, title: str) -> Iterator[None]:
        self.step(title)
        start = time.monotonic()
        with self.group(title):
            yield
        self.done(title, time.monotonic() - start)


class Heartbeat:
    """Progress for a long step: live line on a tty, a plain line every 30 s otherwise."""

    def __init__(self, ui: UI, label: str, every: float = 30.0) -> None:
        self.ui, self.label, self.every = ui, label, every
        self.start = time.monotonic()
        self.last_plain = self.start
        self.last_live = 0.0

    def tick(self, last_line: str = "") -> None:
        now = time.monotonic()
        elapsed = now - self.start
        if self.ui.tty:
            if now - self.last_live >= 0.2:
                self.last_live = now
                self.ui.live(f"  {self.label} {elapsed:5.0f}s  {last_line.strip()}")
        elif now - self.last_plain >= self.every:
            self.last_plain = now
            self.ui.info(f"{self.label}: still running after {elapsed:.0f}s; last output: {last_line.strip()[:120]}")


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
