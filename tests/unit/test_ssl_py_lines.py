"""The trust patch against the real Lib/ssl.py of each CPython line (tests/fixtures/ssl_py/).

Each fixture is named after the release tag it comes from; SOURCES.toml says how it was
obtained and pins its sha256.  Here, with the interpreter running the tests: the block
applies, comes off byte for byte, and the patched module parses with the grammar of the
fixture's line (``ast.parse(feature_version=...)``, a check of the syntax that changed
between lines, not a full parser of that line) and compiles.  The compile with an
interpreter of each line itself, where CI can build one (3.9, 3.11, 3.13), and the run of
these tests on each of them, are in tests/integration/test_trust_lines.py.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pytest

from pybuildssl import _toml, trust

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ssl_py"
SOURCES = _toml.loads((FIXTURES / "SOURCES.toml").read_text(encoding="utf-8"))["fixture"]
IDS = [s["tag"] for s in SOURCES]


def _line(entry) -> tuple[int, int]:
    major, minor = entry["line"].split(".")
    return int(major), int(minor)


def test_every_fixture_is_recorded_and_intact():
    on_disk = sorted(p.name for p in FIXTURES.glob("*.ssl.py"))
    assert on_disk == sorted(s["file"] for s in SOURCES)
    for s in SOURCES:
        data = (FIXTURES / s["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == s["sha256"], s["file"]
        assert s["file"] == f"{s['tag']}.ssl.py" and s["tag"].startswith(f"v{s['line']}.")
        assert s["how"] in ("orig", "debian-binary")


def test_fixtures_cover_the_supported_range_ends():
    lines = {_line(s) for s in SOURCES}
    assert min(lines) == trust.SUPPORTED_LINES[0] and max(lines) == trust.SUPPORTED_LINES[1]


@pytest.mark.parametrize("entry", SOURCES, ids=IDS)
@pytest.mark.parametrize("os_name", ["linux", "macos", "windows"])
def test_patch_applies_round_trips_and_compiles(entry, os_name):
    original = (FIXTURES / entry["file"]).read_text(encoding="utf-8")
    trust.check_ssl_py(original, entry["file"])
    block = trust.render_patch(os_name)
    patched = trust.apply_to_text(original, block)
    assert patched.endswith(block) and trust.is_patched(patched)
    assert trust.apply_to_text(patched, block) == patched
    assert trust.strip_from_text(patched) == original
    ast.parse(patched, entry["file"], feature_version=_line(entry))
    compile(patched, entry["file"], "exec")


@pytest.mark.parametrize("entry", SOURCES, ids=IDS)
def test_the_block_overrides_what_each_line_defines(entry):
    """The block replaces get_default_verify_paths and SSLContext.set_default_verify_paths,
    and the line's load_default_certs() goes through the latter (what makes
    create_default_context() use the fallback)."""
    tree = ast.parse((FIXTURES / entry["file"]).read_text(encoding="utf-8"), feature_version=_line(entry))
    top = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert "get_default_verify_paths" in top and "create_default_context" in top
    ctx = top["SSLContext"]
    assert [ast.unparse(b) for b in ctx.bases] == ["_SSLContext"]
    methods = {n.name: n for n in ctx.body if isinstance(n, ast.FunctionDef)}
    calls = [ast.unparse(c.func) for c in ast.walk(methods["load_default_certs"]) if isinstance(c, ast.Call)]
    assert "self.set_default_verify_paths" in calls
