"""Command line: ``main(argv) -> int``.  The only place that prints errors and picks exit codes.

Exit codes: 0 success, 1 a failed build or check, 2 bad input or usage.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Callable

from .cli_args import build_parser
from .errors import BuildError, PybuildsslError, UsageError
from .ui import NORMAL, QUIET, UI, VERBOSE


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
