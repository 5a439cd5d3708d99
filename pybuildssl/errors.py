"""The error hierarchy.

Library code raises these; only :mod:`pybuildssl.cli` prints them and turns
them into exit codes.  Every error says *what* is wrong, *where* (file, key,
path) and, through ``hint``, *what to do*.

Exit codes: 0 success, 1 a failed build or check, 2 bad input or usage.
"""

from __future__ import annotations


class PybuildsslError(Exception):
    """Base class.  ``exit_code`` is what the CLI returns."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(PybuildsslError):
    """The command line itself is wrong."""


class RecipeError(PybuildsslError):
    """A recipe file or a --set override is invalid."""


class SourceError(PybuildsslError):
    """A source archive cannot be found, downloaded, checked or extracted."""


class ArchiveError(SourceError):
    """An archive is unsafe or unreadable (members escaping, links out, devices)."""


class BuildError(PybuildsslError):
    """A build step failed.  Carries the step name, the log tail and the log path."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None,
                 step: str | None = None, log_path: str | None = None,
                 log_tail: str = "") -> None:
        super().__init__(message, hint=hint)
        self.step = step
        self.log_path = log_path
        self.log_tail = log_tail


class PrerequisiteError(PybuildsslError):
    """A tool or header the build needs is missing on the build host."""


class PatchError(PybuildsslError):
    """``pybuildssl patch`` cannot patch (or revert) a distribution."""


class VerifyError(PybuildsslError):
    """``verify`` was given something it cannot check at all (exit 2).

    A check that *fails* is not an exception: it is a finding, and the
    verdict turns it into exit code 1.
    """
