"""``pybuildssl doctor``: will HTTPS verification work in this Python, and if not, what fixes it.

Deciding and acting are kept apart, one concern per module:

* ``facts``: acting.  :func:`collect` runs the probe (``verify/probe.py``,
  stdlib only, through :mod:`pybuildssl.probing`) once inside the
  interpreter with the caller's own environment, and gathers the few facts
  about this host the diagnosis needs (:class:`Host`).
* ``locations`` and ``situation``: what those facts mean (which store the
  default context uses, whether it can verify, what the host has).  Pure.
* ``rules``: one small function per diagnosis, each returning problems and
  fixes; ``rules.RULES`` is the registry.  ``vendor_config`` words the
  host-openssl.cnf case, ``handshake`` the ``--check-url`` result, ``fixes``
  the fixes several rules share.  Pure.
* ``diagnosis``: :func:`diagnose`, facts in, a :class:`Diagnosis` out.  Pure:
  unit tests feed it recorded or constructed facts.
* ``render``: :func:`to_json` and :func:`render_text`.  ``--json`` follows
  ``docs/json-schema/doctor-v1.json``, versioned by its top-level ``"schema"``.
* ``model``: the vocabulary all of them share (every problem and fix id).
"""

from __future__ import annotations

import time
from typing import Callable, Mapping

from .diagnosis import diagnose
from .facts import LOCATION_VARS, OPENSSL_VARS, OTHER_VARS, Host, collect, find_interpreter, host_facts, \
    request_locations
from .handshake import explain_handshake
from .model import ERROR, FAIL, FIXES, INFO, OK, PROBLEMS, SCHEMA_VERSION, WARN, WARNING, Diagnosis, Fix, \
    Location, Problem
from .render import render_text, to_json

__all__ = ["ERROR", "FAIL", "FIXES", "INFO", "LOCATION_VARS", "OK", "OPENSSL_VARS", "OTHER_VARS", "PROBLEMS",
           "SCHEMA_VERSION", "WARN", "WARNING", "Diagnosis", "Fix", "Host", "Location", "Problem", "collect",
           "diagnose", "explain_handshake", "find_interpreter", "host_facts", "render_text", "request_locations",
           "run", "to_json"]


def run(python: str | None = None, *, check_url: str | None = None, env: Mapping[str, str] | None = None,
        runner: Callable | None = None) -> Diagnosis:
    """Find the interpreter, probe it, diagnose: what ``pybuildssl doctor`` does."""
    start = time.monotonic()
    exe = find_interpreter(python)
    facts, err, host = collect(exe, env=env, check_url=check_url, runner=runner)
    d = diagnose(facts, host, probe_error=err, interpreter=str(exe), check_url=check_url)
    d.seconds = time.monotonic() - start
    return d
