"""Integration fixtures: one real build per session, cached by its inputs.

The sources come from ``PYBUILDSSL_SOURCE_DIRS`` with the recipe override file
``PYBUILDSSL_OVERRIDES`` (TOML), as ``ci/test.sh`` exports them after fetching
Debian's byte-identical upstream tarballs; when they are unset the fixture runs
``ci/fetch_sources.py`` itself.  Components
are cached in ``$PYBUILDSSL_CACHE`` (outside the checkout), so a second run
rebuilds nothing, and an empty cache builds from scratch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pybuildssl import archive, sources
from pybuildssl.cache import default_cache_dir

from _helpers import MOVED, REPO, run_cli


def _cache() -> Path:
    return default_cache_dir()


@pytest.fixture(scope="session")
def source_sets() -> list[str]:
    """The build arguments that point a recipe at the fetched tarballs."""
    path = os.environ.get("PYBUILDSSL_OVERRIDES")
    if not path:
        dest = _cache() / "debian-sources"
        path = str(_cache() / "debian-sources.toml")
        r = subprocess.run([sys.executable, str(REPO / "ci" / "fetch_sources.py"), "--dest", str(dest),
                            "--overrides-out", path, "--extra-suite", "sid", "--extra-suite", "forky"],
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"fetching sources failed:\n{r.stderr}"
        os.environ["PYBUILDSSL_SOURCE_DIRS"] = str(dest)
        os.environ["PYBUILDSSL_OVERRIDES"] = path
    # The fast profile (no PGO, no LTO): CI has 90 minutes on 2 cores; the release profile's
    # figures are ci/bench_profile.py's.
    return ["--overrides", path, "--set", "build.profile=fast"]


@pytest.fixture(scope="session")
def source_overrides(source_sets) -> dict:
    """The override file's content: {section: {version, sha256, size}}."""
    from pybuildssl.recipe import _toml

    return _toml.loads(Path(source_sets[1]).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def build_result(tmp_path_factory, source_sets) -> dict:
    """`pybuildssl build` of the default recipe, end to end through the CLI.

    Developers may point PYBUILDSSL_TEST_ARTIFACT at an existing archive to
    iterate on the other tests; CI never sets it (the build is the test).
    """
    given = os.environ.get("PYBUILDSSL_TEST_ARTIFACT")
    if given:
        r = run_cli("verify", given, "--json", timeout=600)
        return {"artifact": given, "verify": json.loads(r.stdout), "cached": {}, "stderr": r.stderr}
    dist = tmp_path_factory.mktemp("dist")
    r = run_cli("build", "--dist", str(dist), "--json", *source_sets)
    # exit 1 with a report is a failed verify: test_the_build_ran_verify_and_it_passed says which check
    assert r.returncode in (0, 1) and r.stdout.strip().startswith("{"), \
        f"build failed ({r.returncode}):\n{r.stderr[-4000:]}"
    out = json.loads(r.stdout)
    out["stderr"] = r.stderr
    return out


@pytest.fixture(scope="session")
def artifact(build_result) -> Path:
    return Path(build_result["artifact"])


@pytest.fixture(scope="session")
def manifest(artifact) -> dict:
    from pybuildssl import package

    return package.read_manifest(artifact)


@pytest.fixture(scope="session")
def moved_prefix(tmp_path_factory, artifact) -> Path:
    """The artifact unpacked somewhere else than it was built, under a name with a space."""
    dest = tmp_path_factory.mktemp("relocated") / MOVED / "python"
    return archive.extract(artifact, dest)


@pytest.fixture(scope="session")
def built_python(moved_prefix, manifest) -> Path:
    return moved_prefix / manifest["cpython"]["interpreter"]

