#!/usr/bin/env python3
"""Download one Debian source package's orig tarball and check it: the .dsc and the orig
against the signed Sources index, the .dsc's own checksums, its OpenPGP signature
(gpgv, when a keyring is there).  Used by ci/fetch_sources.py and ci/stock_pythons.py.
"""


import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from debian_apt import (  # noqa: E402  (a sibling script, found beside this one)
    dpkg_compare, is_root, log, run, sha256_file,
)
from debian_index import (  # noqa: E402  (a sibling script, found beside this one)
    Candidate, DEVELOPER_KEYRING_PACKAGE, FetchError, candidates_from_showsrc, check_entry, clearsigned_body,
    dsc_name, orig_tarball_name, parse_checksums, parse_deb822, sort_newest_first,
    split_upstream,
)


# ---------------------------------------------------------------------------
# Download and verification
# ---------------------------------------------------------------------------

@dataclass
class Result:
    key: str
    package: str
    debian_version: str
    version: str
    sha256: str
    size: int
    path: str
    signature_checked: bool
    signer: Optional[str] = None
    repacked: bool = False
    holds: str = ""              # the upstream version the tarball holds
    pinned_as: str = "override"  # "primary", "alternative" or "override" (see the module doc)
    dsc_checked: bool = True


_HASHED: Dict[Tuple[str, int, int], str] = {}


def find_cached(dest: Path, sha256: str, size: int) -> Optional[Path]:
    """A file in ``dest`` (any name) with this sha256 and size, if there is one."""
    for p in sorted(dest.iterdir()):
        if p.name.startswith(".") or not p.is_file():
            continue
        try:
            st = p.stat()
            if st.st_size != size:
                continue
            key = (str(p), st.st_size, st.st_mtime_ns)
            if key not in _HASHED:
                _HASHED[key] = sha256_file(p)[0]
            if _HASHED[key] == sha256:
                return p
        except OSError:
            continue
    return None


def apt_source(package: str, version: str, workdir: Path,
               apt_options: Sequence[str] = ()) -> subprocess.CompletedProcess:
    return run(["apt-get", *apt_options, "source", "--download-only", "--only-source",
                f"{package}={version}"],
               cwd=str(workdir))


def apt_errors(proc: subprocess.CompletedProcess) -> str:
    lines = [re.sub(r"\s*\[IP: [^]]*\]", "", l.strip())
             for l in (proc.stderr + proc.stdout).splitlines()
             if l.startswith("E:") and "Failed to fetch some archives" not in l]
    return "; ".join(lines[:4]) or f"exit {proc.returncode}"


def check_signature(dsc: Path, keyrings: Sequence[str], workdir: Path,
                    required: bool) -> Tuple[bool, Optional[str], Optional[str]]:
    """(checked, signer fingerprint, signed text) for a .dsc via gpgv.

    A BAD signature always fails; a missing keyring or key only fails when
    ``required``.
    """
    present = [k for k in keyrings if Path(k).exists()]
    if not present:
        if required:
            raise FetchError(f"no developer keyring found ({', '.join(keyrings)})")
        return False, None, None
    out = workdir / (dsc.name + ".signed")
    cmd = ["gpgv", "--status-fd", "1", "--output", str(out)]
    for k in present:
        cmd += ["--keyring", k]
    proc = run(cmd + [str(dsc)])
    status = proc.stdout
    if "[GNUPG:] BADSIG" in status:
        raise FetchError(f"BAD OpenPGP signature on {dsc.name}")
    m = re.search(r"^\[GNUPG:\] VALIDSIG (\S+)", status, re.M)
    if proc.returncode == 0 and m and out.exists():
        return True, m.group(1), out.read_text(errors="replace")
    problems = [l[len("[GNUPG:] "):] for l in status.splitlines()
                if l.split()[1:2] and l.split()[1] in
                ("NO_PUBKEY", "EXPKEYSIG", "REVKEYSIG", "EXPSIG", "ERRSIG", "NODATA")]
    reason = "; ".join(problems) or (proc.stderr.strip().splitlines() or
                                     [f"gpgv exit {proc.returncode}"])[-1]
    if required:
        raise FetchError(f"signature check of {dsc.name} failed: {reason}")
    log(f"warning: could not verify the signature of {dsc.name}: {reason}")
    return False, None, None


