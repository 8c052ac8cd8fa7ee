"""The conformance report's model, built from runs' results: the scoreboard, the findings grouped by
the severity each failure recorded, the scenarios that gave no verdict, and the matrix of every
scenario × implementation × server (the writers are in mm_conformance.outcomes.report)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mm_conformance.mattermost.servers import version_key
from mm_conformance.outcome import VERDICTS, Severity
from mm_conformance.outcomes.merge import MergedRuns, merge
from mm_conformance.outcomes.results import ScenarioResult
from mm_conformance.redact import redact

REFERENCE = "reference"

#: The findings' groups, most serious first: (key, heading, what it means).
SEVERITIES: tuple[tuple[str, str, str], ...] = (
    ("security", "The token goes where it must not",
     "the access token reached a place it must never reach: through a certificate that failed validation, "
     "along a redirect to another host or to plain http, or into the implementation's output"),
    ("false-success", "Success where the API never answered",
     "the implementation reported success although Mattermost's API never answered for the token's owner "
     "(a web page taken for success, a refused request reported as success)"),
    ("broken", "Other broken requirements", "another behaviour the documentation states (a MUST) was broken"),
    ("warning", "SHOULD-level concerns", "the scenario passed, with a concern the implementation should address"),
)
SEVERITY_HEADINGS = {key: heading for key, heading, _ in SEVERITIES}
NO_VERDICT_HEADING = "No verdict (infrastructure)"

#: The documentation's section headings (docs/n8n-mattermost-credentials.md), by their anchor.
SECTION_TITLES = {
    "using-api-access-token": "Using API access token",
    "enable-personal-access-tokens": "Enable personal access tokens",
    "supported-authentication-methods": "Supported authentication methods",
    "beyond the documentation": "beyond the documentation",
}
_SECTION_ORDER = ["using-api-access-token", "enable-personal-access-tokens", "beyond the documentation"]

def plain(text: str) -> str:
    """Text for a reader: secrets redacted (a results file written by an older run may hold one)."""
    return redact(text or "").strip()


def docs_text(docs: str) -> str:
    """``using-api-access-token:6`` → "Using API access token, step 6"; several steps joined by "; "."""
    parts = []
    for tag in (t.strip() for t in (docs or "").split(",")):
        if not tag:
            continue
        section, _, step = tag.partition(":")
        title = SECTION_TITLES.get(section) or section.replace("-", " ").capitalize()
        parts.append(f"{title}, step {step}" if step else title)
    return "; ".join(parts) or "no documentation step recorded"


def versions_text(versions: list[str]) -> str:
    """``["5.37.0", "11.0.3"]`` → "5.37.0 and 11.0.3"."""
    names = [v or "an unnamed server" for v in versions]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@dataclass(frozen=True)
class Column:
    implementation: str
    server: str  # the version the server reported

    @property
    def title(self) -> str:
        return f"{self.implementation} · {self.server}" if self.server else self.implementation


@dataclass
class Row:
    scenario: str
    docs: str
    title: str
    cells: dict[Column, ScenarioResult] = field(default_factory=dict)
    index: int = 0


@dataclass
class Scoreboard:
    """Implementation × server version: how many of each verdict."""

    implementations: list[str]
    servers: list[str]
    counts: dict[tuple[str, str], Counter] = field(default_factory=dict)

    def cell(self, implementation: str, server: str) -> Counter | None:
        return self.counts.get((implementation, server))

    @staticmethod
    def standing(counts: Counter) -> str:
        """What the cell says of the implementation, as the run's exit code would."""
        if counts["fail"] - counts["expected"]:
            return "does not conform"
        if counts["error"] or not (counts["pass"] + counts["warn"]):
            return "no verdict"
        return "conforms"

    @staticmethod
    def tally(counts: Counter) -> str:
        return " · ".join(f"{counts[v]} {v}" for v in VERDICTS)


@dataclass
class Occurrence:
    """A finding on one server: where its exchange is in the matrix, and what was said."""

    server: str
    anchor: str
    reason: str
    expected: str = ""


