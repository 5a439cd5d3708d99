#!/usr/bin/env bash
# The tests: unit tests and the integration tier (a real OpenSSL + CPython
# build, real TLS over loopback, real mount namespaces).
#   bash ci/test.sh [pytest arguments]
. "$(dirname "$0")/setup.sh"
debian_sources
cd "$REPO"
# In CI a skip must be a documented environment gate (tests/conftest.py).
if [ "${CI:-}" = true ]; then export PYBUILDSSL_STRICT_SKIPS=1; fi
set +e
# `bash ci/test.sh tests/unit/test_recipe.py` runs that file; without a path, all of tests/
given_path=0
for a in "$@"; do [ -e "$a" ] && given_path=1; done
[ $given_path = 1 ] || set -- "$@" tests
python -m pytest -o addopts= -p no:cacheprovider "$@"
code=$?
[ $code -eq 5 ] && { echo "no tests ran" >&2; exit 1; }
exit $code