def verify_download(cand: Candidate, workdir: Path, dsc: str, orig: str,
                    keyrings: Sequence[str], require_signature: bool
                    ) -> Tuple[Tuple[str, int], bool, Optional[str]]:
    dsc_path, orig_path = workdir / dsc, workdir / orig
    check_entry(dsc, cand.checksums[dsc], sha256_file(dsc_path), "the Sources index")
    orig_sum = sha256_file(orig_path)
    check_entry(orig, cand.checksums[orig], orig_sum, "the Sources index")
    checked, signer, signed_text = check_signature(dsc_path, keyrings, workdir,
                                                   require_signature)
    try:
        if signed_text is not None:
            body, clearsigned = signed_text, True  # exactly what gpgv verified
        else:
            body, clearsigned = clearsigned_body(dsc_path.read_text(errors="replace"))
        par = parse_deb822(body)[0]
        in_dsc = parse_checksums(par.get("checksums-sha256", ""))
    except (ValueError, IndexError) as exc:
        raise FetchError(f"cannot parse {dsc}: {exc}") from None
    if not clearsigned:
        if require_signature:
            raise FetchError(f"{dsc} is not signed")
        log(f"warning: {dsc} is not clearsigned")
    if par.get("source") != cand.package or par.get("version") != cand.version:
        raise FetchError(f"{dsc} describes {par.get('source')} {par.get('version')}, "
                         f"expected {cand.package} {cand.version}")
    if orig not in in_dsc:
        raise FetchError(f"{dsc} does not list {orig} in Checksums-Sha256")
    check_entry(orig, in_dsc[orig], orig_sum, dsc)
    return orig_sum, checked, signer


