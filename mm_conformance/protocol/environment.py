"""What the implementation under test gets of the suite's environment: an allowlist.

The implementation under test is third-party code. It gets what a program needs to
start, plus exactly the variables the user passes (``--impl-env``) and those a shipped
adapter declares, and nothing else: never the suite's secrets (an external server's
admin token), its Docker or testcontainers settings, nor whatever a CI runner exports.

>>> env = adapter_environment(passed=parse_passed(["HTTPS_PROXY=http://proxy.example:3128", "LOG_LEVEL=debug"]))
>>> env["LOG_LEVEL"], "HTTPS_PROXY" in env, "MM_CONFORMANCE_ADMIN_TOKEN" in env
('debug', True, False)
>>> changes_what_is_tested(["HTTPS_PROXY"])
['HTTPS_PROXY']

The baseline (:func:`starts_a_program`): ``PATH``, ``HOME``, ``USER``, ``LOGNAME``, the
locale (``LANG``, ``LANGUAGE``, ``LC_*``), ``TZ``, the temporary directory (``TMPDIR``,
``TEMP``, ``TMP``), the language runtimes' own (``NODE_*``, ``PYTHON*``, ``VIRTUAL_ENV``,
``JAVA_HOME``) and Windows' essentials. Left out of it even where its prefix matches,
because each changes what is tested: the variables that turn certificate verification
off or change the trusted roots (``NODE_TLS_REJECT_UNAUTHORIZED``,
``NODE_EXTRA_CA_CERTS``, ``PYTHONHTTPSVERIFY``). Those, and proxies (``HTTP_PROXY``,
``HTTPS_PROXY``, ``NO_PROXY``, ``ALL_PROXY``, in either case), reach an implementation
only when passed, and the run says so in its header.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from mm_conformance.errors import UsageError

#: Exact names a program needs to start.
_BASELINE_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
    "VIRTUAL_ENV", "JAVA_HOME",
    "SYSTEMROOT", "SYSTEMDRIVE", "COMSPEC", "PATHEXT", "WINDIR",  # a Windows process cannot start without some
})
#: Prefixes of a runtime's own settings (a Node or Python program's start-up, module path, encoding).
_BASELINE_PREFIXES = ("LC_", "NODE_", "PYTHON")

#: Variables that change what is tested: certificate verification, trusted roots, a proxy in between.
_CHANGES_TLS = frozenset({"NODE_TLS_REJECT_UNAUTHORIZED", "NODE_EXTRA_CA_CERTS", "PYTHONHTTPSVERIFY",
                          "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"})
_PROXY = frozenset({"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"})

#: The suite's own variables, never an implementation's to have, even when passed: its secrets
#: and its own settings (which runs, which caches, which Docker engine).
SUITE_OWN = frozenset({
    "MM_CONFORMANCE_ADMIN_TOKEN", "MM_CONFORMANCE_RUN_ID", "MM_CONFORMANCE_SHARED_DEPLOYMENTS",
    "MM_CONFORMANCE_SECRET_DIGESTS", "MM_CONFORMANCE_CACHE", "MM_CONFORMANCE_DEBIAN_MIRROR",
})
_SUITE_OWN_PREFIXES = ("DOCKER_", "TESTCONTAINERS_", "TC_")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def starts_a_program(name: str) -> bool:
    """Whether ``name`` is on the baseline every implementation gets (see the module's docstring)."""
    if name.upper() in _CHANGES_TLS:
        return False
    return name in _BASELINE_NAMES or name.startswith(_BASELINE_PREFIXES)


def suite_own(name: str) -> bool:
    """Whether ``name`` is one of the suite's own variables (a secret, or its Docker set-up)."""
    return name in SUITE_OWN or name.startswith(_SUITE_OWN_PREFIXES)


def parse_passed(values: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``--impl-env`` values (``NAME``: its value here; ``NAME=VALUE``) as a mapping.

    UsageError, in one line, for a name that is not a variable name, one of the suite's own
    variables, or a ``NAME`` this environment does not set.
    """
    environ = os.environ if environ is None else environ
    passed: dict[str, str] = {}
    for value in values:
        name, has_value, given = value.partition("=")
        if not _NAME.fullmatch(name):
            raise UsageError(f"--impl-env {value.split('=')[0]!r}: not a variable name (NAME or NAME=VALUE)")
        if suite_own(name):
            raise UsageError(f"--impl-env {name}: that is the suite's own variable; "
                             "the implementation under test never gets it")
        if not has_value and name not in environ:
            raise UsageError(f"--impl-env {name}: {name} is not set here (pass NAME=VALUE to give it a value)")
        passed[name] = given if has_value else environ[name]
    return passed


def adapter_environment(*, passed: Mapping[str, str] = {}, declared: Iterable[str] = (),
                        environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment an adapter starts with: the baseline of ``environ`` (default: this
    process's), the ``declared`` names it sets (a shipped adapter's own settings, never the
    suite's), then ``passed`` (from :func:`parse_passed`)."""
    environ = os.environ if environ is None else environ
    env = {name: value for name, value in environ.items() if starts_a_program(name)}
    env.update({name: environ[name] for name in declared if name in environ and not suite_own(name)})
    env.update(passed)
    return env


def changes_what_is_tested(names: Iterable[str]) -> list[str]:
    """Of the passed ``names``, those that change what is tested: a proxy, certificate verification, roots."""
    return [name for name in names if name.upper() in _PROXY | _CHANGES_TLS]


def describe(passed: Iterable[str]) -> str | None:
    """One line for the run's header: what the implementations get beyond the baseline (names only,
    never values), and whether that changes what is tested; None when nothing is passed."""
    names = sorted(passed)
    if not names:
        return None
    line = f"implementations under test also get {', '.join(names)} (--impl-env)"
    changing = changes_what_is_tested(names)
    if changing:
        line += (f"; {', '.join(changing)} change what is tested (a proxy between the credential and the "
                 "server, or the credential's certificate checks)")
    return line
