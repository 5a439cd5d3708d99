#!/usr/bin/env python3
"""What the ssl trust patch costs: prints figures (median of many runs).

1. ``import ssl``: a stock and a patched copy of the same CPython, each in
   fresh processes (interleaved), plus the cost of executing the block alone.
2. ``ssl.create_default_context()`` per call where OpenSSL's compiled
   defaults are usable (this host, clean environment): stock vs patched, and
   the patch's own decision (``get_default_verify_paths()``) per call.
3. Where they are not (a Fedora layout in a mount namespace): the patched
   fallback vs the same bundle given by hand in ``SSL_CERT_FILE``.

4. The first ``create_default_context()`` of a fresh process (the patch's
   one-time decision: every path element, a hashed directory's entries),
   then the second, on both.

Usage: python3 ci/bench_trust.py [--python PREFIX] [--runs N] [--calls N] [--json]
PREFIX defaults to the stock CPython 3.13 of ci/stock_pythons.py (built first
if missing; any CPython 3.9+ prefix linked to an OpenSSL works).  Copies go to a temporary directory (hard links).
"""

from __future__ import annotations

import argparse
import json
import os

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pybuildssl import trust  # noqa: E402
from pybuildssl.fsutil import copy_prefix  # noqa: E402
from pybuildssl.verify import sandbox  # noqa: E402

IMPORT_SCRIPT = """\
import time
t = time.perf_counter_ns()
import ssl
print(time.perf_counter_ns() - t)
"""

#: The module body alone, warm: unmarshal an ssl .pyc and execute it (what
#: `import ssl` costs beyond loading _ssl and libssl).  argv: runs, then the
#: stock and the patched .pyc, alternated in one process so drift hits both.
BODY_SCRIPT = """\
import marshal, ssl, statistics, sys, time, types
blobs = [open(p, "rb").read()[16:] for p in sys.argv[2:4]]
ts = [[], []]
for _ in range(int(sys.argv[1])):
    for i, data in enumerate(blobs):
        t = time.perf_counter_ns()
        m = types.ModuleType("ssl")
        m.__file__ = ssl.__file__
        sys.modules["ssl"] = m
        exec(marshal.loads(data), m.__dict__)
        ts[i].append(time.perf_counter_ns() - t)
print(statistics.median(ts[0]), statistics.median(ts[1]))
"""

#: argv: calls, then variants as JSON {"name", "env": {...}, "stock_method": bool}.
#: Variants are interleaved call by call in one process, so drift hits all alike.
CALLS_SCRIPT = """\
import json, os, ssl, statistics, sys, time
n = int(sys.argv[1])
variants = [json.loads(v) for v in sys.argv[2:]]
patched = ssl.SSLContext.__dict__.get("set_default_verify_paths")
def use(v):
    for k in ("SSL_CERT_FILE", "SSL_CERT_DIR", "PYBUILDSSL_NO_FALLBACK"):
        os.environ.pop(k, None)
    os.environ.update(v.get("env", {}))
    if patched is not None:
        if v.get("stock_method"):
            del ssl.SSLContext.set_default_verify_paths
        else:
            ssl.SSLContext.set_default_verify_paths = patched
ctx_ns = {v["name"]: [] for v in variants}
gdvp_ns = {v["name"]: [] for v in variants}
info = {}
for i in range(n + 1):
    for v in variants:
        use(v)
        t = time.perf_counter_ns()
        ctx = ssl.create_default_context()
        t1 = time.perf_counter_ns()
        if i:  # the first round warms up
            ctx_ns[v["name"]].append(t1 - t)
        else:
            info[v["name"]] = {
                "source": ssl._pybuildssl_resolve()["source"] if hasattr(ssl, "_pybuildssl_resolve") else "stock",
                "ca_certs": len(ctx.get_ca_certs()),
            }
        if patched is not None:
            ssl.SSLContext.set_default_verify_paths = patched
ctx = None
for _ in range(7):  # the decision alone: batches of 500 calls, interleaved
    for v in variants:
        use(v)
        t = time.perf_counter_ns()
        for _ in range(500):
            ssl.get_default_verify_paths()
        gdvp_ns[v["name"]].append((time.perf_counter_ns() - t) / 500)
        if patched is not None:
            ssl.SSLContext.set_default_verify_paths = patched
out = {}
for v in variants:
    name = v["name"]
    out[name] = dict(info[name], create_default_context_ns=statistics.median(ctx_ns[name]),
                     get_default_verify_paths_ns=statistics.median(gdvp_ns[name]))
print(json.dumps(out))
"""


#: The first contexts of a fresh process: the first pays the patch's one-time
#: decision (walking every path element, a hashed directory's entries).
FIRST_SCRIPT = """\
import ssl, time
t0 = time.perf_counter_ns()
ssl.create_default_context()
t1 = time.perf_counter_ns()
ssl.create_default_context()
t2 = time.perf_counter_ns()
print(t1 - t0, t2 - t1)
"""