def _seed(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def fetch_one(key: str, package: str, candidates: List[Candidate], dest: Path,
              scratch: Path, keyrings: Sequence[str], require_signature: bool) -> Result:
    """Try ``candidates`` (newest first) until one downloads and verifies.

    Orig tarballs are seeded into apt's working directory from ``dest`` (files
    of any name with the index's sha256) or from ``scratch/verified`` (origs
    fetched by a failed attempt whose sha256 matched the index): apt skips
    files that are already present with the right checksums.
    """
    tried = []
    staged_dir = scratch / "verified"
    staged_dir.mkdir(exist_ok=True)
    orig_only: List[Tuple[Candidate, str, str]] = []
    for cand in candidates:
        label = f"{package} {cand.version} ({'/'.join(cand.suites)})"
        if cand.conflict:
            log(f"{label}: skipped, the indexes disagree about its checksums")
            tried.append(f"{cand.version}: conflicting index entries")
            continue
        upstream, repacked, holds = split_upstream(cand.version)
        dsc = dsc_name(package, cand.version)
        orig = orig_tarball_name(package, upstream, cand.checksums)
        if dsc not in cand.checksums:
            raise FetchError(f"{label}: the Sources index does not list {dsc}")
        orig_sha, orig_size = cand.checksums[orig]
        cached = find_cached(dest, orig_sha, orig_size)
        staged = staged_dir / orig_sha
        workdir = Path(tempfile.mkdtemp(prefix="attempt-", dir=str(scratch)))
        try:
            if cached is not None:
                _seed(cached, workdir / orig)
                log(f"{label}: {orig} already in {dest} as {cached.name}; "
                    "fetching the .dsc only")
            elif staged.exists():
                _seed(staged, workdir / orig)
                log(f"{label}: reusing the {orig} fetched a moment ago; "
                    "fetching the .dsc only")
            else:
                log(f"{label}: downloading ({orig_size / 1e6:.1f} MB)")
            proc = apt_source(package, cand.version, workdir, cand.apt_options)
            have = [n for n in (dsc, orig) if (workdir / n).is_file()]
            if len(have) != 2:
                missing = ", ".join(n for n in (dsc, orig) if n not in have)
                log(f"{label}: unavailable (missing {missing}): {apt_errors(proc)}")
                tried.append(f"{cand.version}: missing {missing}")
                if orig in have and not staged.exists() \
                        and sha256_file(workdir / orig) == (orig_sha, orig_size):
                    os.replace(workdir / orig, staged)
                if staged.exists() or cached is not None:
                    orig_only.append((cand, orig, upstream))
                continue
            if proc.returncode != 0:
                log(f"{label}: apt-get reported errors for other files, "
                    f"the .dsc and orig are there: {apt_errors(proc)}")
            (sha, size), checked, signer = verify_download(
                cand, workdir, dsc, orig, keyrings, require_signature)
            if cached is not None:
                final = cached
            else:
                final = dest / orig
                os.replace(workdir / orig, final)
                os.chmod(final, 0o644)
            log(f"{label}: OK -> {final} (sha256 {sha}; signature "
                f"{'checked, key ' + signer if checked else 'not checked'})")
            return Result(key, package, cand.version, upstream, sha, size,
                          str(final.resolve()), checked, signer, repacked, holds)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    if orig_only and not require_signature:
        # Mirrors sometimes lack a .dsc the index lists while the orig is there.
        # The orig's sha256 and size are still those of the Sources index, whose
        # InRelease signature apt verified: enough to know Debian published it.
        cand, orig, upstream = orig_only[0]
        orig_sha, orig_size = cand.checksums[orig]
        cached = find_cached(dest, orig_sha, orig_size)
        final = cached if cached is not None else dest / orig
        if cached is None:
            os.replace(staged_dir / orig_sha, final)
            os.chmod(final, 0o644)
        _, repacked, holds = split_upstream(cand.version)
        log(f"{package} {cand.version}: no .dsc on the mirror; {orig} checked against the "
            f"signed Sources index only -> {final} (sha256 {orig_sha})")
        return Result(key, package, cand.version, upstream, orig_sha, orig_size, str(final.resolve()),
                      False, None, repacked, holds, dsc_checked=False)
    raise FetchError(f"no version of {package} could be downloaded: "
                     + ("; ".join(tried) or "none offered"))


def _candidates(package: str, in_suite: Dict[Tuple[str, str], List[str]],
                apt_options: Sequence[str] = ()) -> List[Candidate]:
    """Versions of ``package`` apt offers (through ``apt_options``) that ``in_suite`` lists."""
    proc = run(["apt-cache", *apt_options, "showsrc", "--only-source", package])
    try:
        cands = candidates_from_showsrc(proc.stdout, package)
    except ValueError as exc:
        raise FetchError(f"cannot parse apt-cache showsrc {package}: {exc}") from None
    kept = []
    for c in cands:
        c.suites = in_suite.get((package, c.version), [])
        c.apt_options = tuple(apt_options)
        if c.suites:
            kept.append(c)
    return kept


def _in_line(version: str, line: str) -> bool:
    try:
        holds = split_upstream(version)[2]
    except FetchError:
        return False
    return holds == line or holds.startswith(line + ".")


def fetch_package(key: str, package: str, suite: str,
                  in_suite: Dict[Tuple[str, str], List[str]], dest: Path,
                  scratch: Path, keyrings: Sequence[str],
                  require_signature: bool, *, line: str = "",
                  extra: Optional[Tuple[Sequence[str], Dict[Tuple[str, str], List[str]]]] = None) -> Result:
    """The newest version of ``package`` whose files the mirror serves, of ``line`` when given;
    ``extra``: (apt options, versions) of further suites read through a private apt state."""
    kept = _candidates(package, in_suite)
    if extra is not None:
        seen = {c.version for c in kept}
        kept += [c for c in _candidates(package, extra[1], extra[0]) if c.version not in seen]
    if line:
        for c in kept:
            if not _in_line(c.version, line):
                log(f"{package} {c.version}: ignored, not of line {line}")
        kept = [c for c in kept if _in_line(c.version, line)]
    if not kept:
        raise FetchError(f"apt offers no {package} source{' of line ' + line if line else ''} in {suite}*"
                         + (" or the extra suites" if extra else ""))
    order = sort_newest_first([c.version for c in kept], dpkg_compare)
    by_version = {c.version: c for c in kept}
    log(f"{package}: candidates newest first: {', '.join(order)}")
    return fetch_one(key, package, [by_version[v] for v in order], dest, scratch,
                     keyrings, require_signature)


def ensure_developer_keyring(keyrings: Sequence[str]) -> None:
    if any(Path(k).exists() for k in keyrings):
        return
    if not is_root():
        raise FetchError(f"--require-signature: {keyrings[0]} is missing and only "
                         f"root can install {DEVELOPER_KEYRING_PACKAGE}")
    log(f"installing {DEVELOPER_KEYRING_PACKAGE} (large) for --require-signature")
    run(["apt-get", "install", "-y", "--no-install-recommends",
         DEVELOPER_KEYRING_PACKAGE], check=True,
        what=f"apt-get install {DEVELOPER_KEYRING_PACKAGE}")
