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

import jinja2

from mm_conformance.mattermost.servers import version_key
from mm_conformance.outcome import VERDICTS
from mm_conformance.outcomes import runs
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
    build,
    cell_id,
    cell_text,
    docs_text,
    plain,
    read_runs,
    section_title,
    severity,
    versions_text,
)

__all__ = [
    "Column", "Finding", "Matrix", "NO_VERDICT_HEADING", "Occurrence", "REFERENCE", "Row", "SECTION_TITLES",
    "SEVERITIES", "SEVERITY_HEADINGS", "Scoreboard", "build", "cell_id", "cell_text", "docs_text", "plain",
    "section_title", "severity", "versions_text", "errata_document", "findings_document", "render_html",
    "render_markdown", "since_text", "write",
]


def _md(text: str) -> str:
    """Text for a Markdown table cell or list item."""
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(matrix: Matrix, html: str = "index.html") -> str:
    """``matrix.md``: the same sections as the HTML, in the same order; exchanges link into ``html``."""
    board = matrix.scoreboard
    lines = ["# Mattermost credential conformance", "", "## Scoreboard", "",
             "| implementation | " + " | ".join(s or "unnamed server" for s in board.servers) + " |",
             "|---|" + "---|" * len(board.servers)]
    for implementation in board.implementations:
        cells = []
        for server in board.servers:
            counts = board.cell(implementation, server)
            cells.append("—" if counts is None else f"**{board.standing(counts)}**: {board.tally(counts)}")
        lines.append(f"| {implementation} | " + " | ".join(cells) + " |")
    lines += ["", "## Findings", ""]
    if not matrix.findings:
        lines += ["No finding: no scenario failed or warned.", ""]
    for _, heading, meaning, findings in matrix.grouped():
        lines += [f"### {heading} ({len(findings)})", "", f"_{meaning[0].upper()}{meaning[1:]}._", ""]
        if not findings:
            lines += ["None.", ""]
            continue
        for finding in findings:
            lines.append(_finding_markdown(finding, html))
        lines.append("")
    if matrix.no_verdict:
        lines += ["## No verdict (infrastructure)", "",
                  "_These scenarios stopped before a verdict: they count neither as a pass nor as a failure._", ""]
        lines += [_finding_markdown(finding, html, with_docs=False) for finding in matrix.no_verdict]
        lines.append("")
    lines += ["## Matrix", ""]
    header = "| scenario | " + " | ".join(c.title for c in matrix.columns) + " |"
    for section, rows in matrix.sections.items():
        lines += [f"### {section_title(section)}", "", header, "|---|" + "---|" * len(matrix.columns)]
        for row in rows:
            cells_text = " | ".join(cell_text(row.cells.get(c)) for c in matrix.columns)
            lines.append(f"| {_md(row.title)} | {cells_text} |")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _finding_markdown(finding: Finding, html: str, *, with_docs: bool = True) -> str:
    links = versions_text([f"[{o.server or 'unnamed server'}]({html}#{o.anchor})" for o in finding.occurrences])
    docs = f" — {finding.docs_step}" if with_docs else ""
    expected = f" (declared known deviation: {_md(finding.expected)})" if finding.expected else ""
    return f"- **{_md(finding.title)}** — {finding.implementation}, on {links}{docs}: {_md(finding.reason)}{expected}"


