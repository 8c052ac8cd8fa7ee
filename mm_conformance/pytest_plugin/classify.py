"""How a scenario ended: only a ConformanceFailure is a verdict; anything else is named as no verdict."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from mm_conformance.errors import (
    InfrastructureError,
    NotApplicable,
    NothingObserved,
)
from mm_conformance.mattermost.servers import (
    MattermostServer,
)
from mm_conformance.protocol.runner import AdapterFailure
from mm_conformance.protocol.wire import ErrorKind
from mm_conformance.pytest_plugin.scheduling import server_of
from mm_conformance.pytest_plugin.stash import POOL, WORLD
from mm_conformance.scenario.verdicts import ConformanceFailure, ServerDeviation
from mm_conformance.scenario.world import (
    EveryImplementationEnded,
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Only a ConformanceFailure is a verdict against the implementation.

    Anything else that stops a scenario says no verdict: the world broke (adapter,
    Docker, a server that stopped answering), the server answered other than the
    suite pins, or the suite itself has a bug.
    """
    outcome = yield
    error = outcome.excinfo[1] if outcome.excinfo else None
    if isinstance(error, NotApplicable):
        outcome.force_exception(pytest.skip.Exception(str(error), _use_item_location=True))
        return
    if not isinstance(error, Exception) or isinstance(error, EveryImplementationEnded):
        return  # passed or skipped; or every implementation's own report says how it ended
    broken = broken_world(item)
    if broken:  # a failure on a world that broke is no verdict, whatever it looked like
        item.user_properties.append(("infrastructure", f"during the scenario: {broken}"))
    elif isinstance(error, ConformanceFailure):
        item.user_properties.append(("severity", error.severity))  # orders the findings of a report
    elif isinstance(error, (AdapterFailure, InfrastructureError)):
        item.user_properties.append(("infrastructure", str(error)))
    elif isinstance(error, ServerDeviation):
        item.user_properties.append(("server-deviation", str(error)))
    elif isinstance(error, NothingObserved):
        item.user_properties.append(("nothing-observed", str(error)))
    else:
        item.user_properties.append(("suite-error", f"{type(error).__name__}: {error}".splitlines()[0]))


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