@dataclass
class Finding:
    severity: str  # a key of SEVERITIES, or "error" for a scenario that gave no verdict
    implementation: str
    title: str  # the scenario, as the feature file words it
    docs: str
    occurrences: list[Occurrence] = field(default_factory=list)

    @property
    def heading(self) -> str:
        return SEVERITY_HEADINGS.get(self.severity, NO_VERDICT_HEADING)

    @property
    def servers(self) -> list[str]:
        return [o.server for o in self.occurrences]

    @property
    def docs_step(self) -> str:
        return docs_text(self.docs)

    @property
    def on(self) -> str:
        return "on " + versions_text(self.servers)

    @property
    def reasons(self) -> list[tuple[str, list[str]]]:
        """Each distinct reason with the servers it was given on, in server order."""
        grouped: dict[str, list[str]] = {}
        for occurrence in self.occurrences:
            grouped.setdefault(occurrence.reason, []).append(occurrence.server)
        return list(grouped.items())

    @property
    def reason(self) -> str:
        """The reason in plain words; "on 5.37.0: …; on 11.0.3: …" when the servers said different things."""
        reasons = self.reasons
        if len(reasons) == 1:
            return reasons[0][0]
        # Said once what every server said alike, then what each said of its own.
        common = _common_words([reason for reason, _ in reasons])
        if len(common) >= 20:
            return common + ", ".join(f"“{reason[len(common):]}” on {versions_text(servers)}"
                                      for reason, servers in reasons)
        return "; ".join(f"on {versions_text(servers)}: {reason}" for reason, servers in reasons)

    @property
    def expected(self) -> str:
        return next((o.expected for o in self.occurrences if o.expected), "")


def _common_words(texts: list[str]) -> str:
    """The longest start every text shares, ending after a space and leaving each text something of its own."""
    prefix = texts[0]
    for text in texts[1:]:
        while not text.startswith(prefix):
            prefix = prefix[:-1]
    # Cut after the last ": " or "; " when there is one (a clause), else after the last word.
    clause = max(prefix.rfind(": "), prefix.rfind("; "))
    prefix = prefix[:clause + 2] if clause >= 0 else prefix[:prefix.rfind(" ") + 1]
    return prefix if all(len(text) > len(prefix) for text in texts) else ""


@dataclass
class UpgradePathTable:
    """The upgrade scenario's verdict on each step of one upgrade path, per implementation."""

    title: str  # the scenario's title, which names the path (… (5.37.0 → 9.11.18 → 10.11.6 → 11.0.3))
    steps: list[str]  # "5.37.0 → 9.11.18", oldest first
    took: list[str]  # how long each step took: the old server stopped, the new one migrated and answering
    rows: list[tuple[str, list[str]]]  # (implementation, the verdict on each step)


def step_text(step: dict[str, Any]) -> str:
    """One implementation's verdict on one upgrade step, as a report cell."""
    if step.get("changed"):
        return "changed: " + "; ".join(str(text) for text in step["changed"])
    if not step.get("held"):
        return "not judged"  # the scenario ended for the implementation before (the baseline, or an earlier step)
    return f"held ({step['held']} checks)"


def _upgrade_paths(ordered: list[Row], columns: list[Column]) -> list[UpgradePathTable]:
    tables = []
    for row in ordered:
        judged = [(column, row.cells[column]) for column in columns
                  if column in row.cells and row.cells[column].upgrade_steps]
        if not judged:
            continue
        steps = judged[0][1].upgrade_steps
        tables.append(UpgradePathTable(
            row.title, [f"{step['before']} → {step['after']}" for step in steps],
            [f"{step['step_s']} s" for step in steps],
            [(column.implementation, [step_text(step) for step in result.upgrade_steps]) for column, result in judged]))
    return tables


@dataclass
class Matrix:
    columns: list[Column]
    sections: dict[str, list[Row]]
    scoreboard: Scoreboard
    #: Failures and warnings, most serious first (the order of SEVERITIES), then by implementation.
    findings: list[Finding]
    #: Scenarios that gave no verdict (``error``), merged across servers like findings.
    no_verdict: list[Finding]
    anchors: dict[tuple[Column, str], str] = field(default_factory=dict)
    #: The upgrade scenario's verdict per step, one table per upgrade path the runs took.
    upgrade_paths: list[UpgradePathTable] = field(default_factory=list)

    def grouped(self) -> list[tuple[str, str, str, list[Finding]]]:
        """(severity, heading, meaning, findings) for every severity, in order, also when empty."""
        return [(key, heading, meaning, [f for f in self.findings if f.severity == key])
                for key, heading, meaning in SEVERITIES]

    def anchor(self, column: Column, row: Row) -> str:
        return self.anchors[(column, row.scenario)]


def as_merged(runs_to_report: list[Path] | MergedRuns) -> MergedRuns:
    """Runs' report directories merged into one run (see :mod:`~mm_conformance.outcomes.merge`), or a merge
    already made (with declared deviations applied, say)."""
    return runs_to_report if isinstance(runs_to_report, MergedRuns) else merge(runs_to_report)


