"""The one subprocess door.

Every command pybuildssl runs goes through :class:`Runner`: it echoes the
command to the transcript, writes all output to the step's own log file,
shows progress, and turns a failure into a :class:`BuildError` carrying the
step name, the last lines of the log and the log's path.  A missing tool is a
clear error, not a traceback.  Tests replace it with a fake.
"""

from __future__ import annotations

import collections
import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import Mapping, Sequence

from .errors import BuildError, PrerequisiteError
from .ui import UI, Heartbeat

TAIL_LINES = 25


def _pump(stream, chunks: "queue.Queue[bytes]") -> None:
    """Copy a pipe into a queue; an empty chunk marks its end."""
    try:
        for chunk in iter(lambda: stream.read1(65536), b""):
            chunks.put(chunk)
    finally:
        chunks.put(b"")


class Runner:
    def __init__(self, ui: UI | None = None) -> None:
        self.ui = ui or UI()

    def run(self, argv: Sequence[str], *, cwd: str | Path | None = None,
            env: Mapping[str, str] | None = None, log: str | Path | None = None,
            step: str = "") -> None:
        """Run ``argv``; output goes to ``log`` (appended).  Raises BuildError on failure."""
        argv = [str(a) for a in argv]
        self.ui.command(argv, str(cwd) if cwd else None)
        label = step or argv[0]
        full_env = dict(os.environ)
        full_env.update(env or {})
        log_path = Path(log) if log else None
        if log_path:
            log_path.parent.mkdir(parents=True, exist_ok=True)
        tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        beat = Heartbeat(self.ui, label)
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise PrerequisiteError(f"step {label!r}: command not found: {argv[0]}",
                                    hint="install it (see `pybuildssl build` prerequisites)") from None
        assert proc.stdout is not None
        logf = open(log_path, "ab") if log_path else None
        try:
            if logf:
                import shlex

                logf.write(f"> {shlex.join(argv)}\n".encode())
                logf.flush()
            self._stream(proc, logf, tail, beat)
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            if logf:
                logf.close()
            self.ui.clear_live()
        if code != 0:
            raise BuildError(
                f"step {label!r} failed (exit code {code})",
                step=label, log_path=str(log_path) if log_path else None,
                log_tail="\n".join(tail),
                hint=f"read the full log: {log_path}" if log_path else None,
            )

    def _stream(self, proc: subprocess.Popen, logf, tail: "collections.deque[str]", beat: Heartbeat) -> None:
        """Copy the command's output to its log and the transcript, line by line, beating while quiet."""
        # A reader thread, not selectors: pipes cannot be selected on Windows.
        chunks: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=_pump, args=(proc.stdout, chunks), daemon=True).start()
        partial = b""
        while True:
            try:
                chunk = chunks.get(timeout=1.0)
            except queue.Empty:
                beat.tick(tail[-1] if tail else "")
                continue
            if not chunk:
                break
            if logf:
                logf.write(chunk)
            partial += chunk
            *lines, partial = partial.split(b"\n")
            for raw in lines:
                text = raw.decode("utf-8", "replace").rstrip("\r")
                tail.append(text)
                self.ui.output(text)
            beat.tick(tail[-1] if tail else "")
        if partial:
            tail.append(partial.decode("utf-8", "replace"))

    def capture(self, argv: Sequence[str], *, cwd: str | Path | None = None,
                env: Mapping[str, str] | None = None, timeout: float = 120,
                input: str | None = None) -> subprocess.CompletedProcess:
        """Run a short command and return its output (no log file, no error on failure)."""
        argv = [str(a) for a in argv]
        self.ui.command(argv, str(cwd) if cwd else None)
        try:
            return subprocess.run(argv, cwd=cwd, env=dict(env) if env is not None else None,
                                  capture_output=True, text=True, timeout=timeout, input=input,
                                  stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(argv, 124, "", f"timed out after {timeout}s: {argv[0]}")
        except FileNotFoundError:
            return subprocess.CompletedProcess(argv, 127, "", f"command not found: {argv[0]}")
