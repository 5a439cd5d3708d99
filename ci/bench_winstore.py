#!/usr/bin/env python3
"""The winstore proof, and its cost: OpenSSL cross-built for Windows, run under Wine.

What it shows (tests/integration/test_winstore.py asserts the same):

* OpenSSL, cross-built with mingw-w64 from the Windows recipe's source pin,
  WITH ``recipes/patches/openssl-winstore-default-paths.patch``: ``openssl.exe
  s_client`` verifies a loopback server whose CA is only in the Windows ROOT
  store, through the *default* verify paths (no -CAfile, -CApath, -CAstore);
* the same OpenSSL WITHOUT the patch fails there (and, as a control, succeeds
  with ``-CAstore org.openssl.winstore://``: the CA really is in the store);
* a server whose CA is in no store fails with the patch.

How the CA gets into Wine's ROOT store without touching this machine's: Wine's
crypt32 copies the host's CA bundle (``/etc/ssl/certs/ca-certificates.crt``
first) into the prefix's ROOT store when the store is opened.  The Wine
commands run in a mount namespace (:func:`pybuildssl.verify.sandbox.run_in_layout`)
whose Debian layout holds the host's roots plus the test CA, with a fresh
WINEPREFIX created inside it.

The cross builds are cached outside the checkout, keyed by their inputs:
``$PYBUILDSSL_CACHE/winstore/openssl-KEY/`` (else ``~/.cache/pybuildssl``).

Prints the cross-build time (measured when the build ran; read back from the
cache stamp otherwise) and the test time.

Usage:  python3 ci/bench_winstore.py [--source-dir DIR] [--set openssl.version=...
        --set openssl.sha256=...] [--rebuild] [--json]
Without --set the pin is the windows-x86_64 recipe's; ci/fetch_sources.py
--dest DIR prints the --set lines for the tarball Debian carries.
Debian packages it needs (installed when missing, as root):
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: Debian packages: the cross compiler, Wine (64-bit), and what the build uses.
APT_PACKAGES = ("gcc-mingw-w64-x86-64", "wine64", "make", "perl", "patch", "util-linux")
#: Bumped when the cross build changes in a way its inputs do not show.
HARNESS_VERSION = "2"
PATCH_NAME = "openssl-winstore-default-paths.patch"
CROSS_PREFIX = "x86_64-w64-mingw32-"
WINSTORE_URI = "org.openssl.winstore://"

__doc__ = __doc__.rstrip() + " " + " ".join(APT_PACKAGES) + "\n"  # type: ignore[operator]


#: The tiny client: exactly what CPython's SSLContext.set_default_verify_paths()
#: does (SSL_CTX_set_default_verify_paths -> X509_STORE_set_default_paths_ex),
#: then a verified handshake.  openssl s_client takes the other road to the
#: default store (SSL_CTX_set_default_verify_store); the patch serves both.
CLIENT_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>

int main(int argc, char **argv)
{
    SSL_CTX *ctx;
    BIO *bio;
    SSL *ssl = NULL;
    long res;

    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST:PORT NAME\n", argv[0]);
        return 2;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL || !SSL_CTX_set_default_verify_paths(ctx)) {
        ERR_print_errors_fp(stdout);
        return 3;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    bio = BIO_new_ssl_connect(ctx);
    BIO_get_ssl(bio, &ssl);
    SSL_set_tlsext_host_name(ssl, argv[2]);
    SSL_set1_host(ssl, argv[2]);
    BIO_set_conn_hostname(bio, argv[1]);
    if (BIO_do_connect(bio) <= 0 || BIO_do_handshake(bio) <= 0) {
        res = SSL_get_verify_result(ssl);
        printf("verify error:num=%ld:%s\n", res, X509_verify_cert_error_string(res));
        ERR_print_errors_fp(stdout);
        return 1;
    }
    printf("Verification: OK\n");
    BIO_free_all(bio);
    SSL_CTX_free(ctx);
    return 0;
}
"""
CLIENT_EXE = "default_paths_client.exe"


