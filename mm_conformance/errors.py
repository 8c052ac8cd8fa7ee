"""The problems that are not a verdict on the implementation under test.

Each exception that ends a scenario declares its :class:`~mm_conformance.outcome.Outcome`;
the CLI turns a UsageError or an InfrastructureError into a one-line message and exit
code 2; scenarios that meet an InfrastructureError are reported as errors or skips,
never as failures.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import ClassVar

from mm_conformance.outcome import Outcome


class UsageError(Exception):
    """The user asked for something the suite cannot do (unknown release line, bad option)."""


class InfrastructureError(Exception):
    """The world could not be brought up: Docker down, image missing, server crashed."""

    outcome: ClassVar[Outcome] = Outcome.INFRASTRUCTURE


class NothingObserved(Exception):
    """The implementation gave the scenario nothing to judge: it never made the request the rule is
    about (e.g. it refused the credential before asking a Base URL that redirects). No verdict, for
    that implementation only: the others in the scenario are judged as usual."""

    outcome: ClassVar[Outcome] = Outcome.NOTHING_OBSERVED


class ServerDeviation(AssertionError):
    """Mattermost itself answered other than the suite pins: no verdict on the implementation.

    Raised when a scenario's premise about the server (a status, an error id) no
    longer holds — the regression signal for a Mattermost upgrade.
    """

    outcome: ClassVar[Outcome] = Outcome.SERVER_DEVIATION


class NotApplicable(Exception):
    """The scenario cannot run on this server as configured; it is skipped with this reason.

    For example a server-wide setting it would have to change, on a server the
    suite was not allowed to reconfigure (external-server mode).
    """

    outcome: ClassVar[Outcome] = Outcome.SKIP


@contextlib.contextmanager
def interrupted_by_signals() -> Iterator[None]:
    """SIGTERM (a CI timeout, a cancelled job) interrupts as Ctrl-C does: everything is cleaned up.

    SIGINT too, also where it was ignored: a shell without job control (a CI script)
    starts its background commands with SIGINT ignored, and Python then never turns it
    into KeyboardInterrupt; a job runner that cancels with SIGINT would find the run
    going on, and kill it hard, containers and all. Only in the main thread (the only
    one that may set handlers); elsewhere it changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous_term = signal.signal(signal.SIGTERM, interrupt)
    ignored_int = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if ignored_int:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        if ignored_int:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
