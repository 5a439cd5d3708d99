"""The trust patch on each CPython line CI can run: the real interpreters, not the host's.

For every stock CPython ci/stock_pythons.py builds (3.9, 3.11, 3.13):

* the patched Lib/ssl.py fixture of that line (tests/fixtures/ssl_py/) compiles with that
  line's own interpreter (its real grammar);
* the unit tests of the patch logic (what the block decides at run time, on real files,
  and the fixtures of every line) run under that interpreter, in a virtualenv made on it
  with the test dependencies from the package index.

Lines without an interpreter here (3.10, 3.12, 3.14, 3.15) get the host's
``ast.parse(feature_version=...)`` check only (tests/unit/test_ssl_py_lines.py).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from _interpreters import MINORS, interpreter, stock_prefix
from pybuildssl import _toml, cachelock, trust

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "ssl_py"
SOURCES = _toml.loads((FIXTURES / "SOURCES.toml").read_text(encoding="utf-8"))["fixture"]
LOGIC_TESTS = ("tests/unit/test_trust_runtime.py", "tests/unit/test_ssl_py_lines.py", "tests/unit/test_trust.py")
#: What those tests import besides the stdlib (pyproject's runtime and test dependencies).
#: The index here serves no Requires-Python data: 3.9 is given versions that still support it.
TEST_REQUIREMENTS = ("pytest>=7", "pytest<9; python_version < '3.10'", "jinja2>=3.0", "cryptography>=41",
                     "tomli>=1.1; python_version < '3.11'")
PIP = "pip<25.3"  # the newest pip that runs on 3.9


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(extra)
    return env


def _fixture_of(minor: str):
    found = [s for s in SOURCES if s["line"] == minor]
    assert found, f"no ssl.py fixture of CPython {minor} in {FIXTURES}"
    return found[0]


@pytest.mark.parametrize("minor", MINORS)
def test_patched_fixture_compiles_with_that_lines_interpreter(minor, tmp_path):
    entry = _fixture_of(minor)
    patched = trust.apply_to_text((FIXTURES / entry["file"]).read_text(encoding="utf-8"),
                                  trust.render_patch("linux"))
    target = tmp_path / "ssl.py"
    target.write_text(patched, encoding="utf-8")
    exe = interpreter(stock_prefix(minor))
    code = ("import sys; src = open(sys.argv[1], encoding='utf-8').read(); "
            "compile(src, sys.argv[1], 'exec'); print(sys.version_info[:2])")
    proc = subprocess.run([str(exe), "-I", "-c", code, str(target)], capture_output=True, text=True,
                          env=_clean_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tuple(int(x) for x in minor.split(".")))


def _test_venv(minor: str) -> Path:
    """A virtualenv on stock CPython ``minor`` with the test requirements (cached)."""
    cache = Path(os.environ.get("PYBUILDSSL_CACHE") or Path.home() / ".cache" / "pybuildssl")
    prefix = stock_prefix(minor)
    venv = cache / "stock-venvs" / prefix.name
    with cachelock.held(cache, f"stock-venv-{prefix.name}"):
        ready = venv / ".requirements"
        if ready.is_file() and ready.read_text() == "\n".join(TEST_REQUIREMENTS):
            return venv
        subprocess.run([str(interpreter(prefix)), "-m", "venv", "--clear", str(venv)], check=True,
                       env=_clean_env(), timeout=300)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        # 3.9.2's bundled pip (20.2) stops at a package's newest release instead of one for 3.9.
        subprocess.run([*pip, "--upgrade", PIP], check=True, env=_clean_env(), timeout=900)
        subprocess.run([*pip, *TEST_REQUIREMENTS], check=True, env=_clean_env(), timeout=900)
        ready.write_text("\n".join(TEST_REQUIREMENTS))
    return venv


@pytest.mark.parametrize("minor", MINORS)
def test_patch_logic_unit_tests_pass_on_that_line(minor, tmp_path):
    venv = _test_venv(minor)
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"--basetemp={tmp_path / 'pytest'}", *LOGIC_TESTS],
        cwd=REPO, capture_output=True, text=True, timeout=1800,
        env=_clean_env(PYTHONPATH=str(REPO)))
    tail = proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    assert " passed" in proc.stdout and " failed" not in proc.stdout, tail
    version = subprocess.run([str(venv / "bin" / "python"), "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=60).stdout.strip()
    assert version == str(tuple(int(x) for x in minor.split(".")))