def first_calls(exe: str, runs: int, env: dict | None = None, layout=None) -> dict:
    """Median (first, second) create_default_context() in fresh processes, in us."""
    firsts, seconds = [], []
    argv = [exe, "-I", "-c", FIRST_SCRIPT]
    for _ in range(runs):
        if layout is None:
            proc = subprocess.run(argv, env=sandbox.clean_env(env), capture_output=True, text=True)
        else:
            proc = sandbox.run_in_layout(layout, argv, env=sandbox.clean_env(env), timeout=120)
        if proc.returncode != 0:
            raise SystemExit(f"{exe} failed: {proc.stderr[-2000:]}")
        a, b = proc.stdout.split()
        firsts.append(int(a) / 1e3)
        seconds.append(int(b) / 1e3)
    return {"first_us": statistics.median(firsts), "second_us": statistics.median(seconds)}


def interpreter(prefix: Path) -> str:
    (ssl_py,) = trust.find_ssl_py(prefix)
    exe = prefix / "bin" / ssl_py.parent.name
    return str(exe if exe.exists() else prefix / "bin" / "python3")


def import_times(exe: str, runs: int) -> tuple[list[float], list[float]]:
    inproc, wall = [], []
    env = sandbox.clean_env()
    for _ in range(runs):
        t = time.perf_counter_ns()
        out = subprocess.run([exe, "-I", "-c", IMPORT_SCRIPT], env=env, capture_output=True,
                             text=True, check=True).stdout
        wall.append((time.perf_counter_ns() - t) / 1e6)
        inproc.append(int(out) / 1e6)
    return inproc, wall


def block_exec_us(repeat: int = 2000) -> float:
    """Executing the block alone, in a copy of a real ssl module namespace."""
    import ssl

    code = compile(trust.render_patch("linux"), "<block>", "exec")
    ns = dict(vars(ssl))
    ns["SSLContext"] = type("SSLContext", (ssl.SSLContext,), {})  # leave the real class alone
    best = []
    for _ in range(5):
        t = time.perf_counter_ns()
        for _ in range(repeat):
            exec(code, dict(ns))
        best.append((time.perf_counter_ns() - t) / repeat / 1e3)
    return min(best)


