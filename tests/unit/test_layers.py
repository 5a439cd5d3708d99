"""The import graph follows the declared layers (docs/architecture.md), and has no circle.

Data flows one way: recipe -> plan -> build -> package (manifest) -> verify.
A module may import modules of its own layer or below; the build side and the
verify side (with doctor) are siblings that never import each other; leaves
import nothing of pybuildssl above them.  Read from the source with ``ast``:
nothing is imported to find out.
"""

from __future__ import annotations

import ast
from pathlib import Path


PKG = Path(__file__).resolve().parents[2] / "pybuildssl"

#: (layer, side) of each module, by the longest matching name prefix.  Sides: "" (shared),
#: "build" (recipe -> plan -> artifact) and "inspect" (verify, doctor: read an artifact or a Python).
LAYERS: dict[str, tuple[int, str]] = {
    # 0: leaves, stdlib only (or one another)
    "errors": (0, ""), "_toml": (0, ""), "hashing": (0, ""), "cache": (0, ""), "cachelock": (0, ""),
    "fsutil": (0, ""), "ui": (0, ""), "steps": (0, ""), "shipped": (0, ""), "relocate": (0, ""),
    "archive": (0, ""), "package": (0, ""), "manifest": (0, ""), "binfmt": (0, ""), "targets": (0, ""),
    "pyprefix": (0, ""),
    "verify.probe": (0, ""), "verify.report": (0, ""),
    "verify.hashed": (0, ""),
    "wine": (0, ""), "embedzip": (0, ""), "package_zip": (0, ""), "verify.pe": (0, ""),
    # 1: facts read from data files; the subprocess door
    "layouts": (1, ""), "recipe": (1, ""), "recipe_schema": (1, ""), "recipe_source": (1, ""), "pins": (1, ""), "runner": (1, ""),
    "toolchain": (1, ""),
    # 2: the trust patch (text in, text out; files), sources, the probe's host side
    "trust": (2, ""), "sources": (2, ""), "probing": (2, ""), "trust_embed": (2, ""),
    # 3..5: the build side
    "components": (3, "build"), "platforms": (3, "build"), "plan": (4, "build"), "actions": (5, "build"),
    "prerequisites": (5, "build"), "windows_assemble": (5, "build"), "build": (6, "build"), "sbom": (5, "build"), "publish": (6, "build"),
    "ci": (6, "build"),
    # 3..6: the inspecting side
    "verify": (4, "inspect"), "doctor": (5, "inspect"),
    # 9: the command line, above everything
    "cli": (9, ""), "cli_args": (9, ""), "__main__": (9, ""), "": (9, ""),
}


def modules(pkg: Path = PKG) -> dict[str, Path]:
    out = {}
    for p in sorted(pkg.rglob("*.py")):
        rel = p.relative_to(pkg).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = p
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """pybuildssl modules ``name`` imports (relative or absolute; ``from . import x`` counts x)."""
    pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    if name == "":
        pkg = []
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[:len(pkg) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("pybuildssl"):
                mod = node.module[len("pybuildssl."):] if node.module != "pybuildssl" else ""
            else:
                continue
            cands = [mod] + [f"{mod}.{a.name}" if mod else a.name for a in node.names]
        elif isinstance(node, ast.Import):
            cands = [a.name[len("pybuildssl."):] for a in node.names if a.name.startswith("pybuildssl.")]
        else:
            continue
        found |= {c for c in cands if c in known and c != name}
    return found


def layer(name: str) -> tuple[int, str]:
    parts = name.split(".")
    for i in range(len(parts), -1, -1):
        key = ".".join(parts[:i])
        if key in LAYERS:
            return LAYERS[key]
    raise AssertionError(f"pybuildssl.{name} has no layer: add it to LAYERS and docs/architecture.md")


def graph(pkg: Path = PKG) -> dict[str, set[str]]:
    mods = modules(pkg)
    return {n: imports(n, p, set(mods)) for n, p in mods.items()}


def test_every_module_has_a_layer():
    for name in modules():
        layer(name)


def upward(g: dict[str, set[str]]) -> list[str]:
    bad = []
    for a, targets in g.items():
        la, sa = layer(a)
        for b in targets:
            if b == "" or a.startswith(b + ".") or b.startswith(a + "."):
                continue  # a package and its own submodules
            lb, sb = layer(b)
            if lb > la or (sa and sb and sa != sb):
                bad.append(f"pybuildssl.{a} (layer {la} {sa or 'shared'}) imports pybuildssl.{b} (layer {lb} {sb or 'shared'})")
    return bad


def circles(g: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            # a package importing its submodules and back is one module's business
            if len(comp) > 1 and len({c.split(".")[0] for c in comp}) > 1:
                found.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    return found


def test_no_import_runs_up_the_layers_or_across_the_sides():
    bad = upward(graph())
    assert not bad, "\n".join(bad)


def test_no_circle():
    found = circles(graph())
    assert not found, f"import circles: {found}"


def test_the_checks_bite(tmp_path):
    """The old shape, laid out as files: the circle and the upward imports are found."""
    pkg = tmp_path / "pybuildssl"
    (pkg / "platforms").mkdir(parents=True)
    (pkg / "verify").mkdir()
    files = {
        "__init__.py": "", "steps.py": "",
        "plan.py": "from . import components, platforms\n",
        "components.py": "from .plan import Step\n",                      # the circle, and upward
        "platforms/__init__.py": "from . import linux\n",
        "platforms/linux.py": "from ..plan import Step\n",
        "build.py": "from .verify import elf\n",                          # build reaching into verify
        "verify/__init__.py": "", "verify/elf.py": "",
        "verify/checks.py": "from pybuildssl import platforms\n",         # verify reaching into build
    }
    for rel, text in files.items():
        (pkg / rel).write_text(text)
    g = graph(pkg)
    bad = upward(g)
    assert any("pybuildssl.components (layer 3 build) imports pybuildssl.plan" in b for b in bad)
    assert any(b.startswith("pybuildssl.build ") and "pybuildssl.verify " in b for b in bad)
    assert any(b.startswith("pybuildssl.verify.checks ") and "pybuildssl.platforms " in b for b in bad)
    assert ["components", "plan"] in [c for c in circles(g) if "plan" in c] or \
        any({"components", "plan"} <= set(c) for c in circles(g))
