# >>> pybuildssl trust fallback >>>
# Added by pybuildssl; `pybuildssl patch --revert PREFIX` removes it.
# Windows: the trust store is the system certificate store, which
# SSLContext.load_default_certs() enumerates ("ROOT" and "CA") exactly as
# stock CPython does.  This block adds no file fallback and overrides nothing:
# it records the configured mode and offers ssl._pybuildssl_resolve().

_PYBUILDSSL_PATCH_VERSION = 2
_PYBUILDSSL_TARGET_OS = 'windows'
# "enumeration": CPython's store enumeration only (the default).
# "winstore", "both": OpenSSL's org.openssl.winstore:// is wired in by the
# Windows recipe inside OpenSSL itself; CPython has no API to add it here.
_PYBUILDSSL_WINDOWS_MODE = 'enumeration'
_PYBUILDSSL_OPT_OUT_ENV = "PYBUILDSSL_NO_FALLBACK"
_PYBUILDSSL_FALLBACK = ()
_PYBUILDSSL_PEM_MARKER = b"-----BEGIN CERTIFICATE-----"
_PYBUILDSSL_MAX_PROBE = 262144  # bytes read at most: comments may precede the first certificate
_PYBUILDSSL_CHUNK = 16384
_PYBUILDSSL_HEX = "0123456789abcdef"
_PYBUILDSSL_MAX_HOPS = 40  # symbolic links followed at most for one path, as Linux does
_PYBUILDSSL_S_IFMT = 0o170000
_PYBUILDSSL_S_IFLNK = 0o120000
_PYBUILDSSL_S_IFREG = 0o100000
_PYBUILDSSL_S_IFDIR = 0o040000

# (kind, path, euid or None) -> (verdict, elements, confirmed): the decision
# for one location.  verdict: None when usable (and safe), else why not;
# elements: ((path, stat key), ...) of what the decision depends on;
# confirmed: OpenSSL loaded it once (a CA file can hold a PEM marker and
# still fail to load).  A decision stands while every element stats the same.
# Entries are replaced whole, never mutated (safe without the GIL).
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


def _pybuildssl_hash_entry(name):
    """What OpenSSL's hashed-directory lookup reads under ``name``, if anything.

    "cert" for "<8 lowercase hex>.<n>", "crl" for "<8 lowercase hex>.r<n>",
    else None.  OpenSSL opens "<hash>.0", "<hash>.1", ... in turn, so only a
    "<hash>.0" entry can make a directory usable; every entry that may be
    read must be safe.  The one copy of this rule: verify and doctor run it.
    """
    if len(name) < 10 or name[8] != "." or name[:8].strip(_PYBUILDSSL_HEX):
        return None
    n = name[9:]
    kind = "cert"
    if n[:1] == "r":
        n, kind = n[1:], "crl"
    return kind if n.isdigit() and n.isascii() else None


def _pybuildssl_stat_key(st):
    # Any change of content, name binding, mode or owner changes one of these.
    return (st.st_dev, st.st_ino, st.st_mode, st.st_uid, st.st_gid, st.st_size,
            st.st_mtime_ns, st.st_ctime_ns)


def _pybuildssl_unsafe(st, euid, passage=False):
    """Why a user other than root and ``euid`` could change this element (None: nobody).

    ``passage``: the element is only passed through to a child that exists.
    A sticky directory others may write (/tmp, NixOS's /nix/store) is then
    acceptable: they can add names there but cannot rename, remove or replace
    an entry they do not own, and the child's own owner is checked next.
    """
    if st.st_uid != 0 and st.st_uid != euid:
        return "is owned by uid %d" % st.st_uid
    if st.st_mode & _PYBUILDSSL_S_IFMT == _PYBUILDSSL_S_IFLNK:
        return None  # a link's own mode bits mean nothing; its directory is checked
    if passage and _pybuildssl_open_sticky(st):
        return None
    if st.st_mode & 0o002:
        return "is world-writable (sticky)" if st.st_mode & 0o1000 else "is world-writable"
    if st.st_mode & 0o020 and st.st_gid != 0:
        return "is writable by group %d" % st.st_gid
    return None


def _pybuildssl_open_sticky(st):
    """A sticky directory that users other than root and its owner may add names to."""
    return (st.st_mode & _PYBUILDSSL_S_IFMT == _PYBUILDSSL_S_IFDIR and st.st_mode & 0o1000
            and (st.st_mode & 0o002 or (st.st_mode & 0o020 and st.st_gid != 0)))


def _pybuildssl_element(path, euid, trail, checked, parent=None):
    """(why not, stat) for one element of a path; records it in ``trail``.

    Directories are judged as passages here; the walk judges its last element
    in full.  Below an open sticky ``parent`` a regular file must have one
    link: another user could have hard-linked a root-owned file there.
    """
    st = checked.get(path)
    if st is not None:
        return None, st
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return "missing", None
    except (OSError, ValueError):
        return "cannot examine %r" % path, None
    trail.append((path, _pybuildssl_stat_key(st)))
    if euid is not None:
        why = _pybuildssl_unsafe(st, euid, passage=True)
        if (why is None and parent is not None and _pybuildssl_open_sticky(parent)
                and st.st_mode & _PYBUILDSSL_S_IFMT == _PYBUILDSSL_S_IFREG and st.st_nlink != 1):
            why = "has %d hard links in a directory others may add names to" % st.st_nlink
        if why is not None:
            return "unsafe: %r %s" % (path, why), None
    checked[path] = st
    return None, st


