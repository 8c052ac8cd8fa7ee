"""Each scenario's verdict, and what the run as a whole says.

Verdicts: ``pass``, ``warn`` (passed, with a SHOULD-level concern the report
shows), ``fail`` (the implementation broke a stated behaviour),
``skip`` (the scenario does not apply, with its reason) and ``error`` (no verdict:
the world or the adapter broke). An error is never counted as a pass or a fail.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from mm_conformance.protocol.adapters import implementation_name
from mm_conformance.redact import redact

INFRASTRUCTURE = "infrastructure: "
#: "mm_conformance.scenario.verdicts.TokenExposure: …", "AssertionError: …": a class name, not words for a reader.
_EXCEPTION_PREFIX = re.compile(r"^(?:(?:[a-z_]\w*\.)+[A-Z]\w*|[A-Z]\w*(?:Failure|Error|Exposure|Success|Deviation)): ")
VERDICTS = ("pass", "warn", "fail", "skip", "error")
#: What the plugin records when a scenario stopped without a verdict on the implementation.
NO_VERDICT = ("infrastructure", "server-deviation", "nothing-observed", "suite-error")


@dataclass
class ScenarioResult:
    nodeid: str
    name: str
    verdict: str
    docs: str
    reason: str = ""
    observations: list[str] = field(default_factory=list)
    errata: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: The Mattermost it ran on, by the version the server reported (``11.0.3``).
    server: str = ""
    #: What the implementation's last answer was: status, error kind, Mattermost's error id.
    status: int | None = None
    error_kind: str | None = None
    server_error_id: str | None = None
    #: Why this failure was expected (declared in an expectations file), or "".
    expected: str = ""
    #: The scenario's name as the feature file words it.
    title: str = ""

    #: The implementation it judged (several can share one run).
    implementation: str = ""
    #: Of a failure: ``security`` (the token went where it must not), ``false-success`` (success
    #: reported where the API never answered for the token's owner) or ``broken`` (another MUST).
    severity: str = ""

    @property
    def scenario(self) -> str:
        """The scenario as the feature file words it (with its Examples values): the same on every
        server, for every implementation and in every run."""
        return self.title or re.sub(r"\[mm[^\]-]+-?", "[", self.name).replace("[]", "")


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
            if known.verdict == "pass" and known.warnings:
                known.verdict = "warn"
        verdict = _verdict(report)
        if verdict is None:
            return
        reason = redact(_reason(report, dict(report.user_properties)))
        if known is None:
            about = {k: str(v) for k, v in report.user_properties}  # what scenario_properties put there
            self.results.append(ScenarioResult(
                nodeid=report.nodeid, name=report.nodeid.split("::")[-1], verdict=verdict,
                docs=about.get("docs", ""), reason=reason, server=about.get("server", ""), title=about.get("title", ""),
                implementation=about.get("implementation", ""), severity=about.get("severity", "") if verdict == "fail" else "",
                observations=_properties(report, "observation"), errata=_properties(report, "erratum")))
        elif verdict in ("error", "fail") and known.verdict in ("pass", "warn"):
            # A failing teardown after a passing call: no verdict can be trusted.
            known.verdict, known.reason = "error", reason


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

    return scenario_wrapper_template_registry.get(getattr(item, "obj", None))


def _title(item: pytest.Item, params: dict) -> str:
    """The scenario's name as the feature file words it, with its Examples values."""
    scenario = scenario_template(item)
    if scenario is None:
        return item.name
    values = [str(value) for value in (params.get("_pytest_bdd_example") or {}).values()]
    if params.get("upgrade_target") is not None:
        values.append(f"to {params['upgrade_target'].id}")
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


def _verdict(report: pytest.TestReport) -> str | None:
    # Neither a broken world, a server that changed its answers nor a bug of the suite is a verdict.
    infrastructure = any(k in NO_VERDICT for k, _ in report.user_properties)
    if report.skipped:
        return "error" if _skip_reason(report).startswith(INFRASTRUCTURE) else "skip"
    if report.when == "call":
        if report.passed:
            return "pass"
        # Only a conformance failure carries a severity: anything else that ended it is no verdict.
        return "fail" if not infrastructure and any(k == "severity" for k, _ in report.user_properties) else "error"
    if report.failed:  # setup or teardown broke: no verdict
        return "error"
    return None


