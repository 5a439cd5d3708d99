#!/usr/bin/env bash
# The main job: build and verify the default recipe for this host, end to end.
#   bash ci/main.sh [extra `pybuildssl build` arguments]
. "$(dirname "$0")/setup.sh"
debian_sources
cd "$REPO"
# The fast profile (no PGO, no LTO): CI has 90 minutes on 2 cores.  Release builds
# (the recipes' default profile) are measured by ci/bench_profile.py.
exec pybuildssl build --overrides "$PYBUILDSSL_OVERRIDES" --set build.profile=fast "$@"
