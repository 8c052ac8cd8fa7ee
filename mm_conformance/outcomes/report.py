"""The conformance report of one or more runs: scoreboard, findings by severity, and the full matrix.

Built from the ``results.json`` of one or more runs (``mm-conformance run --report DIR``)::

    mm-conformance report reports/reference reports/n8n reports/mattermostdriver --out reports/matrix

``index.html`` (one self-contained file) and ``matrix.md`` say the same things in the same order:

1. the **scoreboard**: a row per implementation (the reference first), a column per Mattermost
   version (oldest first), each cell the count of each verdict;
2. the **findings**, most serious first: the token going where it must not, success reported where
   the API never answered, any other broken requirement, then SHOULD-level concerns. A finding seen
   on several servers is one line ("on 5.37.0 and 11.0.3"), with the documentation step, the
   implementation and a link to the matrix cell holding each exchange;
3. the scenarios that gave **no verdict** (infrastructure), when there are any;
4. the **matrix**: a row per scenario, grouped by documentation section, a column per
   implementation × server version; each cell opens the requests made and the answers seen
   (tokens were redacted when the run recorded them).

:func:`findings_document` writes the project's published findings (``docs/findings.md``) from runs,
:func:`errata_document` its documentation errata (``docs/errata.md``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import NamedTuple

import jinja2

from mm_conformance.mattermost.servers import version_key
from mm_conformance.outcomes.merge import MergedRuns, RunRead
from mm_conformance.outcomes.report_model import (
    NO_VERDICT_HEADING,
    REFERENCE,
    SECTION_TITLES,
    SEVERITIES,
    SEVERITY_HEADINGS,
    Column,
    Finding,
    Matrix,
    Occurrence,
    Row,
    Scoreboard,
    as_merged,
    build,
    cell_id,
    cell_text,
    docs_text,
    plain,
    section_title,
    severity,
    versions_text,
)
from mm_conformance.outcomes.results import markdown_templates

__all__ = [
    "Column", "Finding", "Matrix", "NO_VERDICT_HEADING", "Occurrence", "REFERENCE", "Row", "SECTION_TITLES",
    "SEVERITIES", "SEVERITY_HEADINGS", "Scoreboard", "build", "cell_id", "cell_text", "docs_text", "plain",
    "section_title", "severity", "versions_text", "errata_document", "findings_document", "render_html",
    "render_markdown", "since_text", "write",
]


def _md(text: str) -> str:
    """Text for a Markdown table cell or list item."""
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(template: str, **context: object) -> str:
    """A Markdown template rendered with the report's helpers: ``md`` makes text safe in a table cell or
    list item, ``cell_text`` says a matrix cell, ``versions_text`` lists versions in prose."""
    environment = markdown_templates()
    environment.filters.update(md=_md, cell_text=cell_text, versions_text=versions_text)
    environment.globals.update(section_title=section_title)
    return environment.get_template(template).render(**context)


def render_markdown(matrix: Matrix, html: str = "index.html") -> str:
    """``matrix.md``: the same sections as the HTML, in the same order; exchanges link into ``html``."""
    return _markdown("matrix.md.j2", matrix=matrix, board=matrix.scoreboard, html=html).rstrip("\n") + "\n"


def render_html(matrix: Matrix) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("mm_conformance.outcomes", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["cell_text"] = cell_text
    environment.filters["plain"] = plain
    environment.globals.update(section_title=section_title, cell_id=cell_id, docs_text=docs_text)
    return environment.get_template("report.html.j2").render(matrix=matrix, board=matrix.scoreboard)


def write(runs_to_report: list[Path] | MergedRuns, out: Path) -> tuple[Path, Path]:
    """``index.html`` and ``matrix.md`` of the runs (report directories, or their merge) in ``out``."""
    matrix = build(runs_to_report)
    out.mkdir(parents=True, exist_ok=True)
    html, markdown = out / "index.html", out / "matrix.md"
    html.write_text(render_html(matrix))
    markdown.write_text(render_markdown(matrix, html.name))
    return html, markdown


def since_text(found: list[str], judged: list[str]) -> str:
    """Which versions a finding happens on, among those where its scenario got a verdict (oldest first)."""
    found = sorted(found, key=version_key)
    judged = sorted(set(judged) | set(found), key=version_key)
    others = [v for v in judged if v not in found]
    if not others:
        return f"on every version run ({', '.join(found)})"
    if judged[-len(found):] == found:
        return f"since {found[0]} (not on {versions_text(others)})"
    if judged[:len(found)] == found:
        return f"up to {found[-1]} (not since {others[0]})"
    return f"on {versions_text(found)} (not on {versions_text(others)})"


def findings_document(runs_to_report: list[Path] | MergedRuns) -> str:
    """``docs/findings.md``: what each implementation gets wrong on the servers run, from runs' results.

    Per implementation (the reference first): each finding, most serious first, with the versions it
    happens on ("on every version run (5.37.0, 11.0.3)", "since 11.0.3"), the documentation step, the
    scenario that shows it and what was observed; then the runs and servers it was generated from.
    """
    merged = as_merged(runs_to_report)
    matrix = build(merged)
    board = matrix.scoreboard
    ran = {implementation: [s for s in board.servers if board.cell(implementation, s) is not None]
           for implementation in board.implementations}
    return _markdown("findings.md.j2", matrix=matrix, board=board, severities=SEVERITIES, ran=ran,
                     when=lambda finding: _when(matrix, finding),
                     generated_from=[_generated_from(run) for run in merged.runs])


def _when(matrix: Matrix, finding: Finding) -> str:
    """The versions a finding happens on, among those its scenario got a verdict on ("since 11.0.3"),
    then what the scenario gave on the others ("(skipped on 5.37.0)")."""
    judged, unjudged = _judged(matrix, finding.implementation, finding.title)
    when = since_text(finding.servers, judged)
    if unjudged:
        when = when.replace("on every version run", "on every version that gave a verdict", 1)
    return when + "".join(f" ({verdict} on {versions_text(servers)})" for verdict, servers in unjudged.items())


class _Run(NamedTuple):
    """A run as the findings' "Generated from" table names it."""

    name: str
    suite: object
    implementations: list[str]
    servers: list[str]
    counts: Counter[str]


