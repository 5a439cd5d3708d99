#!/usr/bin/env bash
# The main job: build and verify the default recipe for this host, end to end.
#   bash ci/main.sh [extra `pybuildssl build` arguments]
. "$(dirname "$0")/setup.sh"
debian_sources
cd "$REPO"
exec pybuildssl build --overrides "$PYBUILDSSL_OVERRIDES" "$@"
