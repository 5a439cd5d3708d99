# Sourced by ci/main.sh and ci/test.sh: installs what pybuildssl needs on a
# fresh Debian (12 or 13) machine, idempotently, and activates a virtualenv
# that lives in the cache, outside the checkout.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYBUILDSSL_CACHE=${PYBUILDSSL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pybuildssl}
mkdir -p "$PYBUILDSSL_CACHE"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

# Build tools, the headers CPython's extension modules need, and what the
# tests use (mount namespaces: util-linux; apt source downloads: dpkg-dev).
APT_PACKAGES=(
  build-essential perl make patch patchelf pkg-config ca-certificates openssl
  libffi-dev zlib1g-dev libbz2-dev liblzma-dev libsqlite3-dev libreadline-dev
  libncurses-dev uuid-dev libgdbm-dev tk-dev
  python3 python3-venv python3-pip util-linux dpkg-dev gpgv
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "* installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# A virtualenv in the cache: Debian's own python3 is externally managed.
VENV="$PYBUILDSSL_CACHE/venv"
HOST_PYTHON=${PYBUILDSSL_HOST_PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  "$HOST_PYTHON" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q --disable-pip-version-check -e "$REPO[test]" >&2

# Sources: the pinned upstream tarballs when the network reaches them;
# here (and in CI) the same tarballs from Debian's source packages, checked
# against Debian's signed index, passed as recipe overrides.
debian_sources() {
  local dest="$PYBUILDSSL_CACHE/debian-sources"
  python "$REPO/ci/fetch_sources.py" --dest "$dest" > "$PYBUILDSSL_CACHE/debian-sources.sets"
  export PYBUILDSSL_SOURCE_DIRS="$dest"
  mapfile -t SOURCE_SETS < "$PYBUILDSSL_CACHE/debian-sources.sets"
  export PYBUILDSSL_TEST_SETS
  PYBUILDSSL_TEST_SETS=$(cat "$PYBUILDSSL_CACHE/debian-sources.sets")
}