def calls(exe: str, n: int, variants: list[dict], layout=None) -> dict:
    argv = [exe, "-I", "-c", CALLS_SCRIPT, str(n), *[json.dumps(v) for v in variants]]
    env = sandbox.clean_env()
    if layout is None:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    else:
        proc = sandbox.run_in_layout(layout, argv, env=env, timeout=1200)
    if proc.returncode != 0:
        raise SystemExit(f"{exe} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def unpatch(prefix: Path) -> None:
    """Strip the block from a (hard-linked) copy: a new file, never a write in place."""
    for ssl_py in trust.find_ssl_py(prefix):
        text = ssl_py.read_text(encoding="utf-8")
        if trust.is_patched(text):
            tmp = ssl_py.with_suffix(".tmp")
            tmp.write_text(trust.strip_from_text(text), encoding="utf-8")
            os.replace(tmp, ssl_py)
            for pyc in (ssl_py.parent / "__pycache__").glob("ssl.*.pyc"):
                pyc.unlink()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", type=Path, help="an installation prefix (default: the stock CPython 3.13)")
    ap.add_argument("--runs", type=int, default=40, help="processes per import measurement")
    ap.add_argument("--calls", type=int, default=200, help="calls per per-call measurement")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.python is None:
        sys.path.insert(0, str(REPO / "ci"))
        import stock_pythons

        args.python = stock_pythons.ensure("3.13")
    if not trust.find_ssl_py(args.python):
        raise SystemExit(f"no ssl.py under {args.python}")

    results: dict = {"python": str(args.python)}
    with tempfile.TemporaryDirectory(prefix="pybuildssl-bench-") as tmp:
        stock_prefix = copy_prefix(args.python, Path(tmp) / "stock")
        unpatch(stock_prefix)  # a pybuildssl artifact is patched already: its stock twin is not
        stock = interpreter(stock_prefix)
        patched_prefix = copy_prefix(args.python, Path(tmp) / "patched")
        trust.patch_prefix(patched_prefix)
        patched = interpreter(patched_prefix)

        # 1. import ssl (interleaved, so drift hits both alike)
        s_in, s_wall, p_in, p_wall = [], [], [], []
        for _ in range(args.runs):
            a, b = import_times(stock, 1)
            s_in += a
            s_wall += b
            a, b = import_times(patched, 1)
            p_in += a
            p_wall += b
        results["import_ssl_ms"] = {
            "stock": statistics.median(s_in), "patched": statistics.median(p_in),
            "stock_min": min(s_in), "patched_min": min(p_in),
            "stock_process_wall": statistics.median(s_wall),
            "patched_process_wall": statistics.median(p_wall),
            "runs": args.runs,
        }
        results["block_exec_us"] = block_exec_us()
        pycs = []
        for exe in (stock, patched):
            out = subprocess.run([exe, "-I", "-c", "import ssl; print(ssl.__cached__)"],
                                 env=sandbox.clean_env(), capture_output=True, text=True,
                                 check=True).stdout.strip()
            pycs.append(out)
        out = subprocess.run([patched, "-I", "-c", BODY_SCRIPT, "400", *pycs],
                             env=sandbox.clean_env(), capture_output=True, text=True,
                             check=True).stdout.split()
        body = {"stock": float(out[0]) / 1e3, "patched": float(out[1]) / 1e3,
                "stock_pyc_bytes": os.path.getsize(pycs[0]),
                "patched_pyc_bytes": os.path.getsize(pycs[1])}
        results["ssl_module_body_us"] = body

        # 2. compiled defaults usable (this host, clean environment)
        results["host"] = {
            "stock interpreter": calls(stock, args.calls, [{"name": "stock"}])["stock"],
            **calls(patched, args.calls, [
                {"name": "patched"},
                {"name": "patched, method unpatched", "stock_method": True},
            ]),
        }

        runs = max(5, args.runs // 4)
        results["first_host"] = {"stock": first_calls(stock, runs), "patched": first_calls(patched, runs)}

        # 3. compiled defaults unusable: Fedora layout
        try:
            sandbox.check_available()
        except sandbox.SandboxUnavailable as e:
            results["fedora"] = {"skipped": str(e)}
        else:
            layout = sandbox.layout_for("fedora")
            bundle = "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"
            hashdir = "/etc/pki/ca-trust/extracted/pem/directory-hash"
            results["fedora"] = calls(patched, args.calls, [
                {"name": "fallback (patched)"},
                {"name": "SSL_CERT_FILE=bundle", "env": {"SSL_CERT_FILE": bundle}},
                {"name": "SSL_CERT_FILE=bundle, method unpatched",
                 "env": {"SSL_CERT_FILE": bundle}, "stock_method": True},
                {"name": "SSL_CERT_DIR=hash dir", "env": {"SSL_CERT_DIR": hashdir}},
                {"name": "nothing (opt-out)", "env": {trust.OPT_OUT_ENV: "1"}},
            ], layout=layout)
            results["first_fedora"] = {
                "patched (fallback)": first_calls(patched, runs, layout=layout),
                "stock, SSL_CERT_DIR=hash dir": first_calls(stock, runs, {"SSL_CERT_DIR": hashdir}, layout),
                "stock, SSL_CERT_FILE=bundle": first_calls(stock, runs, {"SSL_CERT_FILE": bundle}, layout),
            }

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    imp = results["import_ssl_ms"]
    print(f"CPython: {results['python']}")
    print(f"\nimport ssl (median of {imp['runs']} fresh processes each)")
    print(f"  stock    {imp['stock']:8.3f} ms in-process   {imp['stock_process_wall']:7.2f} ms whole process")
    print(f"  patched  {imp['patched']:8.3f} ms in-process   {imp['patched_process_wall']:7.2f} ms whole process")
    print(f"  difference {imp['patched'] - imp['stock']:+.3f} ms (medians), "
          f"{imp['patched_min'] - imp['stock_min']:+.3f} ms (minima); executing the block alone: "
          f"{results['block_exec_us']:.1f} us")
    body = results["ssl_module_body_us"]
    print(f"  ssl.py module body alone (unmarshal + exec, warm, alternated, median of 400): "
          f"stock {body['stock']:.0f} us, patched {body['patched']:.0f} us "
          f"({body['patched'] - body['stock']:+.0f} us; .pyc {body['stock_pyc_bytes']} -> "
          f"{body['patched_pyc_bytes']} bytes)")

    def row(label: str, r: dict) -> None:
        if "skipped" in r:
            print(f"  {label:24s} skipped: {r['skipped']}")
            return
        print(f"  {label:38s} {r['create_default_context_ns'] / 1e3:9.1f} us/context  "
              f"{r['get_default_verify_paths_ns'] / 1e3:6.2f} us/get_default_verify_paths  "
              f"source={r['source']:9s} ca_certs={r['ca_certs']}")

    print(f"\nper call, median of {args.calls} (variants interleaved in one process): host (compiled defaults usable, clean env)")
    for k, v in results["host"].items():
        row(k, v)
    print("\nper call: Fedora layout (compiled defaults missing), mount namespace")
    if "skipped" in results["fedora"]:
        print(f"  skipped: {results['fedora']['skipped']}")
    else:
        for k, v in results["fedora"].items():
            row(k, v)
    print("\nfresh processes: the first create_default_context() (pays the one-time decision), then the second")
    for section in ("first_host", "first_fedora"):
        for k, v in results.get(section, {}).items():
            print(f"  {section[6:]:7s} {k:32s} first {v['first_us']:9.1f} us   second {v['second_us']:9.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
