"""How a scenario ended, as one verdict record per report: only a ConformanceFailure is a verdict;
anything else is named as the kind of no verdict it is."""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import NoReturn

import pluggy
import pytest
from _pytest.outcomes import Skipped  # the class of pytest.skip.Exception, which mypy cannot subclass by that name

from mm_conformance import outcome
from mm_conformance.errors import NotApplicable
from mm_conformance.mattermost.servers import (
    MattermostServer,
)
from mm_conformance.outcome import INFRASTRUCTURE, PROPERTY, Outcome, Record
from mm_conformance.protocol.runner import AdapterFailure
from mm_conformance.protocol.wire import ErrorKind
from mm_conformance.pytest_plugin.scheduling import server_of
from mm_conformance.pytest_plugin.stash import POOL, WORLD
from mm_conformance.scenario.tracks import EveryImplementationEnded


class InfrastructureSkip(Skipped):
    """The world could not be brought up for a test: pytest shows a skip, the results an error (no verdict)."""


def skip_for_infrastructure(reason: str) -> NoReturn:
    """Skip the test as no verdict: ``reason`` is what kept the world from coming up."""
    raise InfrastructureSkip(f"{INFRASTRUCTURE}{reason}")


#: The record of the call that just ended, kept until its report is made (pytest_runtest_makereport).
CALL_RECORD = pytest.StashKey[Record]()


def record_of(error: BaseException) -> Record:
    """How ``error`` ended a scenario: its class's own outcome; an adapter's breakdown is infrastructure."""
    if isinstance(error, AdapterFailure):  # the protocol layer's own exception: it declares no outcome
        return Record(Outcome.INFRASTRUCTURE, str(error))
    return outcome.record_of(error)


def with_record(properties: list[tuple[str, object]], record: Record) -> list[tuple[str, object]]:
    """``properties`` with ``record`` as the only verdict record (a report says one thing of how it ended)."""
    return [(k, v) for k, v in properties if k != PROPERTY] + [(PROPERTY, record.to_json())]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, pluggy.Result[None], None]:
    """Only a ConformanceFailure is a verdict against the implementation.

    Anything else that stops a scenario says no verdict: the world broke (adapter,
    Docker, a server that stopped answering), the server answered other than the
    suite pins, or the suite itself has a bug.
    """
    result = yield
    error = result.excinfo[1] if result.excinfo else None
    if isinstance(error, NotApplicable):
        result.force_exception(pytest.skip.Exception(str(error), _use_item_location=True))
        return
    if not isinstance(error, Exception) or isinstance(error, EveryImplementationEnded):
        return  # passed or skipped; or every implementation's own report says how it ended
    broken = broken_world(item)
    # A failure on a world that broke is no verdict, whatever it looked like.
    item.stash[CALL_RECORD] = (Record(Outcome.INFRASTRUCTURE, f"during the scenario: {broken}") if broken
                               else record_of(error))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Every report that ends something carries one verdict record (see mm_conformance.outcome).

    A passing set-up or tear-down says nothing; an :class:`InfrastructureSkip` is the world failing
    to come up, no verdict.
    """
    report = yield
    record = item.stash.get(CALL_RECORD, None) if report.when == "call" else None
    error = call.excinfo.value if call.excinfo is not None else None
    if record is not None:
        del item.stash[CALL_RECORD]
    elif report.skipped:
        reason = str(getattr(error, "msg", None) or error or "")
        record = Record(Outcome.INFRASTRUCTURE if isinstance(error, InfrastructureSkip) else Outcome.SKIP, reason)
    elif report.failed and error is not None:
        record = record_of(error)
    elif report.passed and report.when == "call":
        record = Record(Outcome.PASS)
    if record is not None:
        report.user_properties = with_record(report.user_properties, record)
    return report


#: How long a scenario that failed gives the engine to report a container that stopped (it records an
#: exit ~100 ms after the processes died). Polled: a healthy world pays it only when a scenario fails
#: in a way a stopped container could explain (see _settle_for).
FAILURE_SETTLE_S = 1.5


def _settle_for(item: pytest.Item) -> float:
    """How long to let the engine catch up before judging the world: none when every failing
    implementation's last answer could not come from a stopped container — it made no request
    (``config``), or Mattermost or a proxy answered with a status below 500. Mattermost's own database
    check is asked either way (see MattermostDeployment.health)."""
    world = item.stash.get(WORLD, None)
    if world is None:
        return FAILURE_SETTLE_S
    failing = [t for t in world.tracks if t.ended is not None] or world.tracks
    for track in failing:
        outcome = track.observations[-1].outcome if track.observations else None
        if outcome is None or not (outcome.error_kind is ErrorKind.CONFIG
                                   or (outcome.status is not None and outcome.status < 500)):
            return FAILURE_SETTLE_S
    return 0.0


def broken_world(item: pytest.Item) -> str | None:
    """Whether the scenario's server broke (a container stopped, the server silent); then it is marked broken."""
    pool = item.config.stash.get(POOL, None)
    server = server_of(item)
    if pool is None or not isinstance(server, MattermostServer):
        return None
    problem = pool.health(server, settle_s=_settle_for(item))
    if problem:
        pool.mark_broken(server, f"{problem} (during an earlier scenario)")
    return problem


def pytest_bdd_after_scenario(request: pytest.FixtureRequest, feature, scenario) -> None:
    """Every scenario, whatever it is about: the implementation's own log carried no token.

    pytest-bdd calls this in a ``finally``: when a step already raised, that outcome
    (a failure, an infrastructure error) stands, and is not replaced by this check.
    """
    if "world" in request.fixturenames and sys.exc_info()[1] is None:
        world = request.getfixturevalue("world")
        world.for_each_implementation(world.expect_no_leaks)