def _pybuildssl_walk(path, euid, trail, checked, cur="/"):
    """Follow ``path`` from "/" through every symlink hop, checking each element.

    A relative ``path`` starts at ``cur``, a real directory already checked.

    Returns (why not or None, real path, stat of the final element).  Every
    element met (each ancestor, each link and each ancestor of a link's
    target) must be owned by root or ``euid`` and writable by nobody else
    (unless ``euid`` is None: usability only).
    """
    if not path.startswith("/") and cur == "/":
        return "not an absolute path", None, None
    why, st = _pybuildssl_element("/", euid, trail, checked)
    if why is not None:
        return why, None, None
    if path.startswith("/"):
        cur = "/"
    st = checked[cur]
    todo = path.split("/")
    todo.reverse()
    hops = 0
    while todo:
        name = todo.pop()
        if not name or name == ".":
            continue
        if st.st_mode & _PYBUILDSSL_S_IFMT != _PYBUILDSSL_S_IFDIR:
            return "missing", None, None  # a name below a file
        if name == "..":
            cur = cur.rsplit("/", 1)[0] or "/"
            st = checked[cur]  # an ancestor: already checked
            continue
        nxt = (cur if cur != "/" else "") + "/" + name
        why, st = _pybuildssl_element(nxt, euid, trail, checked, st)
        if why is not None:
            return why, None, None
        if st.st_mode & _PYBUILDSSL_S_IFMT == _PYBUILDSSL_S_IFLNK:
            hops += 1
            if hops > _PYBUILDSSL_MAX_HOPS:
                return "too many levels of symbolic links", None, None
            target = os.readlink(nxt)
            if target.startswith("/"):
                cur = "/"
            todo.extend(reversed(target.split("/")))
            st = checked[cur]
            continue
        cur = nxt
    if euid is not None:  # the location itself: no passage exception (others could add entries)
        why = _pybuildssl_unsafe(st, euid)
        if why is not None:
            return "unsafe: %r %s" % (cur, why), None, None
    return None, cur, st


def _pybuildssl_follow(path, euid, trail, checked, cur="/"):
    """_pybuildssl_walk(), or without ``euid`` a plain stat that follows links."""
    if euid is not None:
        return _pybuildssl_walk(path, euid, trail, checked, cur)
    if not path.startswith("/"):
        path = cur.rstrip("/") + "/" + path
    try:
        return None, path, os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return "missing", None, None
    except (OSError, ValueError):
        return "cannot examine %r" % path, None, None


def _pybuildssl_dir_verdict(real, euid, elements, checked):
    """None when a hashed directory is usable (and, with ``euid``, safe)."""
    with os.scandir(real) as entries:
        names = sorted(e.name for e in entries if _pybuildssl_hash_entry(e.name))
    usable = False
    for name in names:
        trail = []
        why, target, st = _pybuildssl_follow(name, euid, trail, checked, real)
        if why is not None:
            elements.extend(trail)
            if why.startswith("unsafe: "):
                return "unsafe: entry %s: %s" % (name, why[8:])
            continue  # missing or unreadable: OpenSSL cannot read it either
        if (not usable and name.endswith(".0") and _pybuildssl_hash_entry(name) == "cert"
                and st.st_mode & _PYBUILDSSL_S_IFMT == _PYBUILDSSL_S_IFREG):
            elements.extend(trail)  # read: what it holds decides
            try:
                usable = _pybuildssl_file_has_cert(target)
            except (OSError, ValueError):
                pass
        else:
            # Other entries change only through a directory (kept) or by
            # their owner, root or you: their own stats stay out of the key.
            elements.extend(e for e in trail
                            if e[1][2] & _PYBUILDSSL_S_IFMT == _PYBUILDSSL_S_IFDIR)
        if usable and euid is None:
            break
    return None if usable else "no readable certificate in a <hash>.0 entry"


def _pybuildssl_decide(kind, path, euid):
    """(verdict, elements, confirmed) for one location: see _pybuildssl_cache."""
    if not path:
        return "not set", (), False
    elements = []
    checked = {}
    try:
        why, real, st = _pybuildssl_follow(path, euid, elements, checked)
        if why is None:
            fmt = st.st_mode & _PYBUILDSSL_S_IFMT
            if kind == "dir":
                why = "not a directory" if fmt != _PYBUILDSSL_S_IFDIR else \
                    _pybuildssl_dir_verdict(real, euid, elements, checked)
            elif fmt != _PYBUILDSSL_S_IFREG:
                why = "not a regular file"
            elif not _pybuildssl_file_has_cert(real):
                why = "no PEM certificate"
    except (OSError, ValueError, KeyError):
        why = "unreadable"
    return why, tuple(elements), kind == "dir"  # OpenSSL reads a directory lazily


