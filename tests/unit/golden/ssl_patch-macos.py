# >>> pybuildssl trust fallback >>>
# Added by pybuildssl; `pybuildssl patch --revert PREFIX` removes it.
# When neither SSL_CERT_FILE / SSL_CERT_DIR nor OpenSSL's compiled default
# locations give a usable CA store, SSLContext.set_default_verify_paths() (and
# so load_default_certs() and create_default_context()) also loads the first
# usable and safe location of _PYBUILDSSL_FALLBACK, and
# get_default_verify_paths() reports that location.
# Opt out: set PYBUILDSSL_NO_FALLBACK=1.  Inspect: ssl._pybuildssl_resolve().

_PYBUILDSSL_PATCH_VERSION = 1
_PYBUILDSSL_TARGET_OS = 'macos'
_PYBUILDSSL_OPT_OUT_ENV = "PYBUILDSSL_NO_FALLBACK"
_PYBUILDSSL_FALLBACK = (
    ('file', '/private/etc/ssl/cert.pem'),
    ('file', '/etc/ssl/cert.pem'),
    ('file', '/opt/homebrew/etc/openssl@3/cert.pem'),
    ('file', '/usr/local/etc/openssl@3/cert.pem'),
    ('file', '/opt/homebrew/etc/ca-certificates/cert.pem'),
    ('file', '/usr/local/etc/ca-certificates/cert.pem'),
    ('file', '/opt/local/etc/openssl/cert.pem'),
    ('file', '/opt/local/share/curl/curl-ca-bundle.crt'),
)
_PYBUILDSSL_PEM_MARKER = b"-----BEGIN CERTIFICATE-----"
_PYBUILDSSL_MAX_PROBE = 262144  # bytes read at most: comments may precede the first certificate
_PYBUILDSSL_CHUNK = 16384
_PYBUILDSSL_HEX = "0123456789abcdef"
_PYBUILDSSL_S_IFMT = 0o170000
_PYBUILDSSL_S_IFREG = 0o100000
_PYBUILDSSL_S_IFDIR = 0o040000
_PYBUILDSSL_S_IWOTH = 0o002

# path -> (stat key, verdict): a location is probed again only when it changes.
_pybuildssl_cache = {}
_pybuildssl_stock_get_default_verify_paths = get_default_verify_paths


def _pybuildssl_file_has_cert(path):
    marker = _PYBUILDSSL_PEM_MARKER
    keep = len(marker) - 1
    tail = b""
    left = _PYBUILDSSL_MAX_PROBE
    with open(path, "rb") as f:
        while left > 0:
            chunk = f.read(min(_PYBUILDSSL_CHUNK, left))
            if not chunk:
                return False
            data = tail + chunk
            if marker in data:
                return True
            tail = data[-keep:]
            left -= len(chunk)
    return False


def _pybuildssl_is_hash_name(name):
    # "<8 lowercase hex>.<n>": a certificate link written by `openssl rehash`
    # (".r<n>" links are CRLs: they never make a directory usable).
    return (len(name) >= 10 and name[8] == "." and not name[:8].strip(_PYBUILDSSL_HEX)
            and name[9:].isdigit() and name[9:].isascii())


def _pybuildssl_dir_has_hash(path):
    with os.scandir(path) as entries:
        for entry in entries:
            if _pybuildssl_is_hash_name(entry.name):
                try:
                    if entry.is_file():
                        return True
                except OSError:
                    pass
    return False


def _pybuildssl_unsafe(path, st):
    """Why another user could have written ``path`` (None when nobody could)."""
    euid = os.geteuid()
    if st.st_mode & _PYBUILDSSL_S_IWOTH:
        return "world-writable"
    if st.st_uid != 0 and st.st_uid != euid:
        return "owned by uid %d" % st.st_uid
    parents = [os.path.dirname(path)]
    if os.path.islink(path):  # who could replace the target: its own directory too
        target_parent = os.path.dirname(os.path.realpath(path))
        if target_parent != parents[0]:
            parents.append(target_parent)
    for parent in parents:
        pst = os.stat(parent)
        if pst.st_mode & _PYBUILDSSL_S_IWOTH:
            return "parent directory %r is world-writable" % parent
        if pst.st_uid != 0 and pst.st_uid != euid:
            return "parent directory %r owned by uid %d" % (parent, pst.st_uid)
    return None


