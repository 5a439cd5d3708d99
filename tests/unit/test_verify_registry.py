"""The registry of verify's checks: one entry per finding id, essential ones marked."""

from __future__ import annotations

from pybuildssl.verify import checks
from pybuildssl.verify.report import SKIP, Report, essential


def test_every_id_is_registered_once_with_a_description_and_a_function():
    ids = [c.id for c in checks.REGISTRY]
    assert len(ids) == len(set(ids))
    for c in checks.REGISTRY:
        assert c.description and callable(c.fn), c.id


def test_the_essential_checks_are_the_interpreter_ssl_and_the_handshakes():
    assert {c.id for c in checks.REGISTRY if c.essential} == {
        "python.starts", "ssl.import", "ssl.version", "tls.trusted", "tls.unknown-ca", "tls.wrong-host", "layout.*"}
    assert essential("layout.rhel-config") and essential("tls.trusted")
    assert not essential("manifest.tree") and not essential("not.registered")


def test_a_skipped_essential_check_leaves_the_verdict_unproven():
    r = Report(target="x")
    r.add("layout.rhel", SKIP, "no namespaces")
    r.add("hygiene.setuid", SKIP, "n/a")
    assert [f.id for f in r.unproven] == ["layout.rhel"]


def test_verify_imports_no_build_side_module():
    """verify reads the artifact; it reaches build's facts only through neutral leaves."""
    import ast
    from pathlib import Path

    build_side = {"build", "actions", "prerequisites", "relocate", "platforms", "sources", "plan", "components",
                  "toolchain", "recipe",
                  "runner", "doctor", "cli"}
    root = Path(checks.__file__).resolve().parents[1]
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level >= 2 + (path.parent != root):
                names = [node.module] if node.module else [a.name for a in node.names]
                found += [f"{path.name}: {n}" for n in names if n and n.split(".")[0] in build_side]
    assert found == []