def render_html(matrix: Matrix) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("mm_conformance.outcomes", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["cell_text"] = cell_text
    environment.filters["plain"] = plain
    environment.globals.update(section_title=section_title, cell_id=cell_id, docs_text=docs_text)
    return environment.get_template("report.html.j2").render(matrix=matrix, board=matrix.scoreboard)


def write(run_dirs: list[Path], out: Path) -> tuple[Path, Path]:
    matrix = build(run_dirs)
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


def findings_document(run_dirs: list[Path]) -> str:
    """``docs/findings.md``: what each implementation gets wrong on the servers run, from runs' results.

    Per implementation (the reference first): each finding, most serious first, with the versions it
    happens on ("on every version run (5.37.0, 11.0.3)", "since 11.0.3"), the documentation step, the
    scenario that shows it and what was observed; then the runs and servers it was generated from.
    """
    loaded = read_runs(run_dirs)
    matrix = build(run_dirs)
    board = matrix.scoreboard
    lines = ["# Findings", "",
             "What each implementation gets wrong on real Mattermost servers, most serious first. Generated from",
             "run results by `mm-conformance report RUN_DIR... --out DIR --findings docs/findings.md`; do not edit",
             "by hand: run the implementations again and regenerate it.", ""]
    lines += ["Severities, most serious first:", ""]
    lines += [f"- **{heading}**: {meaning}." for _, heading, meaning in SEVERITIES]
    lines += ["", "## Scoreboard", "",
              "| implementation | " + " | ".join(s or "unnamed server" for s in board.servers) + " |",
              "|---|" + "---|" * len(board.servers)]
    for implementation in board.implementations:
        cells = [("—" if (c := board.cell(implementation, s)) is None else f"{board.standing(c)}: {board.tally(c)}")
                 for s in board.servers]
        lines.append(f"| {implementation} | " + " | ".join(cells) + " |")
    lines.append("")
    for implementation in board.implementations:
        ran = [s for s in board.servers if board.cell(implementation, s) is not None]
        findings = [f for f in matrix.findings if f.implementation == implementation]
        lines += [f"## {implementation}", "", f"Run on Mattermost {versions_text(ran)}.", ""]
        if not findings:
            lines += ["Nothing found: no scenario failed or warned.", ""]
        for _, heading, _, group in matrix.grouped():
            group = [f for f in group if f.implementation == implementation]
            if not group:
                continue
            lines += [f"### {heading}", ""]
            for finding in group:
                judged, unjudged = _judged(matrix, implementation, finding.title)
                expected = f" Declared known deviation: {_md(finding.expected)}." if finding.expected else ""
                elsewhere = "".join(f" ({verdict} on {versions_text(servers)})"
                                    for verdict, servers in unjudged.items())
                when = since_text(finding.servers, judged)
                if unjudged:
                    when = when.replace("on every version run", "on every version that gave a verdict", 1)
                lines += [f"- **{_md(finding.reason)}**",
                          f"  {when}{elsewhere}; {finding.docs_step}; "
                          f"shown by the scenario \"{_md(finding.title)}\".{expected}"]
            lines.append("")
        errors = [f for f in matrix.no_verdict if f.implementation == implementation]
        if errors:
            lines += ["### No verdict (infrastructure)", ""]
            lines += [f"- \"{_md(f.title)}\" {f.on}: {_md(f.reason)}" for f in errors]
            lines.append("")
    lines += ["## Generated from", "", "| run | implementations | Mattermost versions | results |", "|---|---|---|---|"]
    for directory, meta, results in loaded:
        name = directory.parent.name if directory.name == runs.RESULTS_FILE else directory.name
        implementations = list(dict.fromkeys(column.implementation for column, _ in results))
        servers = sorted({column.server for column, _ in results}, key=version_key)
        suite = f" (suite {meta['suite']})" if meta.get("suite") else ""
        counts = Counter(r.verdict for _, r in results)
        lines.append(f"| {name}{suite} | {', '.join(implementations) or '—'} | "
                     f"{', '.join(s or 'unnamed server' for s in servers) or '—'} | "
                     f"{' · '.join(f'{counts[v]} {v}' for v in VERDICTS)} |")
    return "\n".join(lines) + "\n"


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


def errata_document(run_dirs: list[Path]) -> str:
    """``docs/errata.md``: where the documentation and the real system disagree, from runs' results.

    Only an erratum that a scenario *passed* with counts (the run observed the
    discrepancy); each is listed once, with the scenario and where it was shown.
    """
    shown: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for directory in run_dirs:
        meta, results = runs.read(directory)
        default = str(meta.get("implementation", directory.name))
        for result in results:
            if result.verdict != "pass":
                continue
            for erratum in result.errata:
                where = Column(result.implementation or default, result.server).title
                shown[erratum][result.title or result.scenario].append(where)
    lines = ["# Documentation errata", "",
             "Where n8n's Mattermost credentials page (docs/n8n-mattermost-credentials.md) and a real",
             "Mattermost disagree. Generated from run results by",
             "`mm-conformance report RUN_DIR... --out DIR --errata docs/errata.md`; do not edit by hand.", ""]
    if not shown:
        return "\n".join(lines + ["No erratum has been shown by a run yet.", ""])
    for erratum, scenarios in shown.items():
        lines.append(f"- **{erratum}**")
        lines += [f"  - shown by \"{scenario}\" ({', '.join(sorted(set(places)))})"
                  for scenario, places in scenarios.items()]
    return "\n".join(lines) + "\n"
