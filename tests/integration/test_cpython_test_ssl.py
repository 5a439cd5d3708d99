"""CPython's own test_ssl, run from the built prefix: the patch adds no failure.

The baseline is the same artifact with the pybuildssl block stripped from
ssl.py (byte-identical to upstream's ssl.py), run the same way.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pybuildssl import archive, trust
from pybuildssl.verify.sandbox import clean_env

pytestmark = pytest.mark.integration


def run_test_ssl(python: Path, junit: Path) -> tuple[set[str], int]:
    """(failed or errored test ids, number of tests run)."""
    r = subprocess.run([str(python), "-I", "-m", "test", "test_ssl", "--junit-xml", str(junit)],
                       capture_output=True, text=True, env=clean_env(), timeout=1200)
    assert junit.is_file(), r.stdout[-3000:] + r.stderr[-2000:]
    bad: set[str] = set()
    total = 0
    for case in ET.parse(junit).iter("testcase"):
        total += 1
        if case.find("failure") is not None or case.find("error") is not None:
            bad.add(f"{case.get('classname')}.{case.get('name')}")
    return bad, total


def test_patched_ssl_passes_cpythons_test_ssl_with_no_new_failures(artifact, moved_prefix, manifest, tmp_path):
    stock = archive.extract(artifact, tmp_path / "stock copy")
    ver = manifest["cpython"]["version"].rsplit(".", 1)[0]
    ssl_py = stock / "lib" / f"python{ver}" / "ssl.py"
    ssl_py.write_text(trust.strip_from_text(ssl_py.read_text(encoding="utf-8")), encoding="utf-8")
    for pyc in (ssl_py.parent / "__pycache__").glob("ssl.*.pyc"):
        pyc.unlink()
    assert not trust.is_patched(ssl_py.read_text(encoding="utf-8"))
    interp = manifest["cpython"]["interpreter"]
    patched_bad, patched_total = run_test_ssl(moved_prefix / interp, tmp_path / "patched.xml")
    stock_bad, stock_total = run_test_ssl(stock / interp, tmp_path / "stock.xml")
    assert patched_total > 100 and patched_total == stock_total
    assert patched_bad <= stock_bad, f"new failures with the patch: {sorted(patched_bad - stock_bad)}"
