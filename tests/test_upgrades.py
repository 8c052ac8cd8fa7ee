"""The upgrade path's bookkeeping, without a server: each step judged in order, the first change named by its
step and told apart from an implementation that never met the check, and a verdict per step in the report."""

from types import SimpleNamespace

import pytest

from mm_conformance.errors import ServerDeviation
from mm_conformance.outcomes import report, runs
from mm_conformance.outcomes.results import ScenarioResult
from mm_conformance.scenario.upgrades import StepVerdict, UpgradePath, UpgradeStep
from mm_conformance.scenario.verdicts import ConformanceFailure

VERSIONS = ["5.37.0", "9.11.18", "10.11.6", "11.0.3"]


class Stack:
    """Stands in for the deployment: each upgrade makes the server report the target's version."""

    def __init__(self):
        self.deployment = SimpleNamespace(name=VERSIONS[0])

    def upgrade(self, target):
        self.deployment = SimpleNamespace(name=target.id)
        return self.deployment


def path_taken(observed):
    """An upgrade path through every version, each step observing ``observed[after]``."""
    stack = Stack()
    path = UpgradePath(stack, [SimpleNamespace(id=v) for v in VERSIONS[1:]])  # type: ignore[arg-type]

    def observe(step):
        step.tokens_enabled = observed[step.after]

    path.take(stack.upgrade, observe)
    return path


def judge_one(step: UpgradeStep):
    if not step.tokens_enabled:
        raise ConformanceFailure("refused the active token")


def judge(path, verdicts, judged_before=True):
    path.judge(judge_one, judged_before=judged_before, counted_in=[verdicts], deviation=ServerDeviation,
               failure=ConformanceFailure)


def step_verdicts(path):
    return [StepVerdict(step.before, step.after, step.step_s) for step in path.steps]


def test_each_step_goes_from_the_version_before_to_the_next():
    path = path_taken(dict.fromkeys(VERSIONS, True))
    assert [(step.before, step.after) for step in path.steps] == list(zip(VERSIONS, VERSIONS[1:], strict=False))
    verdicts = step_verdicts(path)
    judge(path, verdicts)
    assert [verdict.held for verdict in verdicts] == [1, 1, 1]


def test_a_change_is_named_by_its_step_and_ends_the_check_there():
    path = path_taken({"9.11.18": True, "10.11.6": False, "11.0.3": False})
    verdicts = step_verdicts(path)
    with pytest.raises(ServerDeviation, match="^between 9.11.18 and 10.11.6: refused the active token$"):
        judge(path, verdicts)
    assert [(v.held, v.changed) for v in verdicts] == [(1, []), (0, ["refused the active token"]), (0, [])]


def test_an_implementation_that_failed_before_the_upgrade_fails_on_the_first_step_not_the_server():
    path = path_taken(dict.fromkeys(VERSIONS, False))
    with pytest.raises(ConformanceFailure) as raised:
        judge(path, step_verdicts(path), judged_before=False)
    assert not isinstance(raised.value, ServerDeviation)


def test_the_report_gives_each_step_its_verdict_per_implementation(tmp_path):
    title = "Tokens survive every step (5.37.0 → 9.11.18 → 10.11.6)"
    steps = [{"before": "5.37.0", "after": "9.11.18", "step_s": 1.6, "held": 5, "changed": []},
             {"before": "9.11.18", "after": "10.11.6", "step_s": 1.1, "held": 0,
              "changed": ["the disabled token was accepted"]}]
    result = ScenarioResult("steps/x::test_upgrade[mm5.37.0-to-9.11.18-10.11.6]", "test_upgrade", "error",
                            "beyond the documentation", server="5.37.0", title=title, upgrade_steps=steps,
                            implementation="reference")
    (tmp_path / "run").mkdir()
    runs.write([result], tmp_path / "run", {"implementation": "reference"})
    markdown = report.render_markdown(report.build([tmp_path / "run"]))
    assert ("| implementation | 5.37.0 → 9.11.18 | 9.11.18 → 10.11.6 |\n|---|---|---|\n"
            "| reference | held (5 checks) | changed: the disabled token was accepted |\n"
            "| _the step took_ | 1.6 s | 1.1 s |") in markdown
