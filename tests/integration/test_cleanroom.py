"""The README's two commands on a machine that has nothing (ci/cleanroom.py).

A fresh ``debootstrap --variant=minbase bookworm`` root, provisioned only with
the host's locally added CAs (as a fleet's base image is), a ``git archive`` of
the checkout, and under ``chroot`` (where ``/`` is not a mount point):
``bash ci/main.sh`` must end with a verified artifact with no skipped check,
and ``bash ci/test.sh -k test_tls_harness`` must pass.  Shares nothing with the
host's cache: no sources, no virtualenv, no components.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys

import pytest

from _helpers import REPO

pytestmark = pytest.mark.integration

_spec = importlib.util.spec_from_file_location("cleanroom", REPO / "ci" / "cleanroom.py")
cleanroom = importlib.util.module_from_spec(_spec)
sys.modules["cleanroom"] = cleanroom
_spec.loader.exec_module(cleanroom)


@pytest.fixture(scope="module")
def cleanroom_run(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("environment gate: not root (debootstrap and chroot need root)")
    work = tmp_path_factory.mktemp("cleanroom")
    res = cleanroom.run(work)
    print(f"cleanroom seconds: {json.dumps(res['seconds'])}", file=sys.stderr)
    return work, res


def test_both_readme_commands_work_on_a_fresh_debian_12(cleanroom_run):
    _, res = cleanroom_run
    assert cleanroom.judge(res) == [], res["tail"]
    report = res["main"]["verify"]
    ids = {f["id"]: f["status"] for f in report["findings"]}
    # the central evidence ran inside the chroot: real handshakes, not skipped
    assert ids["tls.trusted"] == ids["tls.unknown-ca"] == ids["tls.wrong-host"] == "pass", ids
    assert report["counts"]["skip"] == 0 and report["verdict"] == "pass"
    assert res["cas"], "the host's local CAs were provisioned (this network inspects TLS)"


def test_the_sandbox_in_a_chroot_on_a_shared_mount_leaks_no_mount(cleanroom_run):
    """In a chroot `/` is not a mount point, so the sandbox makes its namespace private another
    way; were it to leave propagation as it found it, its tmpfs mounts would appear outside."""
    work, res = cleanroom_run
    if cleanroom.judge(res):
        pytest.fail("the clean room did not get a working pybuildssl into its root")
    out = cleanroom.propagation_check(work)
    assert out.get("control") == 1, out  # the control leaks: the check can see a leak
    assert out.get("sandbox-exit") == 0 and out.get("sandbox") == 0, out


def test_a_verify_that_cannot_handshake_is_not_ok():
    """The judge itself bites: a report with skipped TLS checks is a problem."""
    res = {"main_exit": 0, "test_exit": 0, "selection": "x",
           "main": {"verify": {"verdict": "incomplete", "findings": [
               {"id": "tls.trusted", "status": "skip", "detail": "mount namespaces unavailable"}]}}}
    assert cleanroom.judge(res) == ["verify verdict incomplete",
                                    "tls.trusted: skip (mount namespaces unavailable)"]
