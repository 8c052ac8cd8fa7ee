"""How a scenario ended, as types every layer shares.

An exception that ends a scenario names its own :class:`Outcome` (and, for a
failure, its :class:`Severity`); the pytest plugin records one :class:`Record`
per test report, as plain JSON so that it survives pytest-xdist's serialisation;
results and reports read that record, never the wording of a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """How one test report ended: a verdict on the implementation, or a named kind of no verdict."""

    PASS = "pass"
    #: Passed, with a SHOULD-level concern the report shows.
    WARN = "warn"
    #: The implementation broke a stated behaviour.
    FAIL = "fail"
    #: The scenario does not apply (with its reason).
    SKIP = "skip"
    #: No verdict: the world broke (Docker, a server, the adapter).
    INFRASTRUCTURE = "infrastructure"
    #: No verdict: Mattermost answered other than the suite pins.
    SERVER_DEVIATION = "server-deviation"
    #: No verdict: the implementation gave the scenario nothing to judge.
    NOTHING_OBSERVED = "nothing-observed"
    #: No verdict: the suite itself has a bug.
    SUITE_ERROR = "suite-error"

    @property
    def verdict(self) -> str:
        """The result's verdict (one of :data:`VERDICTS`): every kind of no verdict is ``error``."""
        return self.value if self in _JUDGED else "error"


_JUDGED = frozenset({Outcome.PASS, Outcome.WARN, Outcome.FAIL, Outcome.SKIP})

#: A result's verdict, in the order a tally lists them; ``error`` is no verdict (never a pass or a fail).
VERDICTS = ("pass", "warn", "fail", "skip", "error")


class Severity(StrEnum):
    """How serious a failure is; the order of the members is the order of a report's findings."""

    #: The token went where it must not.
    SECURITY = "security"
    #: Success was reported where the API never answered for the token's owner.
    FALSE_SUCCESS = "false-success"
    #: Another stated behaviour (a MUST) was broken.
    BROKEN = "broken"


#: The user property (name) a test report carries its Record under.
PROPERTY = "verdict"
#: How a skip's reason starts when the world could not be brought up: no verdict, never a skip.
INFRASTRUCTURE = "infrastructure: "


@dataclass(frozen=True)
class Record:
    """What one test report says of how its scenario ended: the outcome, a failure's severity, and why."""

    outcome: Outcome
    reason: str = ""
    severity: Severity | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"outcome": self.outcome.value, "severity": self.severity and self.severity.value,
                "reason": self.reason}

    @classmethod
    def from_json(cls, data: Any) -> Record:
        """The record of :meth:`to_json`; ValueError when ``data`` is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("reason", ""), str):
            raise ValueError(f"not a verdict record: {data!r}")
        severity = data.get("severity")
        return cls(Outcome(str(data.get("outcome"))), data.get("reason", ""), Severity(severity) if severity else None)

    @property
    def words(self) -> str:
        """The reason as a result states it: a no-verdict kind says which it is, so it never reads as a finding."""
        lead = _LEADS.get(self.outcome, "")
        return f"{lead}{self.reason}"


_LEADS = {
    Outcome.SERVER_DEVIATION: "server behaviour changed: ",
    Outcome.NOTHING_OBSERVED: "nothing to judge (no verdict): ",
    Outcome.SUITE_ERROR: "suite error (no verdict): ",
}


def record_of(error: BaseException) -> Record:
    """The record of a scenario that ``error`` ended: the outcome and severity its class declares.

    An exception that declares no outcome is a bug of the suite; its class name is then part of the
    reason, since it is what a suite developer needs (``KeyError: 'token'``).
    """
    outcome = getattr(error, "outcome", None)
    text = next(iter(str(error).splitlines()), "")  # the first line: what a one-line reason has room for
    if not isinstance(outcome, Outcome):
        name = type(error).__name__
        return Record(Outcome.SUITE_ERROR, f"{name}: {text}" if text else name)
    severity = getattr(error, "severity", None) if outcome is Outcome.FAIL else None
    return Record(outcome, text, severity if isinstance(severity, Severity) else None)
