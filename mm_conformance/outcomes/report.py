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

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from mm_conformance.mattermost.servers import version_key
from mm_conformance.outcome import VERDICTS, Severity
from mm_conformance.outcomes import runs
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
class Matrix:
    columns: list[Column]
    sections: dict[str, list[Row]]
    scoreboard: Scoreboard
    #: Failures and warnings, most serious first (the order of SEVERITIES), then by implementation.
    findings: list[Finding]
    #: Scenarios that gave no verdict (``error``), merged across servers like findings.
    no_verdict: list[Finding]
    anchors: dict[tuple[Column, str], str] = field(default_factory=dict)

    def grouped(self) -> list[tuple[str, str, str, list[Finding]]]:
        """(severity, heading, meaning, findings) for every severity, in order, also when empty."""
        return [(key, heading, meaning, [f for f in self.findings if f.severity == key])
                for key, heading, meaning in SEVERITIES]

    def anchor(self, column: Column, row: Row) -> str:
        return self.anchors[(column, row.scenario)]


def _read(run_dirs: list[Path]) -> list[tuple[Path, dict[str, object], list[tuple[Column, ScenarioResult]]]]:
    loaded = []
    for directory in run_dirs:
        meta, results = runs.read(directory)
        default = str(meta.get("implementation", directory.name))
        loaded.append((directory, meta, [(Column(r.implementation or default, r.server), r) for r in results]))
    return loaded


def build(run_dirs: list[Path]) -> Matrix:
    columns: list[Column] = []
    rows: dict[str, Row] = {}
    for _, _, results in _read(run_dirs):
        for column, result in results:
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
    return Matrix(columns, sections, scoreboard, findings, no_verdict, anchors)


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
    loaded = _read(run_dirs)
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