def _skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr or "")


def _reason(report: pytest.TestReport, properties: dict[str, str]) -> str:
    if report.skipped:
        return _skip_reason(report)
    if "infrastructure" in properties:
        return properties["infrastructure"]
    if "server-deviation" in properties:
        return f"server behaviour changed: {properties['server-deviation']}"
    if "nothing-observed" in properties:
        return f"nothing to judge (no verdict): {properties['nothing-observed']}"
    if "suite-error" in properties:
        return f"suite error (no verdict): {properties['suite-error']}"
    if report.failed:
        text = getattr(report.longrepr, "reprcrash", None)
        message = text.message if text is not None else str(report.longrepr)
        # "mm_conformance.scenario.verdicts.ConformanceFailure: the token …": a reader wants the words only.
        words = _EXCEPTION_PREFIX.sub("", message.splitlines()[0]) if message else "failed"
        if report.when == "call" and "severity" not in properties:
            return f"suite error (no verdict): {words}"
        return words
    return ""


def exit_code(results: list[ScenarioResult], *, pytest_exit: int) -> int:
    """0 conforms, 1 does not, 2 no verdict (infrastructure, usage, nothing ran)."""
    verdicts = Counter(r.verdict for r in results if not r.expected)
    if verdicts["fail"]:
        return 1
    if pytest_exit in (2, 3, 4) or verdicts["error"] or not (verdicts["pass"] + verdicts["warn"]):
        return 2
    return 0


def closing_line(results: list[ScenarioResult], code: int, *, interrupted: bool = False) -> str:
    """The run's verdict in one line, with the first reason when there is no verdict."""
    counts = Counter(r.verdict for r in results)
    tally = ", ".join(f"{counts[v]} {v}" for v in VERDICTS)
    if code == 0:
        return f"mm-conformance: conforms ({tally})"
    if code == 1:
        return f"mm-conformance: does not conform ({tally})"
    fallback = ("interrupted (Ctrl-C or SIGTERM) before it ended" if interrupted else
                "no scenario passed" if results else "no scenario ran (does -k select any?)")
    first = next((r.reason for r in results if r.verdict == "error"), fallback)
    return f"mm-conformance: no verdict ({tally}): {first}"


def markdown_summary(results: list[ScenarioResult]) -> str:
    counts = Counter(r.verdict for r in results)
    lines = [
        "# mm-conformance run",
        "",
        " · ".join(f"{counts[v]} {v}" for v in VERDICTS),
        "",
        "| scenario | verdict | documentation | observed / reason |",
        "|---|---|---|---|",
    ]
    for r in results:
        detail = "; ".join([f"warning: {w}" for w in r.warnings] + r.observations) or r.reason
        if r.expected:
            detail = f"expected deviation: {r.expected}; {detail}"
        if r.reason and r.verdict != "pass" and r.reason not in detail:
            detail = f"{r.reason}; {detail}"
        cell = detail.replace("|", "\\|")
        lines.append(f"| {r.name} | {r.verdict} | {r.docs} | {cell} |")
    errata = errata_markdown(results)
    return "\n".join(lines) + "\n" + (f"\n{errata}" if errata else "")


def errata_markdown(results: list[ScenarioResult]) -> str:
    """Where the documentation and the real system disagree, each with the scenario that proves it.

    Only scenarios that passed count: their observations confirmed the discrepancy.
    """
    proven = [(erratum, r) for r in results if r.verdict == "pass" for erratum in r.errata]
    if not proven:
        return ""
    lines = ["## Documentation errata", ""]
    lines += [f"- **{erratum}** — shown by `{r.nodeid}`" for erratum, r in proven]
    return "\n".join(lines) + "\n"
