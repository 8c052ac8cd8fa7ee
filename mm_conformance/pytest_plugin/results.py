"""Test reports into ScenarioResults: the verdict record each report carries, and what a report
needs to know of its scenario (the pytest side of mm_conformance.outcomes.results)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mm_conformance.outcome import PROPERTY, Outcome, Record
from mm_conformance.outcomes.results import ScenarioResult
from mm_conformance.protocol.adapters import implementation_name
from mm_conformance.redact import redact


def record(report: pytest.TestReport) -> Record | None:
    """The verdict record the plugin gave ``report`` (the last one), or None when it ended nothing."""
    found = [value for key, value in report.user_properties if key == PROPERTY]
    return Record.from_json(found[-1]) if found else None


class Collector:
    """A pytest plugin object that records one ScenarioResult per test."""

    def __init__(self) -> None:
        self.results: list[ScenarioResult] = []

    def redact_again(self) -> None:
        """Redact every text once more, with every secret known by now (pytest-xdist workers hand
        theirs over only as they end; a report of theirs came redacted by the worker alone)."""
        for result in self.results:
            result.reason = redact(result.reason)
            for texts in (result.observations, result.errata, result.warnings):
                texts[:] = [redact(text) for text in texts]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        known = next((r for r in self.results if r.nodeid == report.nodeid), None)
        if known is not None:
            # The world adds its observations and errata at teardown: keep the latest.
            known.observations = _properties(report, "observation") or known.observations
            known.errata = _properties(report, "erratum") or known.errata
            known.warnings = _properties(report, "warning") or known.warnings
            known.implementation = (_properties(report, "implementation") or [known.implementation])[-1]
            known.server = (_properties(report, "server") or [known.server])[-1]
            for outcome in _properties(report, "outcome")[-1:]:
                known.status, known.error_kind, known.server_error_id = json.loads(outcome)
            steps = [json.loads(step) for step in _properties(report, "upgrade_step")]
            known.upgrade_steps = steps or known.upgrade_steps
            if known.outcome is Outcome.PASS and known.warnings:
                known.verdict, known.outcome = "warn", Outcome.WARN
        ended = record(report)
        if ended is None:
            return
        # A set-up or tear-down that broke states its bare reason; a call says which kind of no verdict it is.
        reason = redact(ended.words if report.when == "call" else ended.reason)
        verdict = ended.outcome.verdict
        if known is None:
            about: dict[str, Any] = {k: str(v) for k, v in report.user_properties}  # what scenario_properties put
            self.results.append(ScenarioResult(
                nodeid=report.nodeid, name=report.nodeid.split("::")[-1], verdict=verdict,
                docs=about.get("docs", ""), reason=reason, server=about.get("server", ""), title=about.get("title", ""),
                implementation=about.get("implementation", ""), severity=ended.severity, outcome=ended.outcome,
                observations=_properties(report, "observation"), errata=_properties(report, "erratum")))
        elif verdict in ("error", "fail") and known.verdict in ("pass", "warn"):
            # A failing teardown after a passing call: no verdict can be trusted.
            known.verdict, known.reason, known.outcome = "error", reason, ended.outcome
            known.severity = None


def _properties(report: pytest.TestReport, key: str) -> list[str]:
    return [redact(str(v)) for k, v in report.user_properties if k == key]


def scenario_properties(item: pytest.Item) -> list[tuple[str, str]]:
    """What a report needs to know of its scenario, as user properties.

    Properties travel with every report, also from pytest-xdist workers, where a
    plugin object of the controller (like Collector) never sees the items.
    """
    params = item.callspec.params if hasattr(item, "callspec") else {}
    impl = params.get("implementation")
    return [("docs", _docs_tag(item)), ("title", _title(item, params)),
            ("server", getattr(params.get("mattermost_server"), "id", "")),
            ("implementation", implementation_name(impl) if isinstance(impl, str) else "")]


def scenario_template(item: pytest.Item) -> Any:
    """pytest-bdd's scenario (a ``ScenarioTemplate``) behind ``item``, or None for a plain test."""
    # Imported here, not at the top: the CLI imports this module before pytest starts, and
    # pytest wants to load pytest-bdd itself (to rewrite its asserts).
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    function = getattr(item, "obj", None)
    return scenario_wrapper_template_registry.get(function) if callable(function) else None


def _title(item: pytest.Item, params: dict) -> str:
    """The scenario's name as the feature file words it, with its Examples values."""
    scenario = scenario_template(item)
    if scenario is None:
        return item.name
    values = [str(value) for value in (params.get("_pytest_bdd_example") or {}).values()]
    if params.get("upgrade_path"):
        values.append(" → ".join(server.id for server in [params["mattermost_server"], *params["upgrade_path"]]))
    return f"{scenario.name} ({', '.join(values)})" if values else scenario.name


def _docs_tag(item: pytest.Item) -> str:
    """The documentation steps a scenario encodes; a feature-wide section only when it names no step."""
    tags = [":".join(str(a) for a in marker.args if a) for marker in item.iter_markers("docs")]
    steps = sorted({t for t in tags if t.count(":") == 1}, key=lambda t: (t.split(":")[0], int(t.split(":")[1])))
    if steps:
        return ", ".join(steps)
    if item.get_closest_marker("beyond_docs"):  # a feature-wide section tag does not make it documented
        return "beyond the documentation"
    return ", ".join(dict.fromkeys(tags))