def _generated_from(run: RunRead) -> _Run:
    return _Run(name=run.name, suite=run.meta.get("suite"),
                implementations=list(dict.fromkeys(r.implementation for r in run.results)),
                servers=sorted({r.server for r in run.results}, key=version_key),
                counts=Counter(r.verdict for r in run.results))


def _judged(matrix: Matrix, implementation: str, title: str) -> tuple[list[str], dict[str, list[str]]]:
    """The servers where this implementation's scenario got a verdict (pass, warn or fail), and those
    where it did not ("skipped" or "no verdict": servers)."""
    judged: list[str] = []
    unjudged: dict[str, list[str]] = {}
    for row in (row for rows in matrix.sections.values() for row in rows if row.title == title):
        for column in sorted(row.cells, key=lambda c: version_key(c.server)):
            verdict = row.cells[column].verdict
            if column.implementation != implementation:
                continue
            if verdict in ("pass", "warn", "fail"):
                judged.append(column.server)
            else:
                unjudged.setdefault("skipped" if verdict == "skip" else "no verdict", []).append(column.server)
    return judged, unjudged


def errata_document(runs_to_report: list[Path] | MergedRuns) -> str:
    """``docs/errata.md``: where the documentation and the real system disagree, from runs' results.

    Only an erratum that a scenario *passed* with counts (the run observed the
    discrepancy); each is listed once, with the scenario and where it was shown.
    """
    shown: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for result in as_merged(runs_to_report).results:
        if result.verdict != "pass":
            continue
        for erratum in result.errata:
            shown[erratum][result.title or result.scenario].add(Column(result.implementation, result.server).title)
    return _markdown("errata.md.j2", shown={
        erratum: {scenario: sorted(places) for scenario, places in scenarios.items()}
        for erratum, scenarios in shown.items()})
