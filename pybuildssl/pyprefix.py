"""Facts of an installed CPython prefix that build and verify both read.

A leaf: stdlib only.  Where the interpreter binary is, and the shape of a
``_sysconfigdata`` file that installers (uv) can parse as data.
"""

from __future__ import annotations

import re
from pathlib import Path

SYSCONFIGDATA_HEADER = "# system configuration generated and used by the sysconfig module\n"


def find_version_dir(prefix: Path) -> Path:
    libs = sorted(p for p in (prefix / "lib").glob("python3.*") if (p / "os.py").is_file())
    if not libs:
        raise FileNotFoundError(f"no lib/python3.X/os.py under {prefix}")
    return libs[-1]


def interpreter(prefix: Path) -> Path:
    """The real interpreter binary (bin/python3.X), not the python3 symlink."""
    ver = find_version_dir(prefix).name
    for name in (ver, ver + "t"):
        p = prefix / "bin" / name
        if p.is_file() and not p.is_symlink():
            return p
    return prefix / "bin" / ver


def check_sysconfigdata(text: str) -> dict:
    """The values of a ``_sysconfigdata`` file that installers can parse as data; ValueError if not.

    The shape uv reads: CPython's header comment, then ``build_time_vars = {...}`` whose keys are
    strings and values strings or integers, with no escape but ``\\\\``, ``\\'`` and ``\\"``.
    """
    import ast

    if not text.startswith(SYSCONFIGDATA_HEADER):
        raise ValueError("the first line is not CPython's header comment")
    body = text[len(SYSCONFIGDATA_HEADER):]
    try:
        tree = ast.parse(body)
    except SyntaxError as e:
        raise ValueError(f"not valid Python: {e}") from None
    if (len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assign) or not body.startswith("build_time_vars")
            or [getattr(t, "id", None) for t in tree.body[0].targets] != ["build_time_vars"]):
        raise ValueError("not a single assignment to build_time_vars")
    try:
        data = ast.literal_eval(tree.body[0].value)
    except ValueError:
        raise ValueError("build_time_vars is not a literal (it holds code)") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and type(v) in (str, int) for k, v in data.items()):
        raise ValueError("build_time_vars is not a dict of strings to strings or integers")
    bad = re.search(r"\\[^\\'\"]", re.sub(r"\\\\", "", body))
    if bad:
        raise ValueError(f"an escape installers cannot read: {bad.group(0)!r}")
    return data
