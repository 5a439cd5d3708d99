"""The subprocess door, run for real with tiny `python -c` commands (fast)."""

from __future__ import annotations

import io
import sys

import pytest

from pybuildssl.errors import BuildError, PrerequisiteError
from pybuildssl.runner import Runner
from pybuildssl.ui import UI

pytestmark = pytest.mark.integration


def test_output_goes_to_the_log_and_failure_carries_the_tail(tmp_path):
    log = tmp_path / "step.log"
    code = "import sys\nfor i in range(40): print('line', i)\nsys.exit(3)"
    with pytest.raises(BuildError) as e:
        Runner(UI(stream=io.StringIO())).run([sys.executable, "-c", code], log=log, step="demo.make")
    assert "step 'demo.make' failed (exit code 3)" in str(e.value)
    assert e.value.log_path == str(log) and e.value.log_tail.splitlines()[-1] == "line 39"
    assert len(e.value.log_tail.splitlines()) == 25
    assert "line 0\n" in log.read_text()


def test_success_and_missing_tool(tmp_path):
    Runner(UI(stream=io.StringIO())).run([sys.executable, "-c", "print('ok')"], log=tmp_path / "a.log")
    assert (tmp_path / "a.log").read_text().endswith("ok\n")
    with pytest.raises(PrerequisiteError) as e:
        Runner(UI(stream=io.StringIO())).run(["no-such-tool-pybuildssl"], step="x")
    assert "command not found: no-such-tool-pybuildssl" in str(e.value)
