"""The upgrade path an admin takes: one database served by each newer server in turn, judged after each step.

An upgrade scenario starts the oldest selected server on a database of its own, makes
users, tokens in every state, a role grant and a setting on it, and then upgrades it in
place to each newer selected server, oldest first (5.37.0 → 9.11.18 → 10.11.6 → 11.0.3,
Extended Support Release to Extended Support Release, as admins go). After each step
what the credential makes of every token, and what the server says of the role and
the setting, are recorded as that step's :class:`UpgradeStep`; the scenario's ``Then``
steps judge each step in order, and each implementation's report carries a verdict per
step (:class:`StepVerdict`) that names the step where anything changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from mm_conformance.infra.deployment import Deployment, MattermostDeployment
from mm_conformance.mattermost.servers import MattermostServer
from mm_conformance.protocol.runner import Observation


@dataclass
class UpgradeStep:
    """What one step of the path left: the versions on either side, how long the step took (the old
    server stopped, the new one up on its database, migrations included, the admin signed in again),
    and what was observed on it afterwards."""

    before: str
    after: str
    step_s: float
    #: What each implementation's credential made of each token after the step, by (implementation, token key).
    seen: dict[tuple[str, str], Observation] = field(default_factory=dict)
    #: The roles of every user the scenario made, and whether personal access tokens are enabled, as the
    #: upgraded server reads them.
    roles: dict[str, set[str]] = field(default_factory=dict)
    tokens_enabled: bool | None = None

    @property
    def name(self) -> str:
        return f"between {self.before} and {self.after}"


@dataclass
class StepVerdict:
    """One implementation's verdict on one step: how many checks held, and what changed (empty: nothing)."""

    before: str
    after: str
    step_s: float
    held: int = 0
    changed: list[str] = field(default_factory=list)

    def as_property(self) -> str:
        """The report's user property (JSON): results.json keeps it as the scenario's ``upgrade_steps``."""
        return json.dumps({**asdict(self), "step_s": round(self.step_s, 1)})


@dataclass
class UpgradePath:
    """The scenario's own deployment, the servers it is upgraded to, oldest first, and the steps taken."""

    stack: MattermostDeployment  # started fresh for the scenario, stopped with it
    targets: list[MattermostServer]  # oldest first
    steps: list[UpgradeStep] = field(default_factory=list)

    def take(self, upgrade_one: Callable[[MattermostServer], Deployment],
             observe: Callable[[UpgradeStep], None]) -> None:
        """Upgrade through every target in turn: ``upgrade_one(target)`` replaces the server (and returns the
        new deployment); ``observe(step)`` records what the upgraded server and credential say, before the
        next step replaces it."""
        for target in self.targets:
            before = self.stack.deployment.name if self.stack.deployment else "?"
            started = time.monotonic()
            deployment = upgrade_one(target)
            step = UpgradeStep(before, deployment.name, time.monotonic() - started)
            self.steps.append(step)
            observe(step)

    def judge(self, judge_one: Callable[[UpgradeStep], None], *, judged_before: bool,
              counted_in: list[list[StepVerdict]], deviation: Callable[[str], Exception],
              failure: type[BaseException]) -> None:
        """Judge every step in order with ``judge_one`` (raises ``failure`` when the check does not hold),
        counting each step's outcome into the step verdicts of every report in ``counted_in`` (one list of
        step verdicts per implementation it concerns). The first step that fails ends the check:

        - if the check held on the version before it (the previous step, or before the upgrade when
          ``judged_before``), what changed is the server: ``deviation(message)`` is raised, naming the step;
        - else the implementation never met the check, and the failure is raised as it is.
        """
        for position, step in enumerate(self.steps):
            try:
                judge_one(step)
            except failure as changed:
                for step_verdicts in counted_in:
                    step_verdicts[position].changed.append(str(changed))
                if position == 0 and not judged_before:
                    raise
                raise deviation(f"{step.name}: {changed}") from None
            for step_verdicts in counted_in:
                step_verdicts[position].held += 1