class HarnessError(Exception):
    """This machine cannot run the proof: one clear sentence (and what to do)."""


# ----------------------------------------------------------------- inputs ---

def cache_root() -> Path:
    from pybuildssl.cache import default_cache_dir

    return default_cache_dir()


def recipe_patch(name: str = PATCH_NAME) -> tuple[Path, str]:
    """The patch file and its pin, as the windows-x86_64 recipe lists it."""
    from pybuildssl import recipe

    r = recipe.load("windows-x86_64-winstore")
    for p in r.openssl.patches:
        if p["file"] == name:
            return recipe.builtin_dir() / "patches" / name, p["sha256"]
    raise HarnessError(f"the windows-x86_64 recipe does not list {name}")


def configure_args(openssldir: str) -> list[str]:
    """The Windows recipe's OpenSSL options, for mingw: static (openssl.exe
    needs no DLL next to it) and with the apps (the proof runs s_client)."""
    from pybuildssl import recipe
    from pybuildssl.platforms import windows

    r = recipe.load("windows-x86_64-winstore")
    opts = [o for o in windows.openssl_options(r) if o not in ("no-apps",)]
    opts = ["no-shared" if o == "shared" else o for o in opts]
    if "no-shared" not in opts:
        opts.insert(0, "no-shared")
    # Configure runs on Linux here, where "C:/..." is not an absolute path: a
    # relative --openssldir is appended to --prefix, which gives OPENSSLDIR
    # exactly (ENGINESDIR and MODULESDIR follow the prefix and are never
    # searched: no-engine, no-module).
    parent, _, name = openssldir.replace("\\", "/").rpartition("/")
    return ["mingw64", f"--cross-compile-prefix={CROSS_PREFIX}", f"--prefix={parent}",
            f"--openssldir={name}", *opts]


# ------------------------------------------------------------------ tools ---

def ensure_packages(packages: Sequence[str] = APT_PACKAGES) -> list[str]:
    """Install the Debian packages that are missing; returns what was installed."""
    missing = [p for p in packages if not _dpkg_installed(p)]
    if not missing:
        return []
    if shutil.which("apt-get") is None:
        raise HarnessError(f"missing packages {' '.join(missing)} and no apt-get to install them")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (sudo + ["apt-get", "update", "-qq"],
                 sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]):
        r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800)
        if r.returncode != 0:
            raise HarnessError(f"`{' '.join(argv)}` failed: {r.stderr.strip()[-800:]}")
    return missing


def _dpkg_installed(pkg: str) -> bool:
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    except FileNotFoundError:
        return shutil.which(pkg) is not None
    return r.returncode == 0 and "install ok installed" in r.stdout


def wine_command() -> list[str]:
    """How to start a 64-bit Windows program here (Debian's wine64 package)."""
    for cand in ("wine64", "/usr/lib/wine/wine64", "wine"):
        path = shutil.which(cand) or (cand if os.path.isfile(cand) and os.access(cand, os.X_OK) else None)
        if path:
            return [path]
    raise HarnessError("Wine is not installed (Debian: apt-get install wine64)")


def toolchain() -> str:
    gcc = CROSS_PREFIX + "gcc"
    if shutil.which(gcc) is None:
        raise HarnessError(f"{gcc} not found (Debian: apt-get install gcc-mingw-w64-x86-64)")
    out = subprocess.run([gcc, "--version"], capture_output=True, text=True).stdout
    return (out.splitlines() or [gcc])[0].strip()


# ----------------------------------------------------------------- builds ---

@dataclass
class CrossBuild:
    """openssl.exe (static, mingw-w64), with or without the winstore patch."""

    exe: Path               # openssl.exe; the tiny client sits beside it (CLIENT_EXE)
    patched: bool
    seconds: float          # wall time of the build that made it
    cached: bool            # True: taken from the cache this time
    key: str
    configure: list[str] = field(default_factory=list)


