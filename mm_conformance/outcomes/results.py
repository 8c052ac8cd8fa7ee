"""Each scenario's verdict, and what the run as a whole says.

Verdicts: ``pass``, ``warn`` (passed, with a SHOULD-level concern the report
shows), ``fail`` (the implementation broke a stated behaviour),
``skip`` (the scenario does not apply, with its reason) and ``error`` (no verdict:
the world or the adapter broke). An error is never counted as a pass or a fail.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import jinja2

from mm_conformance.outcome import INFRASTRUCTURE, VERDICTS, Outcome, Severity

__all__ = ["INFRASTRUCTURE", "VERDICTS", "ScenarioResult", "closing_line", "errata_markdown", "exit_code",
           "markdown_summary", "markdown_templates"]


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
    #: Of a failure: how serious it is (the order of a report's findings); None for any other verdict.
    severity: Severity | None = None
    #: How it ended exactly: the verdict, or which kind of no verdict an ``error`` is.
    outcome: Outcome | None = None
    #: Of the upgrade scenario: a verdict per step of the path, oldest first (``before``, ``after``,
    #: ``step_s``, ``held``: checks that held, ``changed``: what did not).
    upgrade_steps: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # results.json holds both as their plain values.
        self.severity = Severity(self.severity) if self.severity else None
        self.outcome = Outcome(self.outcome) if self.outcome else None

    @property
    def scenario(self) -> str:
        """The scenario as the feature file words it (with its Examples values): the same on every
        server, for every implementation and in every run."""
        return self.title or re.sub(r"\[mm[^\]-]+-?", "[", self.name).replace("[]", "")


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


def markdown_templates() -> jinja2.Environment:
    """The package's Markdown templates (``templates/*.md.j2``).

    Not autoescaped: HTML escaping would change the text, and each template escapes what a table
    cell or list item needs itself. An undefined name is an error rather than an empty string.
    """
    return jinja2.Environment(
        loader=jinja2.PackageLoader("mm_conformance.outcomes", "templates"), autoescape=False,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def markdown_summary(results: list[ScenarioResult]) -> str:
    """``summary.md`` of one run: the tally, a row per scenario, then the errata it showed."""
    environment = markdown_templates()
    environment.filters["detail"] = _detail
    return environment.get_template("summary.md.j2").render(
        results=results, verdicts=VERDICTS, counts=Counter(r.verdict for r in results), proven=_proven(results))


def _detail(r: ScenarioResult) -> str:
    """What a summary row says was observed: warnings and observations, else the reason; an expected
    deviation and a reason the observations do not already give come first."""
    detail = "; ".join([f"warning: {w}" for w in r.warnings] + r.observations) or r.reason
    if r.expected:
        detail = f"expected deviation: {r.expected}; {detail}"
    if r.reason and r.verdict != "pass" and r.reason not in detail:
        detail = f"{r.reason}; {detail}"
    return detail


def errata_markdown(results: list[ScenarioResult]) -> str:
    """Where the documentation and the real system disagree, each with the scenario that proves it.

    Only scenarios that passed count: their observations confirmed the discrepancy.
    """
    return markdown_templates().get_template("summary_errata.md.j2").render(proven=_proven(results))


def _proven(results: list[ScenarioResult]) -> list[tuple[str, ScenarioResult]]:
    """Each erratum a passing scenario showed, with that scenario."""
    return [(erratum, r) for r in results if r.verdict == "pass" for erratum in r.errata]
