"""Command line: ``main(argv) -> int``.  The only place that prints errors and picks exit codes.

Exit codes: 0 success, 1 a failed build or check, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Callable

from . import __version__
from .errors import BuildError, PybuildsslError, UsageError
from .ui import NORMAL, QUIET, UI, VERBOSE


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}", hint=f"see `{self.prog} --help`")


def _add(sub, name: str, help: str, examples: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=help, epilog="examples:\n" + examples,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _recipe_args(p: argparse.ArgumentParser, optional: bool = False) -> None:
    p.add_argument("recipe", nargs="?" if optional else None,
                   help="recipe name (see `pybuildssl recipes`) or path to a .toml file"
                   + ("; default: the generic recipe for this host" if optional else ""))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe key, e.g. --set openssl.version=3.5.7 (repeatable)")
    p.add_argument("--overrides", dest="override_files", action="append", default=[], type=Path,
                   metavar="FILE", help="a TOML file of recipe keys applied over the recipe, before any "
                   "--set (repeatable; ci/fetch_sources.py writes one)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pybuildssl", description=(
        "Build relocatable Python distributions whose ssl module trusts the target system's CA store."),
        epilog="examples:\n  pybuildssl build\n  pybuildssl verify dist/*.tar.gz\n  pybuildssl doctor",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"pybuildssl {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors and results")
    parser.add_argument("-v", "--verbose", action="store_true", help="echo commands and their output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = _add(sub, "recipes", "list the shipped recipes, or show one resolved",
             "  pybuildssl recipes\n  pybuildssl recipes show linux-x86_64-rhel --set openssl.openssldir=/etc/ssl")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("name", nargs="?")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--overrides", dest="override_files", action="append", default=[], type=Path,
                   metavar="FILE", help="a TOML file of recipe keys applied before any --set")
    p.add_argument("--json", action="store_true")

    p = _add(sub, "plan", "print every step `build` would run (argv, env, cwd), running nothing",
             "  pybuildssl plan linux-x86_64-generic\n  pybuildssl plan windows-x86_64 --json")
    _recipe_args(p, optional=True)
    p.add_argument("--json", action="store_true")
    p.add_argument("--cache", type=Path, help="cache directory (default: $PYBUILDSSL_CACHE or ~/.cache/pybuildssl)")
    p.add_argument("-j", "--jobs", type=int, default=0)
    p.add_argument("--toolchain-id", metavar="ID",
                   help="the compiler identity the keys are computed for (default: ask the host's cc once; "
                        "with it, plan reads nothing but the recipe)")

    p = _add(sub, "build", "fetch, build, patch, package (and verify) a recipe",
             "  pybuildssl build\n  pybuildssl build linux-x86_64-rhel --source-dir ~/tarballs\n"
             "  pybuildssl build --set openssl.version=3.5.7 --set openssl.sha256=HEX --offline")
    _recipe_args(p, optional=True)
    p.add_argument("--source-dir", action="append", type=Path, default=[], metavar="DIR",
                   help="directory holding source archives, found by sha256 whatever their name "
                        "(repeatable; also $PYBUILDSSL_SOURCE_DIRS)")
    p.add_argument("--offline", action="store_true", help="never use the network")
    p.add_argument("--dist", type=Path, default=Path("dist"), help="where the artifact goes (default: dist/)")
    p.add_argument("--cache", type=Path)
    p.add_argument("-j", "--jobs", type=int, default=0)
    p.add_argument("--strip", action="store_true", help="strip debug info and drop the test suite")
    p.add_argument("--no-verify", action="store_true", help="skip `verify` after the build")
    p.add_argument("--allow-skipped", action="store_true",
                   help="accept a verify whose essential checks (TLS handshakes) could not run here")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--base-url", metavar="URL",
                   help="where the artifacts will be hosted, for the downloads list (default: file:// URLs)")

    p = _add(sub, "publish-index", "write SHA256SUMS, SBOMs and a uv downloads list for the artifacts in dist/",
             "  pybuildssl publish-index --base-url https://python.internal.example/pythons/\n"
             "  pybuildssl publish-index dist/cpython-3.13.15+openssl3.5.9.rhel-x86_64-unknown-linux-gnu"
             "-install_only.tar.gz\n\n"
             "then, for every uv user (see docs/uv.md):\n"
             "  export UV_PYTHON_DOWNLOADS_JSON_URL=https://python.internal.example/pythons/python-downloads.json\n"
             "  uv python install 3.13")
    p.add_argument("artifacts", nargs="*", type=Path, help="artifacts to list (default: every cpython-*.tar.* "
                                                         "in --dist); one per platform")
    p.add_argument("--dist", type=Path, help="where the artifacts are and the files go (default: the named "
                                             "artifacts' directory, else dist/)")
    p.add_argument("--base-url", metavar="URL",
                   help="where the artifacts will be hosted (default: file:// URLs of the files in --dist)")

    p = _add(sub, "patch", "apply the trust patch to an existing Python distribution",
             "  pybuildssl patch /opt/python3.12\n  pybuildssl patch ~/.pyenv/versions/3.12.1 --dry-run\n"
             "  pybuildssl patch /opt/python3.12 --revert")
    p.add_argument("prefix", type=Path)
    p.add_argument("--revert", action="store_true", help="restore the original ssl.py byte for byte")
    p.add_argument("--dry-run", action="store_true", help="show the diff, change nothing")
    p.add_argument("--target-os", choices=["linux", "macos", "windows"], help="default: this host's")
    p.add_argument("--windows-mode", choices=["enumeration", "winstore", "both"], default="enumeration",
                   help="Windows trust mode the patch records (winstore: store enumeration off; "
                        "needs an OpenSSL with the winstore patch)")

    p = _add(sub, "verify", "check that an artifact runs from any path and trusts the system's CAs",
             "  pybuildssl verify dist/cpython-3.13.15+openssl3.5.9.generic-x86_64-unknown-linux-gnu-install_only.tar.gz\n"
             "  pybuildssl verify dist/*.tar.gz --layouts all --junit verify.xml\n"
             "  pybuildssl verify ~/.pyenv/versions/3.12.1 --json")
    p.add_argument("path", type=Path, help="a pybuildssl archive or directory, or any CPython prefix")
    p.add_argument("--layouts", metavar="LIST",
                   help="layouts to repeat the handshakes under: host (default), all, vendors (e.g. debian,rhel) "
                        "or vendor configurations (rhel-config, rhel-config-legacy, rhel-config-future, rhel-config-fips)")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.add_argument("--junit", type=Path, metavar="FILE", help="also write a JUnit XML report")
    p.add_argument("--expect-openssl", metavar="X.Y.Z", help="the OpenSSL version the artifact must link")
    p.add_argument("--keep", action="store_true", help="keep the extracted copy (its path is printed)")
    p.add_argument("--allow-skipped", action="store_true",
                   help="exit 0 even when essential checks (TLS handshakes) could not run here; "
                        "without it such a run is INCOMPLETE, exit 3")

    p = _add(sub, "doctor", "diagnose whether HTTPS certificate verification works in a Python, and how to fix it",
             "  pybuildssl doctor\n  pybuildssl doctor --python ~/.pyenv/versions/3.12.1/bin/python3\n"
             "  pybuildssl doctor --python .venv --check-url https://index.internal.example/simple/\n"
             "  pybuildssl doctor --json | jq .verdict\n\n"
             "exit code: 0 verification works, 1 it does not (or --check-url failed), 2 bad usage")
    p.add_argument("--python", metavar="PATH",
                   help="interpreter, prefix or venv to examine (default: python3 on PATH); any CPython 3.9+")
    p.add_argument("--json", action="store_true",
                   help="print the diagnosis as JSON (schema: docs/json-schema/doctor-v1.json)")
    p.add_argument("--check-url", metavar="URL",
                   help="also make a real HTTPS request with the default context and explain a failure")

    p = _add(sub, "ci", "render a CI pipeline that builds, verifies and publishes recipes on native runners",
             "  pybuildssl ci render --provider github\n"
             "  pybuildssl ci render --provider gitlab --recipes linux-x86_64-generic,macos-arm64\n"
             "  pybuildssl ci render --provider github --output - | less")
    p.add_argument("action", choices=["render"])
    p.add_argument("--provider", required=True, choices=["github", "gitlab"])
    p.add_argument("--recipes", action="append", default=[], metavar="LIST",
                   help="recipe names or .toml paths, comma-separated or repeated (default: every shipped "
                        "recipe that builds)")
    p.add_argument("--output", metavar="FILE",
                   help="where to write it (default: .github/workflows/pybuildssl.yml or .gitlab-ci.yml; "
                        "- for stdout)")
    p.add_argument("--install", metavar="SPEC", help="pip requirement that installs pybuildssl in the jobs "
                                                     "(default: pybuildssl==THIS_VERSION)")
    p.add_argument("--python", default="3.12", metavar="X.Y", help="Python that runs pybuildssl in the jobs")
    p.add_argument("--runner", action="append", default=[], metavar="KEY=LABEL",
                   help="runner label (GitHub) or tag (GitLab) for a recipe or an OS-ARCH, e.g. "
                        "windows-arm64=my-runner (repeatable)")
    return parser


_RUNNERS: dict[str, Callable] = {}


def command(name: str):
    def deco(fn):
        _RUNNERS[name] = fn
        return fn
    return deco


# ----------------------------------------------------------------- commands ---

@command("recipes")
def _cmd_recipes(args, ui: UI) -> int:
    from . import recipe

    if args.action == "show":
        if not args.name:
            raise UsageError("pybuildssl recipes show: which recipe?", hint="pybuildssl recipes show NAME")
        r = recipe.load(args.name, args.overrides, override_files=args.override_files)
        print(json.dumps(r.to_dict(), indent=2) if args.json else _toml_like(r.to_dict()))
        return 0
    rows = []
    for name in recipe.available():
        r = recipe.load(name)
        rows.append({"name": name, "os": r.os, "arch": r.arch, "vendor": r.vendor,
                     "openssldir": r.openssldir, "description": r.description})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(r["name"]) for r in rows)
        for row in rows:
            print(f"{row['name']:<{width}}  {row['openssldir']:<32}  {row['description']}")
    return 0


def _toml_like(data: dict) -> str:
    lines = []
    for section, values in data.items():
        lines.append(f"[{section}]")
        for k, v in values.items():
            lines.append(f"{k} = {json.dumps(v)}")
        lines.append("")
    return "\n".join(lines)


def _load_recipe(args):
    from . import recipe

    return recipe.load(args.recipe or recipe.default_for_host(), args.overrides,
                       override_files=args.override_files)


@command("plan")
def _cmd_plan(args, ui: UI) -> int:
    from . import toolchain
    from .cache import default_cache_dir
    from .plan import make_plan
    from .runner import Runner

    r = _load_recipe(args)
    cache = Path(args.cache or default_cache_dir())
    # The compiler's identity is a build input (it enters every key): asked of the host
    # (one `cc --version`) unless given, in which case nothing outside the recipe is read.
    tc = args.toolchain_id or toolchain.identify(r, Runner(ui).capture, cache)
    plan = make_plan(r, cache_dir=cache, jobs=args.jobs or r.jobs or os.cpu_count() or 2, toolchain=tc)
    if args.json:
        print(json.dumps(plan.to_json(), indent=2))
        return 0
    print(f"# recipe {r.name} ({r.target}, vendor {r.vendor}); OPENSSLDIR {r.openssldir}")
    print("# components: " + ", ".join(f"{k}-{v}" for k, v in plan.keys.items()))
    import shlex

    for s in plan.steps:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in s.env.items())
        print(f"[{s.name}] (cwd {s.cwd})")
        print("    " + (env + " " if env else "") + shlex.join(s.argv))
    return 0


@command("build")
def _cmd_build(args, ui: UI) -> int:
    from .build import Builder

    from .publish import check_base_url

    check_base_url(args.base_url)
    overrides = list(args.overrides) + (["build.strip=true"] if args.strip else [])
    from . import recipe as recipe_mod

    r = recipe_mod.load(args.recipe or recipe_mod.default_for_host(), overrides,
                        override_files=args.override_files)
    ui.step(f"recipe {r.name}: {r.target}, vendor {r.vendor}, OpenSSL {r.openssl.version}, "
            f"CPython {r.cpython.version}, OPENSSLDIR {r.openssldir}")
    builder = Builder(r, cache_dir=args.cache, dist_dir=args.dist, source_dirs=args.source_dir,
                      offline=args.offline, jobs=args.jobs, ui=ui)
    result = builder.build()
    code = 0
    report = None
    if r.verify and not args.no_verify:
        from .verify import verify

        with ui.timed("verify"):
            report = verify(result.artifact, progress=ui.info)
        report.allow_skipped = args.allow_skipped
        _show_report(report, ui, json_out=False, stream=sys.stderr)  # stdout: the result only
        code = report.exit_code
    _publish_after_build(args, result.artifact, ui)
    if args.json:
        print(json.dumps({"artifact": str(result.artifact), "cached": result.cached,
                          "timings": {k: round(v, 2) for k, v in result.timings.items()},
                          "verify": report.to_json() if report else None}, indent=2))
    else:
        print(result.artifact)
    return code


def _publish_after_build(args, artifact: Path, ui: UI) -> None:
    """SBOM beside the artifact; SHA256SUMS and the uv list for every artifact in dist/ when they agree."""
    from . import publish

    if artifact.suffix == ".zip":  # Windows: no uv index or SBOM for zip artifacts yet
        ui.info("publish: skipped for a Windows zip artifact (the uv list and SBOM read tarballs)")
        return
    try:
        written = publish.publish(args.dist, base_url=args.base_url)
    except UsageError as e:
        publish.write_sbom(artifact)
        ui.warn(f"{e.message}; wrote only the SBOM" + (f" ({e.hint})" if e.hint else ""))
        return
    ui.info("wrote " + ", ".join(str(p) for p in written))


@command("publish-index")
def _cmd_publish_index(args, ui: UI) -> int:
    from . import publish

    dist = args.dist or (args.artifacts[0].parent if args.artifacts else Path("dist"))
    for p in publish.publish(dist, base_url=args.base_url, archives=args.artifacts or None):
        print(p)
    return 0


def _show_report(report, ui: UI, *, json_out: bool, junit: Path | None = None, stream=None) -> None:
    from .verify import report as rep

    if junit:
        rep.write_atomic(junit, rep.junit(report))
    if ui.github:
        print(rep.github_annotations(report), file=sys.stderr)
    if json_out:
        print(rep.dumps(report))
    else:
        print(rep.table(report, color=ui.color), file=stream or sys.stdout)


@command("verify")
def _cmd_verify(args, ui: UI) -> int:
    from .verify import verify

    report = verify(args.path, layouts_arg=args.layouts, expect_openssl=args.expect_openssl, keep=args.keep,
                    progress=lambda s: ui.live(f"  verify: {s}"))
    report.allow_skipped = args.allow_skipped
    ui.clear_live()
    _show_report(report, ui, json_out=args.json, junit=args.junit)
    if args.keep:
        ui.info(f"extracted copy kept at {report.facts.get('workdir')}")
    return report.exit_code


@command("patch")
def _cmd_patch(args, ui: UI) -> int:
    from . import embedzip, trust, trust_embed

    if not trust.find_ssl_py(args.prefix) and embedzip.find_zip(args.prefix):  # python.org's embeddable layout
        result = trust_embed.patch_embeddable(args.prefix, revert=args.revert, dry_run=args.dry_run,
                                              windows_mode=args.windows_mode, log=ui.info)
    else:
        result = trust.patch_prefix(args.prefix, target_os=args.target_os, revert=args.revert,
                                    dry_run=args.dry_run, log=ui.info, windows_mode=args.windows_mode)
    if args.dry_run and getattr(result, "diff", None):
        print(result.diff, end="")
    return 0


@command("doctor")
def _cmd_doctor(args, ui: UI) -> int:
    from . import doctor
    from .doctor import windows as doctor_windows

    if doctor_windows.is_windows_python(args.python):  # python.exe: natively, or under Wine on Linux
        facts = doctor_windows.run(args.python)
        print(json.dumps(facts, indent=2) if args.json else doctor_windows.render(facts))
        return 0 if facts.get("sources") else 1
    if args.check_url and not args.check_url.lower().startswith("https://"):
        raise UsageError(f"--check-url {args.check_url}: not an https:// URL",
                         hint="for example --check-url https://index.internal.example/simple/")
    if not args.json:
        ui.live("  doctor: probing the interpreter")
    d = doctor.run(args.python, check_url=args.check_url)
    ui.clear_live()
    if args.json:
        print(json.dumps(doctor.to_json(d), indent=2))
    else:
        import os

        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        print(doctor.render_text(d, color=color, verbose=ui.level >= VERBOSE))
    if ui.github:
        for p in d.problems:
            if p.severity != "info":
                print(f"::{'error' if p.severity == 'error' else 'warning'} title=doctor {p.id}::{p.message}",
                      file=sys.stderr)
    return d.exit_code


@command("ci")
def _cmd_ci(args, ui: UI) -> int:
    from . import ci

    text = ci.render(args.provider, ci.split_recipes(args.recipes) or None, install=args.install,
                     python=args.python, runners=ci._runner_overrides(args.runner))
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    out = Path(args.output or ci.DEFAULT_OUTPUT[args.provider])
    ci.write(text, out)
    ui.info(f"wrote {out}")
    return 0


# --------------------------------------------------------------------- main ---

def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ui = UI()
    try:
        args = build_parser().parse_args(argv)
        ui.level = QUIET if args.quiet else VERBOSE if args.verbose else NORMAL
        if not args.command:
            build_parser().print_help()
            return 2
        return _RUNNERS[args.command](args, ui)
    except PybuildsslError as e:
        ui.error(e.message)
        if isinstance(e, BuildError):
            if e.log_tail:
                ui.write("--- last lines of the log ---\n" + e.log_tail + "\n---")
            if e.log_path:
                ui.write(f"log: {e.log_path}")
        if e.hint:
            ui.write(f"hint: {e.hint}")
        return e.exit_code
    except KeyboardInterrupt:
        ui.error("interrupted")
        return 130
