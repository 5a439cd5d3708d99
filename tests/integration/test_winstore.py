"""OpenSSL's winstore, wired into the default verify paths, proven under Wine.

OpenSSL is cross-built for Windows with mingw-w64 from the windows recipes'
source pin (here: the tarball ci/fetch_sources.py gives, with its --set
overrides), without and with recipes/patches/openssl-winstore-default-paths.patch,
and ``openssl.exe s_client`` runs under Wine against loopback servers.  The
test CA reaches Wine's ROOT store only through a mount namespace whose Debian
CA bundle holds it (Wine's crypt32 imports that bundle into ROOT), so this
machine's trust store is never touched.

Slow (one full cross build, then an incremental one for the other variant),
cached outside the checkout in $PYBUILDSSL_CACHE/winstore.  Never skipped:
missing Debian packages are installed (apt-get), and a machine where Wine or
mount namespaces cannot work fails with the reason.
"""

from __future__ import annotations

import sys
import time

import pytest

from _helpers import REPO

sys.path.insert(0, str(REPO / "ci"))
import bench_winstore as bw  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def builds(source_sets):
    try:
        bw.ensure_packages()
        version, sha = bw._sets_to_pin([], override_files=[source_sets[1]])
        tarball = bw.source_tarball(version, sha)
        t = time.monotonic()
        result = bw.cross_build_pair(tarball, sha, log=lambda s: print(f"winstore: {s}", file=sys.stderr))
        print(f"winstore: builds ready in {time.monotonic() - t:.1f} s "
              + ", ".join(f"{k} {b.seconds:.1f} s{' (cached)' if b.cached else ''}" for k, b in result.items()),
              file=sys.stderr)
        return result
    except bw.HarnessError as e:
        pytest.fail(f"the winstore proof cannot run on this machine: {e}")


@pytest.fixture(scope="module")
def outcomes(builds):
    from pybuildssl.verify.sandbox import SandboxUnavailable

    try:
        bw.check_wine_runs(bw.wine_command())
        results, timings = bw.run_scenarios(builds)
    except bw.HarnessError as e:
        pytest.fail(f"Wine cannot run the proof here: {e}")
    except SandboxUnavailable as e:
        pytest.fail(f"mount namespaces are needed to give Wine a test CA without touching this machine: {e}")
    print(f"winstore: test time {timings}", file=sys.stderr)
    return {o.scenario.name: o for o in results}


def _explain(o) -> str:
    return f"{o.scenario.name}: rc={o.rc} ({o.scenario.why})\n{o.output[-1500:]}"


def test_the_two_builds_differ_only_by_the_patch(builds):
    for exe_name in ("openssl.exe", bw.CLIENT_EXE):
        patched = builds["patched"].exe.with_name(exe_name).read_bytes()
        plain = builds["unpatched"].exe.with_name(exe_name).read_bytes()
        assert patched[:2] == plain[:2] == b"MZ", "Windows executables"
        assert b"org.openssl.winstore://" in patched and b"org.openssl.winstore://" not in plain
        assert b"org.openssl.winstore" in plain, "stock OpenSSL builds the winstore loader on Windows targets"


def test_with_the_patch_the_default_verify_paths_trust_the_windows_root_store(outcomes):
    o = outcomes["patched-default-paths"]
    assert o.verified, _explain(o)


def test_without_the_patch_the_default_verify_paths_do_not(outcomes):
    o = outcomes["unpatched-default-paths"]
    assert not o.verified and o.rc != 0, _explain(o)
    assert "unable to get local issuer certificate" in o.output or "verify error" in o.output.lower(), _explain(o)


def test_cpythons_call_set_default_verify_paths_trusts_the_root_store_with_the_patch(outcomes):
    """SSL_CTX_set_default_verify_paths(), what SSLContext.set_default_verify_paths() calls."""
    o = outcomes["patched-set-default-verify-paths"]
    assert o.verified, _explain(o)


def test_cpythons_call_does_not_without_the_patch(outcomes):
    o = outcomes["unpatched-set-default-verify-paths"]
    assert not o.verified and o.rc == 1, _explain(o)
    assert "verify error:num=" in o.output, _explain(o)


def test_an_unknown_ca_fails_with_the_patch(outcomes):
    for name in ("patched-unknown-ca", "patched-unknown-ca-set-default-verify-paths"):
        o = outcomes[name]
        assert not o.verified and o.rc != 0, _explain(o)


def test_control_the_ca_is_in_wines_root_store(outcomes):
    o = outcomes["unpatched-explicit-castore"]
    assert o.verified, _explain(o)


def test_control_the_ca_came_from_the_namespace_only(outcomes):
    o = outcomes["patched-outside-namespace"]
    assert not o.verified, _explain(o)
