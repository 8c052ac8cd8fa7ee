"""The conformance matrix: scenarios × (implementation, Mattermost line), as HTML and Markdown.

Built from the ``results.json`` of one or more runs (``mm-conformance run --report DIR``)::

    mm-conformance report reports/reference reports/n8n reports/mattermostdriver --out reports/matrix

Rows are scenarios grouped by the documentation section they encode; columns are
implementation × the version the server reported; each cell gives the verdict with the observed
status and error kind and opens its details (requests made, answers, reasons —
tokens were redacted when the run recorded them). A findings section lists every
deviation of an implementation other than the reference.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from . import runs
from .redact import redact
from .results import ScenarioResult
from .servers import version_key

REFERENCE = "reference"


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


@dataclass
class Matrix:
    columns: list[Column]
    sections: dict[str, list[Row]]
    findings: list[tuple[Column, ScenarioResult]]


def build(run_dirs: list[Path]) -> Matrix:
    columns: list[Column] = []
    rows: dict[str, Row] = {}
    for directory in run_dirs:
        meta, results = runs.read(directory)
        default = str(meta.get("implementation", directory.name))
        for result in results:
            column = Column(result.implementation or default, result.server)
            if column not in columns:
                columns.append(column)
            row = rows.setdefault(result.scenario, Row(result.scenario, result.docs, result.title or result.scenario))
            row.cells[column] = result
    # Each implementation's columns together, in the order they appeared, its servers oldest first.
    implementations = list(dict.fromkeys(column.implementation for column in columns))
    columns.sort(key=lambda c: (implementations.index(c.implementation), version_key(c.server)))
    sections: dict[str, list[Row]] = defaultdict(list)
    for row in rows.values():
        sections[_section(row.docs)].append(row)
    findings = [(column, row.cells[column]) for rows_ in sections.values() for row in rows_
                for column in columns
                if column.implementation != REFERENCE and column in row.cells
                and row.cells[column].verdict in ("fail", "warn")]
    return Matrix(columns, dict(sorted(sections.items(), key=lambda kv: _section_order(kv[0]))), findings)


def _section(docs: str) -> str:
    first = docs.split(",")[0].strip()
    return first.split(":")[0] if first else "untagged"


def _section_order(section: str) -> tuple[int, str]:
    order = ["using-api-access-token", "enable-personal-access-tokens", "beyond the documentation"]
    return (order.index(section) if section in order else len(order), section)


def cell_text(result: ScenarioResult | None) -> str:
    if result is None:
        return "—"
    observed = " ".join(str(x) for x in (result.status, result.error_kind) if x is not None)
    return f"{result.verdict} {observed}".strip()


def render_markdown(matrix: Matrix) -> str:
    lines = ["# Conformance matrix", ""]
    header = "| scenario | " + " | ".join(c.title for c in matrix.columns) + " |"
    for section, rows in matrix.sections.items():
        lines += [f"## {section}", "", header, "|---|" + "---|" * len(matrix.columns)]
        for row in rows:
            cells = " | ".join(cell_text(row.cells.get(c)) for c in matrix.columns)
            lines.append(f"| {row.title} | {cells} |")
        lines.append("")
    lines += ["## Findings", ""]
    if not matrix.findings:
        lines.append("No implementation other than the reference deviates.")
    for column, result in matrix.findings:
        lines.append(f"- **{column.title}** — {result.title or result.scenario} ({result.docs}): {result.verdict}: "
                     f"{redact(result.reason or '; '.join(result.observations))}")
    return "\n".join(lines) + "\n"


def render_html(matrix: Matrix) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("mm_conformance", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined)
    environment.filters["cell_text"] = cell_text
    environment.filters["redact"] = redact
    return environment.get_template("report.html.j2").render(matrix=matrix)


def write(run_dirs: list[Path], out: Path) -> tuple[Path, Path]:
    matrix = build(run_dirs)
    out.mkdir(parents=True, exist_ok=True)
    html, markdown = out / "index.html", out / "matrix.md"
    html.write_text(render_html(matrix))
    markdown.write_text(render_markdown(matrix))
    return html, markdown


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
