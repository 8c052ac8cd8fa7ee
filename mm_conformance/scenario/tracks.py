"""One track per implementation in a shared scenario, and the decorator that runs a step on each.

Several implementations run one scenario side by side, in one world. Everything an
implementation did or was judged on is kept on its :class:`Track`; a step that uses
the implementation is decorated with :func:`each_implementation` and runs once per
track, the world focused on it. A step that uses the implementation without the
decorator fails at once (with one implementation too), naming the decorator.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mm_conformance.mattermost.admin import AccessToken
from mm_conformance.protocol.runner import Implementation, Observation
from mm_conformance.scenario.upgrades import StepVerdict

if TYPE_CHECKING:
    from mm_conformance.scenario.world import ScenarioWorld


@dataclass
class Track:
    """One implementation's side of a shared scenario: what it was asked, what it answered, how it ended.

    ``ended`` is the failure (a :class:`ConformanceFailure`) or the adapter's
    breakdown (an :class:`AdapterFailure`) that ended the scenario for this
    implementation; the other implementations go on without it.
    """

    implementation: Implementation
    observations: list[Observation] = field(default_factory=list)
    errata: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: What this implementation's last request through an endpoint did there, counted around that
    #: request alone (other implementations' requests do not count): requests carrying a
    #: credential that got through a TLS endpoint or reached a redirect's target (None: not
    #: observable), writes (a method other than GET) that reached a redirect's target, and
    #: requests the redirecting Base URL answered.
    credentials_passed: int | None = None
    writes_through: int = 0
    redirects_answered: int = 0
    #: The query string of each request of its last read with a query that reached the server.
    queries_through: list[str] = field(default_factory=list)
    #: The token made for this implementation alone, never used before it (whether it reached the API).
    own_token: AccessToken | None = None
    #: It judged the upgrade scenario's tokens right before the upgrade.
    judged_before_upgrade: bool = False
    #: Its verdict on each step of the upgrade path (the upgrade scenario only).
    upgrade_steps: list[StepVerdict] = field(default_factory=list)
    ended: BaseException | None = None


class EveryImplementationEnded(Exception):
    """Every implementation of a shared scenario failed or broke down: the steps left have nobody to judge."""


#: The steps of a shared scenario that use the implementation run once per implementation, each
#: with the world focused on that implementation's track (set per thread when they run at once).
focus: contextvars.ContextVar[Track | None] = contextvars.ContextVar("focus", default=None)


def focused() -> Track:
    """The track of the implementation a step is running for.

    Only a step decorated with :func:`each_implementation` has one, with one implementation
    as with several: a step that forgets the decorator fails at once, not only in a run with
    two implementations.
    """
    track = focus.get()
    if track is None:
        raise AssertionError("a step that uses the implementation must run for each implementation "
                             "(decorate it with @each_implementation)")
    return track


def tracked(name: str) -> property:
    """A per-implementation attribute of the world: that of the track in focus."""
    return property(lambda world: getattr(world.track, name),
                    lambda world, value: setattr(world.track, name, value))


def each_implementation(step: Callable[..., None] | None = None, *, at_once: bool = False) -> Any:
    """Decorate a step that uses the implementation: it runs once per implementation of the scenario.

    For example::

        @then(parsers.parse("the request succeeds with status {status:d}"))
        @each_implementation
        def request_succeeds(world, status): ...
    """
    def decorate(function: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(function)
        def for_each(world: ScenarioWorld, *arguments: Any, **named: Any) -> None:
            world.for_each_implementation(lambda: function(world, *arguments, **named), at_once=at_once)
        return for_each
    return decorate(step) if step is not None else decorate