def source_tarball(version: str, sha256: str, source_dirs: Sequence[Path] = ()) -> Path:
    """The OpenSSL tarball with this sha256: from the source dirs, the cache or
    the recipe's URLs (the project's one download door)."""
    from pybuildssl import recipe, sources

    overrides = [f"openssl.version={json.dumps(version)}", f"openssl.sha256={json.dumps(sha256)}"]
    r = recipe.load("windows-x86_64-winstore", overrides)
    dirs = list(source_dirs) + sources.source_dirs_from_env()
    return sources.Sources(cache_root(), dirs).fetch(r.openssl)


def _key(sha256: str, patch_sha: str | None, conf: list[str], tc: str) -> str:
    return hashlib.sha256(json.dumps([HARNESS_VERSION, sha256, patch_sha, conf, tc]).encode()).hexdigest()[:16]


def _cached(out: Path) -> dict | None:
    stamp = out / ".complete.json"
    if stamp.is_file() and (out / "openssl.exe").is_file() and (out / CLIENT_EXE).is_file():
        return json.loads(stamp.read_text())
    return None


def cross_build_pair(tarball: Path, sha256: str, *, jobs: int = 0, rebuild: bool = False,
                     openssldir: str = "C:/Program Files/Common Files/SSL",
                     log=lambda s: None) -> dict[str, CrossBuild]:
    """openssl.exe without and with the winstore patch: {"unpatched": ..., "patched": ...}.

    One source tree serves both: a full build without the patch, then the
    patch (``patch -p1 --forward``, as the recipe executor applies it) and an
    incremental ``make`` that recompiles crypto/x509/by_store.c and relinks.
    Each result is cached by its own inputs; a cached one is not rebuilt.
    """
    patch_path, patch_pin = recipe_patch()
    patch_sha = hashlib.sha256(patch_path.read_bytes()).hexdigest()
    if patch_sha != patch_pin:
        raise HarnessError(f"{patch_path.name}: sha256 {patch_sha} does not match the recipe's pin {patch_pin}")
    conf = configure_args(openssldir)
    tc = toolchain()
    outs = {"unpatched": cache_root() / "winstore" / f"openssl-{_key(sha256, None, conf, tc)}",
            "patched": cache_root() / "winstore" / f"openssl-{_key(sha256, patch_sha, conf, tc)}"}
    result: dict[str, CrossBuild] = {}
    for name, out in outs.items():
        info = None if rebuild else _cached(out)
        if info:
            result[name] = CrossBuild(out / "openssl.exe", name == "patched", float(info["seconds"]), True,
                                      out.name.split("-", 1)[1], conf)
    if len(result) == 2:
        return result
    parent = cache_root() / "winstore"
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=str(parent)))
    logf = parent / "build.log"  # the last build's log
    try:
        with open(logf, "w") as lf:
            def run(argv: list[str], cwd: Path) -> None:
                lf.write("$ " + shlex.join(argv) + "\n")
                lf.flush()
                r = subprocess.run(argv, cwd=str(cwd), stdout=lf, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
                if r.returncode != 0:
                    raise HarnessError(f"`{shlex.join(argv)}` failed (exit {r.returncode}); log: {logf}")

            n = jobs or os.cpu_count() or 2
            t0 = time.monotonic()
            log(f"extract {tarball.name}")
            run(["tar", "-xf", str(tarball), "-C", str(work)], work)
            (src,) = [p for p in work.iterdir() if p.is_dir()]
            log("configure: perl Configure " + shlex.join(conf))
            run(["perl", "Configure", *conf], src)
            for name in ("unpatched", "patched"):
                if name == "patched":
                    t0 = time.monotonic()
                    log(f"patch {patch_path.name} (incremental rebuild)")
                    run(["patch", "-p1", "--forward", "-i", str(patch_path)], src)
                else:
                    log(f"make -j{n} build_programs (the mingw-w64 cross build)")
                run(["make", f"-j{n}", "build_programs"], src)
                seconds = round(time.monotonic() - t0, 1)
                out = outs[name]
                if name in result:
                    continue
                if out.exists():
                    shutil.rmtree(out)
                out.mkdir(parents=True)
                shutil.copy2(src / "apps" / "openssl.exe", out / "openssl.exe")
                client_c = work / "default_paths_client.c"
                client_c.write_text(CLIENT_C)
                run([CROSS_PREFIX + "gcc", "-O2", "-static", "-I", str(src / "include"), str(client_c),
                     str(src / "libssl.a"), str(src / "libcrypto.a"), "-lws2_32", "-lgdi32", "-lcrypt32",
                     "-o", str(out / CLIENT_EXE)], src)
                (out / ".complete.json").write_text(json.dumps(
                    {"seconds": seconds, "patched": name == "patched", "configure": conf, "toolchain": tc,
                     "source_sha256": sha256, "incremental": name == "patched"}, indent=1) + "\n")
                result[name] = CrossBuild(out / "openssl.exe", name == "patched", seconds, False,
                                          out.name.split("-", 1)[1], conf)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def cross_build(tarball: Path, sha256: str, *, patched: bool, **kw) -> CrossBuild:
    return cross_build_pair(tarball, sha256, **kw)["patched" if patched else "unpatched"]


# ------------------------------------------------------------------- Wine ---

#: Runs inside the sandbox (``python -I -S``): makes a fresh Wine prefix (Wine
#: fills its ROOT store from the namespace's CA bundle), runs every scenario
#: and prints one JSON object.  argv[1]: JSON {"wine", "prefix", "runs"}.
DRIVER = r'''
import json, os, subprocess, sys, time
spec = json.loads(sys.argv[1])
wine = spec["wine"]
env = dict(os.environ, WINEPREFIX=spec["prefix"], WINEDEBUG="-all",
           WINEDLLOVERRIDES="mscoree,mshtml=", WINEARCH="win64")
out = {"runs": {}}
t0 = time.monotonic()
r = subprocess.run(wine + ["wineboot", "-i"], env=env, capture_output=True, text=True,
                   stdin=subprocess.DEVNULL, timeout=300)
out["wineboot"] = {"rc": r.returncode, "seconds": round(time.monotonic() - t0, 2),
                   "stderr": r.stderr[-2000:]}
if r.returncode == 0:
    for name, argv in spec["runs"]:
        t = time.monotonic()
        try:
            p = subprocess.run(wine + argv, env=env, capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=120)
            rc, text = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            rc, text = 124, "timed out: %s" % e
        out["runs"][name] = {"rc": rc, "output": text[-4000:], "seconds": round(time.monotonic() - t, 2)}
server = os.path.join(os.path.dirname(wine[0]), "wineserver")
subprocess.run([server if os.path.exists(server) else "wineserver", "-k"], env=env,
               capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
print(json.dumps(out))
'''


@dataclass
class Scenario:
    name: str
    exe: str             # "patched" | "unpatched"
    server: str          # "trusted" | "unknown"
    extra: list[str]     # s_client arguments beyond the common ones
    expect_ok: bool
    sandboxed: bool = True
    why: str = ""
    program: str = "s_client"   # or "client": the tiny SSL_CTX_set_default_verify_paths() client


SCENARIOS = (
    Scenario("patched-default-paths", "patched", "trusted", [], True, why=(
        "with the patch, s_client's default verify store is the Windows ROOT store")),
    Scenario("unpatched-default-paths", "unpatched", "trusted", [], False, why=(
        "stock OpenSSL never consults winstore through the default paths")),
    Scenario("patched-set-default-verify-paths", "patched", "trusted", [], True, program="client", why=(
        "CPython's call, SSL_CTX_set_default_verify_paths(), reaches the ROOT store with the patch")),
    Scenario("unpatched-set-default-verify-paths", "unpatched", "trusted", [], False, program="client", why=(
        "... and does not without it")),
    Scenario("patched-unknown-ca", "patched", "unknown", [], False, why=(
        "a CA that is in no store is not trusted")),
    Scenario("patched-unknown-ca-set-default-verify-paths", "patched", "unknown", [], False, program="client",
             why="the same through CPython's call"),
    Scenario("unpatched-explicit-castore", "unpatched", "trusted", ["-CAstore", WINSTORE_URI], True, why=(
        "control: the test CA really is in Wine's ROOT store (loaded by URI)")),
    Scenario("patched-outside-namespace", "patched", "trusted", [], False, sandboxed=False, why=(
        "control: a Wine prefix made outside the namespace does not know the test CA")),
)


def scenario_argv(s: Scenario, build: CrossBuild, port: int) -> list[str]:
    if s.program == "client":
        return [str(build.exe.with_name(CLIENT_EXE)), f"127.0.0.1:{port}", "localhost"]
    return s_client_argv(build.exe, port, s.extra)


def s_client_argv(exe: Path, port: int, extra: Sequence[str]) -> list[str]:
    """No -CAfile, -CApath or -CAstore unless ``extra`` gives one: the default paths."""
    return [str(exe), "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
            "-verify_hostname", "localhost", "-verify_return_error", "-brief", *extra]


@dataclass
class Outcome:
    scenario: Scenario
    rc: int
    output: str
    seconds: float

    @property
    def verified(self) -> bool:
        return self.rc == 0 and "Verification: OK" in self.output

    @property
    def as_expected(self) -> bool:
        return self.verified == self.scenario.expect_ok


def check_wine_runs(wine: Sequence[str]) -> None:
    """Fail clearly when Wine cannot start a Windows program here at all."""
    with tempfile.TemporaryDirectory(prefix="winstore-wine-probe-") as tmp:
        env = dict(os.environ, WINEPREFIX=os.path.join(tmp, "prefix"), WINEDEBUG="-all",
                   WINEDLLOVERRIDES="mscoree,mshtml=")
        try:
            r = subprocess.run([*wine, "cmd", "/c", "echo", "pybuildssl-wine-ok"], env=env, capture_output=True,
                               text=True, stdin=subprocess.DEVNULL, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise HarnessError(f"Wine cannot run here: {e}") from None
        finally:
            subprocess.run([*_wineserver(wine), "-k"], env=env, capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=60)
        if "pybuildssl-wine-ok" not in r.stdout:
            raise HarnessError(f"Wine cannot run a Windows program here (exit {r.returncode}): "
                               f"{(r.stderr or r.stdout).strip()[-800:]}")


def _wineserver(wine: Sequence[str]) -> list[str]:
    cand = Path(wine[-1]).with_name("wineserver")
    return [str(cand)] if cand.is_file() else ["wineserver"]


def run_scenarios(builds: dict[str, CrossBuild], *, log=lambda s: None) -> tuple[list[Outcome], dict]:
    """Every :data:`SCENARIOS` entry against loopback servers; (outcomes, timings)."""
    from pybuildssl.verify import sandbox, tls

    wine = wine_command()
    sandbox.check_available()
    ca = tls.CA("pybuildssl winstore test CA")
    unknown = tls.CA("pybuildssl CA in no store")
    timings: dict[str, float] = {}
    outcomes: list[Outcome] = []
    t_all = time.monotonic()
    with tls.HTTPSServer(ca.issue("localhost", "127.0.0.1")) as trusted, \
            tls.HTTPSServer(unknown.issue("localhost", "127.0.0.1")) as stranger, \
            tempfile.TemporaryDirectory(prefix="winstore-") as tmp:
        ports = {"trusted": trusted.port, "unknown": stranger.port}
        for sandboxed in (True, False):
            group = [s for s in SCENARIOS if s.sandboxed == sandboxed]
            runs = [(s.name, scenario_argv(s, builds[s.exe], ports[s.server])) for s in group]
            spec = json.dumps({"wine": wine, "prefix": os.path.join(tmp, f"prefix-{int(sandboxed)}"),
                               "runs": runs})
            argv = [sys.executable, "-I", "-S", "-c", DRIVER, spec]
            t = time.monotonic()
            if sandboxed:
                log("wine in a mount namespace whose Debian CA bundle also holds the test CA")
                layout = sandbox.layout_for("debian", [ca.cert_pem])
                proc = sandbox.run_in_layout(layout, argv, timeout=900)
            else:
                log("wine outside the namespace (the host's own CA bundle)")
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=900,
                                      env=sandbox.clean_env(), stdin=subprocess.DEVNULL)
            timings["namespace" if sandboxed else "host"] = round(time.monotonic() - t, 2)
            try:
                data = json.loads(proc.stdout.strip().splitlines()[-1])
            except (IndexError, ValueError):
                raise HarnessError(f"the Wine driver failed (exit {proc.returncode}): "
                                   f"{(proc.stderr or proc.stdout).strip()[-1500:]}") from None
            boot = data["wineboot"]
            timings["wineboot-" + ("namespace" if sandboxed else "host")] = boot["seconds"]
            if boot["rc"] != 0:
                raise HarnessError(f"wineboot failed (exit {boot['rc']}): {boot['stderr'].strip()[-800:]}")
            for s in group:
                r = data["runs"][s.name]
                outcomes.append(Outcome(s, r["rc"], r["output"], r["seconds"]))
    timings["total"] = round(time.monotonic() - t_all, 2)
    return outcomes, timings


# -------------------------------------------------------------------- CLI ---

def _sets_to_pin(sets: Sequence[str], override_files: Sequence[Path] = ()) -> tuple[str, str]:
    from pybuildssl import recipe

    # only the OpenSSL pin matters here; also takes `--set K=V` token lists
    overrides = [x for x in sets if x != "--set" and x.startswith("openssl.") and "=" in x]
    r = recipe.load("windows-x86_64-winstore", overrides, override_files=override_files)
    return r.openssl.version, r.openssl.sha256


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source-dir", action="append", type=Path, default=[])
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--overrides", action="append", type=Path, default=[], metavar="FILE",
                    help="a recipe override file (ci/fetch_sources.py --overrides-out)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild even when the cache has both builds")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    progress = (lambda s: print(f"* {s}", file=sys.stderr, flush=True))
    try:
        installed = ensure_packages()
        if installed:
            progress("installed " + " ".join(installed))
        version, sha = _sets_to_pin(args.sets, args.overrides)
        tarball = source_tarball(version, sha, args.source_dir)
        t = time.monotonic()
        builds = cross_build_pair(tarball, sha, rebuild=args.rebuild, log=progress)
        build_wall = round(time.monotonic() - t, 1)
        check_wine_runs(wine_command())
        outcomes, timings = run_scenarios(builds, log=progress)
    except HarnessError as e:
        print(f"bench_winstore: {e}", file=sys.stderr)
        return 2
    result = {
        "openssl": version,
        "cross_build_seconds": {k: b.seconds for k, b in builds.items()},
        "cross_build_cached": {k: b.cached for k, b in builds.items()},
        "cross_build_wall_seconds_this_run": build_wall,
        "test_seconds": timings,
        "scenarios": [{"name": o.scenario.name, "expected_ok": o.scenario.expect_ok, "verified": o.verified,
                       "as_expected": o.as_expected, "rc": o.rc, "seconds": o.seconds} for o in outcomes],
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"OpenSSL {version} cross-built with mingw-w64 (cache: {cache_root() / 'winstore'})")
        for k, b in builds.items():
            print(f"  {k:<10} build {b.seconds:7.1f} s{'  (from cache)' if b.cached else ''}"
                  f"{'  (incremental: patch + relink)' if k == 'patched' else '  (full build)'}")
        print(f"  wall time for builds in this run: {build_wall:.1f} s")
        print("Under Wine, s_client against loopback servers:")
        for o in outcomes:
            mark = "ok " if o.as_expected else "BAD"
            print(f"  [{mark}] {o.scenario.name:<43} verified={str(o.verified):<5} "
                  f"(expected {o.scenario.expect_ok}) {o.seconds:5.2f} s  {o.scenario.why}")
        print("Test time: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return 0 if all(o.as_expected for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