def _pybuildssl_fresh(elements, memo):
    """Do all ``elements`` still stat as recorded?  ``memo``: stats of this call."""
    for path, key in elements:
        now = memo.get(path, memo)
        if now is memo:
            try:
                now = _pybuildssl_stat_key(os.lstat(path))
            except (OSError, ValueError):
                now = None
            memo[path] = now
        if now != key:
            return False
    return True


def _pybuildssl_verdict(kind, path, euid, memo):
    """The cached decision for a location, made again only when it changed."""
    if euid is None:  # usability alone (doctor, Windows): not cached
        return _pybuildssl_decide(kind, path, None)
    key = (kind, path, euid)
    hit = _pybuildssl_cache.get(key)
    if hit is not None and _pybuildssl_fresh(hit[1], memo):
        return hit
    decision = _pybuildssl_decide(kind, path, euid)
    _pybuildssl_cache[key] = decision
    return decision


def _pybuildssl_settle(kind, path, euid, loaded):
    """Record whether OpenSSL loaded a location (a failure skips it until it changes)."""
    hit = _pybuildssl_cache.get((kind, path, euid))
    if hit is not None and hit[0] is None and not (loaded and hit[2]):
        _pybuildssl_cache[(kind, path, euid)] = (
            None if loaded else "OpenSSL could not load it", hit[1], loaded)


def _pybuildssl_confirmed(kind, path, euid, decision, confirm):
    """Is a usable location one OpenSSL loads?  With ``confirm``, try it once."""
    if decision[2] or not confirm:
        return True
    try:  # a throwaway context, once per change of the file
        _SSLContext(_ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(path)
        loaded = True
    except (OSError, SSLError, ValueError):
        loaded = False
    _pybuildssl_settle(kind, path, euid, loaded)
    return loaded


def _pybuildssl_probe(kind, path, safety):
    """None when ``path`` is a usable (with ``safety``: and safe) CA ``kind``, else why not."""
    euid = os.geteuid() if safety else None
    return _pybuildssl_verdict(kind, path, euid, {})[0]


def _pybuildssl_choose(notes=None, confirm=False):
    """(source, load): where default trust comes from now.

    load: None to behave as stock CPython, else (cafile, capath) to load
    and report (None for nothing).  One decision for get and set.
    """
    parts = _ssl.get_default_verify_paths()
    environ = os.environ
    value = environ.get(_PYBUILDSSL_OPT_OUT_ENV, "")
    if value and value != "0":
        return "disabled", None
    if (parts[0] and parts[0] in environ) or (parts[2] and parts[2] in environ):
        return "env", None
    windows = sys.platform == "win32"  # the store enumeration is Windows' trust
    euid = None if windows else os.geteuid()
    memo = {}
    found = {}
    for origin, kind, path in (("compiled", "file", parts[1]), ("compiled", "dir", parts[3])):
        decision = _pybuildssl_verdict(kind, path, euid, memo)
        verdict = decision[0]
        if verdict is None and not _pybuildssl_confirmed(kind, path, euid, decision, confirm):
            verdict = "OpenSSL could not load it"
        if notes is not None:
            notes.append((origin, kind, path, verdict or "usable"))
        if verdict is None:
            found[kind] = path
    if windows:
        return ("compiled" if found else "none"), None
    if found:
        return "compiled", (found.get("file"), found.get("dir"))
    for kind, path in _PYBUILDSSL_FALLBACK:
        decision = _pybuildssl_verdict(kind, path, euid, memo)
        verdict = decision[0]
        if verdict is None and not _pybuildssl_confirmed(kind, path, euid, decision, confirm):
            verdict = "OpenSSL could not load it"
        if notes is not None:
            notes.append(("fallback", kind, path, verdict or "usable"))
        if verdict is None:
            return "fallback", ((path, None) if kind == "file" else (None, path))
    return "none", (None, None)


def _pybuildssl_location(confirm):
    # A bug here must never break ssl: any surprise means stock behaviour.
    try:
        return _pybuildssl_choose(confirm=confirm)[1]
    except Exception:
        return None


def _pybuildssl_report(paths, location):
    if location is None:
        return paths
    return paths._replace(cafile=location[0], capath=location[1])


def _pybuildssl_resolve(explain=False):
    """Where default trust comes from: {"source", "cafile", "capath", ...}.

    source: "env" (SSL_CERT_FILE or SSL_CERT_DIR is set), "compiled"
    (OpenSSL's compiled defaults are usable), "fallback" (a location of
    _PYBUILDSSL_FALLBACK), "none" (nothing usable) or "disabled" (opt-out).
    cafile and capath are what get_default_verify_paths() reports and
    set_default_verify_paths() loads.  With
    ``explain``, "checked" lists (origin, kind, path, verdict) for each
    location looked at.  Used by `pybuildssl doctor` and `verify`.
    """
    notes = [] if explain else None
    source, location = _pybuildssl_choose(notes, confirm=True)
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
    result["windows_mode"] = _PYBUILDSSL_WINDOWS_MODE
    if notes is not None:
        result["checked"] = notes
    return result
# <<< pybuildssl trust fallback <<<