def build(runs_to_report: list[Path] | MergedRuns) -> Matrix:
    columns: list[Column] = []
    rows: dict[str, Row] = {}
    for result in as_merged(runs_to_report).results:
        column = Column(result.implementation, result.server)
        if column not in columns:
            columns.append(column)
        row = rows.setdefault(result.scenario, Row(result.scenario, result.docs, result.title or result.scenario))
        row.cells[column] = result
    # The reference first, then each implementation in the order it appeared, its servers oldest first.
    implementations = list(dict.fromkeys(column.implementation for column in columns))
    if REFERENCE in implementations:
        implementations.remove(REFERENCE)
        implementations.insert(0, REFERENCE)
    columns.sort(key=lambda c: (implementations.index(c.implementation), version_key(c.server)))
    sections: dict[str, list[Row]] = defaultdict(list)
    for row in rows.values():
        sections[_section(row.docs)].append(row)
    sections = dict(sorted(sections.items(), key=lambda kv: _section_order(kv[0])))
    ordered = [row for rows_ in sections.values() for row in rows_]
    anchors = {}
    for number, row in enumerate(ordered, 1):
        row.index = number
        for column in columns:
            if column in row.cells:
                anchors[(column, row.scenario)] = _anchor(number, column, columns.index(column))
    servers = sorted({c.server for c in columns}, key=version_key)
    scoreboard = Scoreboard(implementations, servers)
    for column in columns:
        counts = Counter({v: 0 for v in VERDICTS})
        for row in ordered:
            if column in row.cells:
                counts[row.cells[column].verdict] += 1
                counts["expected"] += bool(row.cells[column].expected and row.cells[column].verdict == "fail")
        scoreboard.counts[(column.implementation, column.server)] = counts
    findings, no_verdict = _findings(ordered, columns, implementations, anchors)
    return Matrix(columns, sections, scoreboard, findings, no_verdict, anchors, _upgrade_paths(ordered, columns))


def _anchor(row: int, column: Column, number: int) -> str:
    """The id of a matrix cell's exchange; the cell itself is ``cell-…`` (see :func:`cell_id`).

    A link to an element inside a closed ``<details>`` opens it in browsers that reveal
    fragment targets (Chromium does): the finding's link lands on the exchange, open."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{column.implementation}-{column.server}".lower()).strip("-")
    return f"exchange-{row}-{number}-{slug}"


def cell_id(anchor: str) -> str:
    return "cell-" + anchor.removeprefix("exchange-")


def severity(result: ScenarioResult) -> str:
    """A finding's group (a key of SEVERITIES): the failure's recorded severity; "warning" for a warn."""
    if result.verdict == "warn":
        return "warning"
    return result.severity or Severity.BROKEN  # a failure always records one (results format 3)


def _findings(ordered: list[Row], columns: list[Column], implementations: list[str],
              anchors: dict[tuple[Column, str], str]) -> tuple[list[Finding], list[Finding]]:
    merged: dict[tuple[str, str, str], Finding] = {}
    errors: dict[tuple[str, str], Finding] = {}
    for row in ordered:
        for column in columns:
            result = row.cells.get(column)
            if result is None or result.verdict not in ("fail", "warn", "error"):
                continue
            anchor = anchors[(column, row.scenario)]
            if result.verdict == "error":
                finding = errors.setdefault((column.implementation, row.scenario), Finding(
                    "error", column.implementation, row.title, row.docs))
                finding.occurrences.append(Occurrence(column.server, anchor, plain(result.reason) or "no reason given"))
                continue
            key = severity(result)
            if key == "warning":
                text = "; ".join(plain(w) for w in result.warnings) or plain(result.reason) or "a SHOULD-level concern"
            else:
                text = plain(result.reason) or "; ".join(plain(o) for o in result.observations) or "failed"
            finding = merged.setdefault((key, column.implementation, row.scenario), Finding(
                key, column.implementation, row.title, row.docs))
            finding.occurrences.append(Occurrence(column.server, anchor, text, plain(result.expected)))
    order = [key for key, _, _ in SEVERITIES]
    findings = sorted(merged.values(), key=lambda f: (order.index(f.severity), implementations.index(f.implementation)))
    no_verdict = sorted(errors.values(), key=lambda f: implementations.index(f.implementation))
    return findings, no_verdict


def _section(docs: str) -> str:
    first = docs.split(",")[0].strip()
    return first.split(":")[0] if first else "untagged"


def _section_order(section: str) -> tuple[int, str]:
    return (_SECTION_ORDER.index(section) if section in _SECTION_ORDER else len(_SECTION_ORDER), section)


def section_title(section: str) -> str:
    return docs_text(section) if section != "untagged" else "Scenarios without a documentation tag"


def cell_text(result: ScenarioResult | None) -> str:
    if result is None:
        return "—"
    observed = " ".join(str(x) for x in (result.status, result.error_kind) if x is not None)
    return f"{result.verdict} {observed}".strip()
