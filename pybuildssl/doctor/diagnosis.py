"""Facts in, :class:`~.model.Diagnosis` out: read the situation, run the rules, give the verdict.

Pure: reads nothing, runs nothing.  Unit tests feed it recorded or
constructed facts (tests/fixtures/doctor/).
"""

from __future__ import annotations

import shlex
from typing import Any, Mapping

from . import situation
from .facts import Host
from .fixes import recipe
from .handshake import url_result
from .locations import env_report, shown
from .model import ERROR, FAIL, INFO, OK, WARN, WARNING, Diagnosis, Findings, Fix
from .rules import RULES, python_version


def diagnose(facts: Mapping[str, Any] | None, host: Host, *, probe_error: str = "",
             interpreter: str = "", check_url: str | None = None) -> Diagnosis:
    """Facts in, diagnosis out.  Pure: reads nothing, runs nothing."""
    if facts is None:
        return _did_not_run(host, probe_error, interpreter, check_url)
    s = situation.read(facts, host, interpreter=interpreter, check_url=check_url)
    if not s.ssl_ok:
        return _no_ssl(s)
    found = Findings()
    for rule in RULES:
        found.extend(rule(s, found))
    status, summary = _verdict(s.works, found)
    order = {ERROR: 0, WARNING: 1, INFO: 2}
    found.problems.sort(key=lambda p: order[p.severity])
    return Diagnosis(status=status, works=s.works, summary=summary, via=s.via, interpreter=s.interp,
                     openssl=s.openssl, compiled=s.compiled, reported=s.reported, env=env_report(s.env, s.locs),
                     locations=shown(s.locs), host=s.host_info, patch=s.patch, problems=found.problems,
                     fixes=found.fixes, check_url=s.url)


def _verdict(works: bool, found: Findings) -> tuple[str, str]:
    if not works:
        return FAIL, "default-context HTTPS verification will FAIL in this Python"
    errors = [p.message for p in found.problems if p.severity == ERROR]
    if errors:
        return FAIL, "default-context verification works, but " + errors[0]
    if any(p.severity == WARNING for p in found.problems):
        return WARN, "default-context HTTPS verification works, with warnings"
    return OK, "default-context HTTPS verification works"


def _did_not_run(host: Host, probe_error: str, interpreter: str, check_url: str | None) -> Diagnosis:
    found = Findings()
    found.problem("python.starts", ERROR, f"{interpreter or 'the interpreter'} did not run the probe: {probe_error}")
    found.fix(Fix("reinstall", "Check that the path is a working CPython 3.9+ interpreter",
                  [f"{shlex.quote(interpreter or 'python3')} -c 'import ssl; print(ssl.OPENSSL_VERSION)'"]))
    return Diagnosis(status=FAIL, works=False, summary="the interpreter did not run", via="nothing",
                     interpreter={"executable": interpreter or None}, openssl={}, compiled={}, reported={},
                     env=[], locations=[], host=situation.host_info(host, host.table.vendors.get(host.vendor)),
                     patch={"present": False}, problems=found.problems, fixes=found.fixes,
                     check_url=url_result(None, check_url) if check_url else None)


def _no_ssl(s: situation.Situation) -> Diagnosis:
    found = python_version(s, Findings())
    found.problem("ssl.import", ERROR, f"import ssl fails: {s.ssl.get('error', '?')}")
    found.fix(Fix("reinstall", "Use (or build) a Python whose ssl module imports",
                  [f"pybuildssl build {recipe(s.host, s.host.vendor)}"],
                  "this interpreter was built without OpenSSL, or cannot find the libssl it was linked to"))
    return Diagnosis(status=FAIL, works=False, summary="the ssl module does not import", via="nothing",
                     interpreter=s.interp, openssl=s.openssl, compiled={}, reported={}, env=env_report(s.env, s.locs),
                     locations=shown(s.locs), host=s.host_info, patch={"present": False}, problems=found.problems,
                     fixes=found.fixes, check_url=url_result(None, s.check_url) if s.check_url else None)
