"""The command line's grammar: every subcommand's arguments, one function each."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import __version__
from .errors import UsageError
from .targets import OSES, WINDOWS_TRUST_MODES


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
    _recipes_args(sub)
    _plan_args(sub)
    _build_args(sub)
    _publish_index_args(sub)
    _patch_args(sub)
    _verify_args(sub)
    _doctor_args(sub)
    _ci_args(sub)
    return parser


def _recipes_args(sub) -> None:
    p = _add(sub, "recipes", "list the shipped recipes, or show one resolved",
             "  pybuildssl recipes\n  pybuildssl recipes show linux-x86_64-rhel --set openssl.openssldir=/etc/ssl")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("name", nargs="?")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--overrides", dest="override_files", action="append", default=[], type=Path,
                   metavar="FILE", help="a TOML file of recipe keys applied before any --set")
    p.add_argument("--json", action="store_true")


def _plan_args(sub) -> None:
    p = _add(sub, "plan", "print every step `build` would run (argv, env, cwd), running nothing",
             "  pybuildssl plan linux-x86_64-generic\n  pybuildssl plan windows-x86_64 --json")
    _recipe_args(p, optional=True)
    p.add_argument("--json", action="store_true")
    p.add_argument("--cache", type=Path, help="cache directory (default: $PYBUILDSSL_CACHE or ~/.cache/pybuildssl)")
    p.add_argument("-j", "--jobs", type=int, default=0)
    p.add_argument("--toolchain-id", metavar="ID",
                   help="the compiler identity the keys are computed for (default: ask the host's cc once; "
                        "with it, plan reads nothing but the recipe)")


def _build_args(sub) -> None:
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


def _publish_index_args(sub) -> None:
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


def _patch_args(sub) -> None:
    p = _add(sub, "patch", "apply the trust patch to an existing Python distribution",
             "  pybuildssl patch /opt/python3.12\n  pybuildssl patch ~/.pyenv/versions/3.12.1 --dry-run\n"
             "  pybuildssl patch /opt/python3.12 --revert")
    p.add_argument("prefix", type=Path)
    p.add_argument("--revert", action="store_true", help="restore the original ssl.py byte for byte")
    p.add_argument("--dry-run", action="store_true", help="show the diff, change nothing")
    p.add_argument("--target-os", choices=OSES, help="default: this host's")
    p.add_argument("--windows-mode", choices=WINDOWS_TRUST_MODES, default="enumeration",
                   help="Windows trust mode the patch records (winstore: store enumeration off; "
                        "needs an OpenSSL with the winstore patch)")


def _verify_args(sub) -> None:
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


def _doctor_args(sub) -> None:
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


def _ci_args(sub) -> None:
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
