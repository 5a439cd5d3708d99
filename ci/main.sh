#!/usr/bin/env bash
# The main job: build and verify the default recipe for this host, end to end.
#   bash ci/main.sh [RECIPE] [extra `pybuildssl build` arguments]
# A windows-* recipe also fetches python.org's embeddable CPython (windows_sources).
. "$(dirname "$0")/setup.sh"
debian_sources
extra=()
for arg in "$@"; do
  case "$arg" in
    -*) ;;
    windows-*) windows_sources; extra=(--overrides "$PYBUILDSSL_WINDOWS_OVERRIDES") ;;
  esac
done
cd "$REPO"
# The fast profile (no PGO, no LTO): CI has 90 minutes on 2 cores.  Release builds
# (the recipes' default profile) are measured by ci/bench_profile.py.
exec pybuildssl build --overrides "$PYBUILDSSL_OVERRIDES" --set build.profile=fast "${extra[@]}" "$@"