def _pybuildssl_probe(kind, path, safety):
    """None when ``path`` is a usable CA ``kind`` ("file" or "dir"), else why not.

    Usable: a regular file holding a PEM certificate, or a directory holding
    a "<hash>.<n>" entry; with ``safety``, also writable by nobody but root
    and the current user (checked before anything is read, and on every call:
    modes and owners change without touching the cache key).  Costs one stat
    when the cache knows the answer (three more for a safe fallback).
    """
    if not path:
        return "not set"
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return "missing"
    fmt = st.st_mode & _PYBUILDSSL_S_IFMT
    if kind == "dir":
        if fmt != _PYBUILDSSL_S_IFDIR:
            return "not a directory"
    elif fmt != _PYBUILDSSL_S_IFREG:
        return "not a regular file"
    key = (kind, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
    hit = _pybuildssl_cache.get(path)
    if hit is not None and hit[0] == key and hit[1] is not None:
        return hit[1]  # known unusable: whether it is safe does not matter
    if safety:
        try:
            reason = _pybuildssl_unsafe(path, st)
        except (OSError, ValueError):
            reason = "cannot check its parent directory"
        if reason is not None:
            return "unsafe: " + reason
    if hit is not None and hit[0] == key:
        return hit[1]
    try:
        if kind == "dir":
            found = _pybuildssl_dir_has_hash(path)
            reason = None if found else "no <hash>.<n> entries"
        else:
            found = _pybuildssl_file_has_cert(path)
            reason = None if found else "no PEM certificate"
    except (OSError, ValueError):
        return "unreadable"
    _pybuildssl_cache[path] = (key, reason)
    return reason


def _pybuildssl_forget(kind, path):
    # Loading failed although the probe passed: skip it until it changes.
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return
    key = (kind, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
    _pybuildssl_cache[path] = (key, "OpenSSL could not load it")


def _pybuildssl_choose(notes=None):
    """(source, (kind, path) or None): where default trust comes from now."""
    parts = _ssl.get_default_verify_paths()
    environ = os.environ
    value = environ.get(_PYBUILDSSL_OPT_OUT_ENV, "")
    if value and value != "0":
        return "disabled", None
    if (parts[0] and parts[0] in environ) or (parts[2] and parts[2] in environ):
        return "env", None
    found = False
    # The hashed directory first: usable, it answers from the cache after one
    # stat, and a missing CA file (the usual case with a hashed directory)
    # costs a failed stat more.  Explanations keep the file-then-dir order.
    compiled = (("file", parts[1]), ("dir", parts[3])) if notes is not None else (
        ("dir", parts[3]), ("file", parts[1]))
    for kind, path in compiled:
        reason = _pybuildssl_probe(kind, path, False)
        if notes is not None:
            notes.append(("compiled", kind, path, reason or "usable"))
        if reason is None:
            found = True
            if notes is None:
                break
    if found:
        return "compiled", None
    if sys.platform == "win32":  # the store enumeration is Windows' trust
        return "none", None
    for kind, path in _PYBUILDSSL_FALLBACK:
        reason = _pybuildssl_probe(kind, path, True)
        if notes is not None:
            notes.append(("fallback", kind, path, reason or "usable"))
        if reason is None:
            return "fallback", (kind, path)
    return "none", None


def _pybuildssl_location():
    # A bug here must never break ssl: any surprise means stock behaviour.
    try:
        return _pybuildssl_choose()[1]
    except Exception:
        return None


def _pybuildssl_report(paths, location):
    if location is None:
        return paths
    kind, path = location
    return paths._replace(cafile=path) if kind == "file" else paths._replace(capath=path)


def _pybuildssl_resolve(explain=False):
    """Where default trust comes from: {"source", "cafile", "capath", ...}.

    source: "env" (SSL_CERT_FILE or SSL_CERT_DIR is set), "compiled"
    (OpenSSL's compiled defaults are usable), "fallback" (a location of
    _PYBUILDSSL_FALLBACK), "none" (nothing usable) or "disabled" (opt-out).
    cafile and capath are what get_default_verify_paths() reports.  With
    ``explain``, "checked" lists (origin, kind, path, verdict) for each
    location looked at.  Used by `pybuildssl doctor` and `verify`.
    """
    notes = [] if explain else None
    source, location = _pybuildssl_choose(notes)
    try:
        paths = _pybuildssl_report(_pybuildssl_stock_get_default_verify_paths(), location)
        cafile, capath = paths.cafile, paths.capath
    except (TypeError, ValueError):  # stock fails on a compiled default of None (Windows)
        cafile = capath = None
    result = {
        "source": source,
        "cafile": cafile,
        "capath": capath,
        "target_os": _PYBUILDSSL_TARGET_OS,
        "patch_version": _PYBUILDSSL_PATCH_VERSION,
    }
    if notes is not None:
        result["checked"] = notes
    return result


def get_default_verify_paths():
    """Return paths to default cafile and capath.

    pybuildssl: when the trust fallback is active, ``cafile`` (for a CA file)
    or ``capath`` (for a hashed directory) names the location that
    SSLContext.set_default_verify_paths() loads; see ssl._pybuildssl_resolve().
    """
    paths = _pybuildssl_stock_get_default_verify_paths()
    return _pybuildssl_report(paths, _pybuildssl_location())


get_default_verify_paths.__wrapped__ = _pybuildssl_stock_get_default_verify_paths


def _pybuildssl_set_default_verify_paths(self):
    """Load OpenSSL's default CA locations, or the system's when those are unusable.

    pybuildssl: after the stock call, loads the location that
    ssl.get_default_verify_paths() reports when the trust fallback is active.
    """
    _SSLContext.set_default_verify_paths(self)
    for _attempt in _PYBUILDSSL_FALLBACK:  # bounded: each failure skips a location
        location = _pybuildssl_location()
        if location is None:
            return
        kind, path = location
        try:
            if kind == "file":
                _SSLContext.load_verify_locations(self, cafile=path)
            else:
                _SSLContext.load_verify_locations(self, capath=path)
            return
        except (OSError, SSLError, ValueError):
            _pybuildssl_forget(kind, path)


_pybuildssl_set_default_verify_paths.__name__ = "set_default_verify_paths"
_pybuildssl_set_default_verify_paths.__qualname__ = "SSLContext.set_default_verify_paths"
SSLContext.set_default_verify_paths = _pybuildssl_set_default_verify_paths
# <<< pybuildssl trust fallback <<<
