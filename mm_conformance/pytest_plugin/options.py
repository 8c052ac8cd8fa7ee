"""The run's options as pytest reads them, and the session's start: what --impl, --mattermost and the rest select."""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from mm_conformance import run_options
from mm_conformance.errors import (
    UsageError,
    interrupted_by_signals,
)
from mm_conformance.infra.deployment import ADMIN_TOKEN_ENV
from mm_conformance.infra.images import local_mattermost_images
from mm_conformance.infra.leftovers import earlier_runs_leftovers
from mm_conformance.mattermost.servers import (
    external,
    select_servers,
)
from mm_conformance.protocol.adapters import (
    check_implementations,
)
from mm_conformance.protocol.environment import describe as describe_environment
from mm_conformance.pytest_plugin.stash import IMPLEMENTATIONS, PASSED_ENV, SERVERS


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mm-conformance", "Mattermost credential conformance")
    for option in run_options.SHARED:
        group.addoption(option.flag, **option.keywords())
    # Only pytest has these: mm-conformance run writes the log into --report, and reads the token from $ADMIN_TOKEN_ENV.
    group.addoption("--adapter-log", type=Path, default=None, metavar="FILE",
                    help="append every adapter's stderr here (secrets redacted); run --report writes adapters.log")
    group.addoption("--admin-token", default=None, metavar="TOKEN",
                    help=f"a system admin's token for --mattermost-url (prefer ${ADMIN_TOKEN_ENV}: "
                         "a command line shows in process lists and CI logs)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "upgrade: the in-place upgrade scenario "
                                       "(the oldest server through each newer one in turn)")
    config.addinivalue_line("markers", "own_world: the credential changes the server: a world per implementation")
    implementations = run_options.implementations(config.getoption("--impl"))
    try:
        check_implementations(implementations)
    except UsageError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[IMPLEMENTATIONS] = implementations
    try:
        config.stash[PASSED_ENV] = run_options.passed_environment(config.getoption("--impl-env"))
    except UsageError as error:
        raise pytest.UsageError(str(error)) from None
    CONFIG.set(config)
    _stop_like_ctrl_c_on_sigterm(config)
    if config.getoption("--mattermost-url"):
        if not (config.getoption("--admin-token") or os.environ.get(ADMIN_TOKEN_ENV)):
            raise pytest.UsageError(f"--mattermost-url needs an admin token: set ${ADMIN_TOKEN_ENV}")
        config.stash[SERVERS] = [external(config.getoption("--mattermost-url"))]
        return
    try:
        config.stash[SERVERS] = select_servers(config.getoption("--mattermost"), local_mattermost_images())
    except UsageError as error:
        raise pytest.UsageError(str(error)) from None


def _stop_like_ctrl_c_on_sigterm(config: pytest.Config) -> None:
    """A CI timeout or a cancelled job sends SIGTERM: clean up as for Ctrl-C, leaving no container
    (and SIGINT where it was ignored; see :func:`~mm_conformance.errors.interrupted_by_signals`)."""
    signals = contextlib.ExitStack()
    signals.enter_context(interrupted_by_signals())
    config.add_cleanup(signals.close)


@pytest.hookimpl(wrapper=True)
def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> Iterator[None]:
    """An interrupt ends the run as interrupted, even where pytest cannot describe where it came.

    pytest's terminal describes the interrupt from its traceback, and fails (a TypeError) on a
    frame to which CPython 3.11 gives no line number (a SIGINT inside ``urllib``'s proxy lookup,
    for one): the run would end in a traceback and exit 1 instead of "interrupted" and exit 2.
    Then the terminal is told of an interrupt raised here instead.
    """
    try:
        yield
    except TypeError:
        config = CONFIG.get()
        terminal = config.pluginmanager.get_plugin("terminalreporter") if config is not None else None
        if terminal is None:
            return
        try:
            raise KeyboardInterrupt(f"{excinfo.value} (where it came cannot be shown)".strip())
        except KeyboardInterrupt:
            terminal.pytest_keyboard_interrupt(pytest.ExceptionInfo.from_current())


#: The configuration of the session in progress (set by pytest_configure), for the hook above.
CONFIG: contextvars.ContextVar[pytest.Config | None] = contextvars.ContextVar("config", default=None)


def pytest_report_header(config: pytest.Config) -> str | None:
    """The header says what the implementations get beyond the baseline: a proxy changes what is tested."""
    passed: Mapping[str, str] = config.stash.get(PASSED_ENV, {})
    return describe_environment(passed)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Say once, in one line, what earlier runs left behind, and how to remove it."""
    if hasattr(session.config, "workerinput"):
        return  # pytest-xdist workers: the controller says it
    try:
        left = earlier_runs_leftovers()
    except Exception:  # no Docker engine: the scenarios say so, with their reason
        return
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        line = (f"mm-conformance: earlier runs left {len(left)} container(s), network(s) or volume(s) behind "
                "(this run ignores them; remove them with: mm-conformance clean)")
        if reporter is not None:
            reporter.write_line(line)
