"""Traceability: documentation page → behaviours → scenarios, kept in a golden file.

The suite encodes one documentation page (n8n's "Mattermost credentials") as
Gherkin scenarios. Like Kubernetes conformance, every scenario carries a
*behaviour statement* with an RFC 2119 keyword, and a golden file
(``docs/trace.yaml``) records which documented step each behaviour comes from
and which scenarios check it. A pull request that changes the page, a
statement or a tag therefore changes that file, and the change is reviewed
like code.

How the pieces are linked:

* The page's ``## Title <a href="#x" id="x"></a>`` headings are its *sections*
  (anchor ``x``); the numbered list items of a section are its *steps*.
* A scenario tag ``@docs:<anchor>:<n>`` says "this scenario checks step n";
  ``@docs:<anchor>`` says "this scenario checks the section as a whole" (for
  prose such as a bullet list of causes); ``@beyond-docs`` says "the page does
  not state this, the suite checks it anyway" and then the description must
  carry a ``Why:`` line.
* A ``@docs:<anchor>`` tag on the Feature (or a Rule) is a default: a scenario
  with no docs tag of its own (and not ``@beyond-docs``) belongs to that section
  as a whole. It never covers a step: step coverage must be stated per scenario.
* The first paragraph of a scenario's description is its behaviour statement;
  its *level* is the strongest RFC 2119 keyword in it (MUST > SHOULD > MAY).

Run ``mm-conformance trace`` (or ``python -m mm_conformance.outcomes.trace``) to check,
``--write`` to regenerate the golden file.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mm_conformance.paths import SUITE_ROOT

DEFAULT_DOCS = SUITE_ROOT / "docs" / "n8n-mattermost-credentials.md"
DEFAULT_FEATURES = SUITE_ROOT / "features"
DEFAULT_GOLDEN = SUITE_ROOT / "docs" / "trace.yaml"

EXIT_CLEAN, EXIT_DIRTY, EXIT_ERROR = 0, 1, 2

BEYOND_DOCS_TAG = "beyond-docs"
DOCS_TAG_PREFIX = "docs:"

# Longest alternatives first so "MUST NOT" is not read as "MUST". Case-sensitive
# on purpose: RFC 2119 (via RFC 8174) gives the words their meaning only in capitals.
_RFC2119 = re.compile(
    r"\b(MUST NOT|SHALL NOT|SHOULD NOT|NOT RECOMMENDED|MUST|SHALL|REQUIRED|SHOULD|RECOMMENDED|MAY|OPTIONAL)\b"
)
_STRENGTH = {
    "MUST": 3, "MUST NOT": 3, "SHALL": 3, "SHALL NOT": 3, "REQUIRED": 3,
    "SHOULD": 2, "SHOULD NOT": 2, "RECOMMENDED": 2, "NOT RECOMMENDED": 2,
    "MAY": 1, "OPTIONAL": 1,
}

_HEADING = re.compile(r"^##\s+(?P<title>.+?)\s*$")
_ANCHOR_ID = re.compile(r"""<a\b[^>]*\bid=["'](?P<id>[^"']+)["'][^>]*>\s*</a>""")
_NUMBERED_ITEM = re.compile(r"^(?P<number>\d+)[.)]\s+(?P<text>.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")
# Lines that open a new block rather than continue a paragraph: nested lists, HTML, quotes.
_BLOCK_START = re.compile(r"^\s*([-*+]\s|\d+[.)]\s|<|>|#)")


class TraceError(Exception):
    """An input could not be read or parsed; the CLI prints it as one line (exit 2)."""


# --------------------------------------------------------------------------- page


@dataclass(frozen=True)
class DocStep:
    """One numbered list item of a section: what the user is told to do."""

    number: int
    text: str


@dataclass(frozen=True)
class Section:
    """A ``##`` section of the page, named by its anchor."""

    anchor: str
    title: str
    steps: tuple[DocStep, ...]

    def step(self, number: int) -> DocStep | None:
        return next((s for s in self.steps if s.number == number), None)


@dataclass(frozen=True)
class Page:
    """The documentation page under test, as sections and steps."""

    path: str  # as shown in the golden file: relative to the repo when inside it
    sha256: str  # short digest of the bytes, so any edit (even in a hint) shows up
    sections: tuple[Section, ...]

    def section(self, anchor: str) -> Section | None:
        return next((s for s in self.sections if s.anchor == anchor), None)


def plain_text(markdown: str) -> str:
    """Markdown/HTML fragment → one readable line (links keep their text, tags go)."""
    text = re.sub(r"<br\s*/?>", " ", markdown, flags=re.IGNORECASE)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [text](url) and images
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<!\w)[*_](\S(?:.*?\S)?)[*_](?!\w)", r"\1", text)
    text = text.replace("`", "")
    return " ".join(html.unescape(text).split())


def _slug(title: str) -> str:
    """Fallback anchor for a heading without an explicit id (GitHub-style)."""
    return re.sub(r"[^a-z0-9 -]", "", title.lower()).strip().replace(" ", "-")


def parse_page(text: str) -> list[Section]:
    """Split the page into ``##`` sections and their numbered steps.

    A step's text is the item's own paragraph (its first line plus any lazy
    continuation lines). Indented blocks under an item, such as the GitBook hint
    ``<div>`` inside step 1, belong to the item but are not part of its one-line
    text; they still change the page digest. Numbers are the items' positions in
    the section (Markdown renders ``1. 1. 1.`` as 1, 2, 3), and lines inside code
    fences are never steps.
    """
    sections: list[tuple[str, str, list[str]]] = []
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            raw = heading.group("title")
            anchor = _ANCHOR_ID.search(raw)
            title = plain_text(_ANCHOR_ID.sub("", raw))
            sections.append((anchor.group("id") if anchor else _slug(title), title, []))
        elif sections:
            sections[-1][2].append(line)
    return [Section(anchor, title, tuple(_numbered_steps(body))) for anchor, title, body in sections]


def _numbered_steps(lines: list[str]) -> list[DocStep]:
    steps: list[DocStep] = []
    current: list[str] | None = None  # lines of the item paragraph being read
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
            current = None
            continue
        item = None if in_fence else _NUMBERED_ITEM.match(line)
        if item:
            current = [item.group("text")]
            steps.append(DocStep(len(steps) + 1, ""))
        elif current is not None and line.strip() and not _BLOCK_START.match(line):
            current.append(line)  # continuation of the item's paragraph (indented or lazy)
        else:
            current = None  # blank line or indented block: the paragraph is over
            continue
        steps[-1] = DocStep(steps[-1].number, plain_text(" ".join(current)))
    return steps


def load_page(docs_path: Path, repo: Path = SUITE_ROOT) -> Page:
    """Read and parse the documentation page; TraceError if it cannot be read."""
    try:
        data = docs_path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TraceError(f"cannot read documentation page {docs_path}: {_reason(error)}") from error
    return Page(
        path=_display_path(docs_path, repo),
        sha256=hashlib.sha256(data).hexdigest()[:16],
        sections=tuple(parse_page(text)),
    )


# ---------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class DocsRef:
    """Where a scenario points into the page: a step, or (step None) a whole section."""

    anchor: str
    step: int | None = None

    def __str__(self) -> str:
        return self.anchor if self.step is None else f"{self.anchor}:{self.step}"


@dataclass(frozen=True)
class ScenarioInfo:
    """What the trace needs to know about one scenario (or outline)."""

    file: str  # relative to the repo, POSIX separators
    name: str
    line: int
    tags: tuple[str, ...]  # the scenario's own tags, without "@"
    inherited_tags: tuple[str, ...]  # Feature and Rule tags, without "@"
    statement: str | None
    level: str | None
    why: str | None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line} {self.name!r}"

    @property
    def beyond_docs(self) -> bool:
        return BEYOND_DOCS_TAG in self.tags

    @property
    def docs_tags(self) -> tuple[str, ...]:
        return tuple(t for t in self.tags if t.startswith(DOCS_TAG_PREFIX))

    def docs_refs(self) -> tuple[DocsRef, ...]:
        """Own docs tags, else the inherited sections (never steps), else nothing."""
        own = tuple(ref for ref in map(parse_docs_tag, self.docs_tags) if ref is not None)
        if own or self.docs_tags or self.beyond_docs:
            return own
        inherited = (parse_docs_tag(t) for t in self.inherited_tags if t.startswith(DOCS_TAG_PREFIX))
        # Only the section part of an inherited tag counts: a Feature about a
        # section does not make each of its scenarios cover a particular step.
        return tuple(dict.fromkeys(DocsRef(ref.anchor) for ref in inherited if ref is not None))


def parse_docs_tag(tag: str) -> DocsRef | None:
    """``docs:anchor`` or ``docs:anchor:7`` → DocsRef; None if malformed."""
    match = re.fullmatch(r"docs:([A-Za-z0-9_.-]+)(?::(\d+))?", tag)
    if not match:
        return None
    return DocsRef(match.group(1), int(match.group(2)) if match.group(2) else None)


def behaviour_statement(description: str) -> tuple[str | None, str | None, str | None]:
    """Description text → (statement, level, why).

    The statement is the first paragraph joined to one line (up to a ``Why:`` line,
    which may follow it without a blank line), and counts only if it contains an
    RFC 2119 keyword; the level is the strongest keyword in it (first one on a
    tie). ``why`` is the text of the first line starting ``Why:`` and the lines
    that continue its paragraph.
    """
    paragraphs = [p for p in re.split(r"\n\s*\n", description.strip()) if p.strip()]
    first_lines = paragraphs[0].splitlines() if paragraphs else []
    cut = next((i for i, line in enumerate(first_lines) if line.strip().startswith("Why:")), len(first_lines))
    first = " ".join(" ".join(first_lines[:cut]).split())
    keywords = _RFC2119.findall(first)
    level = max(keywords, key=lambda k: _STRENGTH[k]) if keywords else None
    why = None
    for paragraph in paragraphs:
        lines = [line.strip() for line in paragraph.splitlines()]
        for index, line in enumerate(lines):
            if line.startswith("Why:") and why is None:
                # a Why: paragraph may wrap over several lines
                rest = [line[len("Why:"):]] + lines[index + 1:]
                why = " ".join(" ".join(rest).split()) or None
    return (first if level else None), level, why


def parse_feature_file(path: Path, repo: Path = SUITE_ROOT) -> list[ScenarioInfo]:
    """One feature file → its scenarios; TraceError with a one-line reason if it does not parse."""
    # Imported here so that reading the page alone does not need pytest-bdd.
    from pytest_bdd.exceptions import GherkinParseError
    from pytest_bdd.gherkin_parser import get_gherkin_document

    shown = _display_path(path, repo)
    try:
        document = get_gherkin_document(str(path))
    except GherkinParseError as error:
        raise TraceError(f"{shown}:{error.line}: feature file does not parse: {error.message}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise TraceError(f"cannot read feature file {shown}: {_reason(error)}") from error
    except KeyError as error:  # the parser returns no "feature" for a file without one
        raise TraceError(f"{shown}: feature file does not parse: no Feature in it") from error

    feature = document.feature
    found: list[ScenarioInfo] = []

    def visit(children: list[Any], inherited: tuple[str, ...]) -> None:
        for child in children:
            if child.rule is not None:
                visit(child.rule.children, inherited + _tag_names(child.rule.tags))
            elif child.scenario is not None:
                scenario = child.scenario
                statement, level, why = behaviour_statement(scenario.description)
                found.append(ScenarioInfo(
                    file=shown, name=scenario.name.strip(), line=scenario.location.line,
                    tags=_tag_names(scenario.tags), inherited_tags=inherited,
                    statement=statement, level=level, why=why,
                ))

    visit(feature.children, _tag_names(feature.tags))
    return found


def load_scenarios(features_dir: Path, repo: Path = SUITE_ROOT) -> list[ScenarioInfo]:
    """All scenarios of ``features_dir/**/*.feature``, in file then line order."""
    if not features_dir.is_dir():
        raise TraceError(f"features directory not found: {features_dir}")
    scenarios: list[ScenarioInfo] = []
    for path in sorted(features_dir.rglob("*.feature")):
        scenarios.extend(parse_feature_file(path, repo))
    return scenarios


def _tag_names(tags: list[Any]) -> tuple[str, ...]:
    return tuple(tag.name.lstrip("@") for tag in tags)


# -------------------------------------------------------------------------- trace


@dataclass(frozen=True)
class Trace:
    """The page and the scenarios; everything else is derived from these two."""

    page: Page
    scenarios: tuple[ScenarioInfo, ...] = field(default_factory=tuple)

    def scenarios_at(self, ref: DocsRef) -> list[ScenarioInfo]:
        return [s for s in self.scenarios if ref in s.docs_refs()]

    def beyond_docs(self) -> list[ScenarioInfo]:
        return [s for s in self.scenarios if s.beyond_docs]


def build_trace(
    docs_path: Path = DEFAULT_DOCS, features_dir: Path = DEFAULT_FEATURES, repo: Path = SUITE_ROOT
) -> Trace:
    """Read the page and every feature file; TraceError if either cannot be read."""
    return Trace(load_page(docs_path, repo), tuple(load_scenarios(features_dir, repo)))


def problems(trace: Trace) -> list[str]:
    """Everything that keeps the trace from being complete, one line each.

    Empty means: every documented step has a scenario, every scenario says which
    documentation it encodes (or why it goes beyond it), every docs tag names
    something that exists, and every scenario states its behaviour.
    """
    found: list[str] = []
    page = trace.page
    for section in page.sections:
        for step in section.steps:
            if not trace.scenarios_at(DocsRef(section.anchor, step.number)):
                found.append(f"{page.path}: step {section.anchor}:{step.number} has no scenario ({step.text})")

    seen: dict[tuple[str, str], ScenarioInfo] = {}
    for scenario in trace.scenarios:
        where = scenario.where
        key = (scenario.file, scenario.name)
        if key in seen:
            # the golden file names scenarios by file and name, so they must be unique
            found.append(f"{where}: same name as the scenario at line {seen[key].line}")
        seen.setdefault(key, scenario)
        if scenario.beyond_docs and scenario.docs_tags:
            found.append(f"{where}: tagged both @{BEYOND_DOCS_TAG} and @docs:…; choose one")
        if not scenario.docs_refs() and not scenario.beyond_docs and not scenario.docs_tags:
            found.append(f"{where}: neither a @docs:<section>[:<step>] tag nor @{BEYOND_DOCS_TAG}")
        for tag in scenario.docs_tags:
            ref = parse_docs_tag(tag)
            if ref is None:
                found.append(f"{where}: malformed tag @{tag} (expected @docs:<section>[:<step>])")
                continue
            named = page.section(ref.anchor)
            if named is None:
                found.append(f"{where}: @{tag} names no section of {page.path}")
            elif ref.step is not None and named.step(ref.step) is None:
                found.append(
                    f"{where}: @{tag} names step {ref.step}, but section {ref.anchor} has "
                    f"{len(named.steps)} step(s)"
                )
        if scenario.statement is None:
            found.append(f"{where}: description does not start with a behaviour statement using an RFC 2119 keyword")
        if scenario.beyond_docs and scenario.why is None:
            found.append(f"{where}: @{BEYOND_DOCS_TAG} but no 'Why:' line saying why the suite checks it")
        for tag in scenario.inherited_tags:
            ref = parse_docs_tag(tag) if tag.startswith(DOCS_TAG_PREFIX) else None
            if tag.startswith(DOCS_TAG_PREFIX) and (ref is None or page.section(ref.anchor) is None):
                # shared by every scenario of the file: the dedup below says it once
                found.append(f"{scenario.file}: Feature/Rule tag @{tag} names no section of {page.path}")
    return list(dict.fromkeys(found))


# -------------------------------------------------------------------- golden file

_HEADER = """\
# Traceability of n8n's Mattermost credentials page: documentation → behaviours → scenarios.
#
# Generated by `mm-conformance trace --write` from features/ and the page below; do not edit
# by hand. `mm-conformance trace` (and tests/test_trace.py in CI) fails when this file is stale.
# Changes to this file are reviewed like code: a step appearing or disappearing means the page
# changed; a behaviour or scenario appearing or disappearing means what the suite checks changed.
"""


def _behaviours(scenarios: list[ScenarioInfo], with_why: bool = False) -> list[dict[str, Any]]:
    """Scenarios grouped by the behaviour they state, in a stable order."""
    groups: dict[tuple[str | None, str | None, str | None], list[ScenarioInfo]] = defaultdict(list)
    for scenario in scenarios:
        groups[(scenario.statement, scenario.level, scenario.why if with_why else None)].append(scenario)
    rendered = []
    # Sorted by text, not by position in the feature files, so that moving a
    # scenario inside a file does not churn the golden file.
    for (statement, level, why) in sorted(groups, key=lambda k: tuple(x or "" for x in k)):
        entry: dict[str, Any] = {"statement": statement, "level": level}
        if with_why:
            entry["why"] = why
        entry["scenarios"] = [
            {"file": s.file, "scenario": s.name}
            for s in sorted(groups[(statement, level, why)], key=lambda s: (s.file, s.name))
        ]
        rendered.append(entry)
    return rendered


def trace_data(trace: Trace) -> dict[str, Any]:
    """The golden file's content as plain data (what render_yaml dumps)."""
    sections = []
    for section in trace.page.sections:
        sections.append({
            "anchor": section.anchor,
            "title": section.title,
            "section-behaviours": _behaviours(trace.scenarios_at(DocsRef(section.anchor))),
            "steps": [
                {"step": step.number, "text": step.text,
                 "behaviours": _behaviours(trace.scenarios_at(DocsRef(section.anchor, step.number)))}
                for step in section.steps
            ],
        })
    return {
        "documentation": {"path": trace.page.path, "sha256": trace.page.sha256},
        "sections": sections,
        "beyond-documentation": _behaviours(trace.beyond_docs(), with_why=True),
    }


def render_yaml(trace: Trace) -> str:
    """The golden file's text: deterministic for the same page and features."""
    body = yaml.safe_dump(
        trace_data(trace), sort_keys=False, allow_unicode=True, width=10_000, default_flow_style=False
    )
    return _HEADER + body


def _places(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Golden data → {place: behaviours}, place being ``anchor``, ``anchor:n`` or ``beyond-docs``."""
    places: dict[str, list[dict[str, Any]]] = {}
    for section in data.get("sections") or []:
        anchor = section.get("anchor")
        places[str(anchor)] = section.get("section-behaviours") or []
        for step in section.get("steps") or []:
            places[f"{anchor}:{step.get('step')}"] = step.get("behaviours") or []
    places[BEYOND_DOCS_TAG] = data.get("beyond-documentation") or []
    return places


def _steps(data: dict[str, Any]) -> dict[str, str]:
    return {
        f"{section.get('anchor')}:{step.get('step')}": str(step.get("text"))
        for section in data.get("sections") or []
        for step in section.get("steps") or []
    }


def _load_golden(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise TraceError(f"trace file is not valid YAML: {' '.join(str(error).split())}") from error
    if not isinstance(data, dict):
        raise TraceError("trace file is not a mapping")
    return data


def diff(old_yaml: str, new_yaml: str) -> list[str]:
    """What changed between two golden files, one readable line each.

    ``+`` added, ``-`` removed, ``~`` changed. Steps appearing, disappearing or
    changing text mean the page changed; behaviours and scenarios are keyed by
    where they are traced to, so moving a scenario to another step shows as a
    removal there and an addition here. An empty ``old_yaml`` means "no golden
    file yet". TraceError if either text is not a golden file.
    """
    old, new = _load_golden(old_yaml), _load_golden(new_yaml)
    lines: list[str] = [] if old else ["+ new trace file: everything below is new"]

    old_doc, new_doc = old.get("documentation") or {}, new.get("documentation") or {}
    for key in ("path", "sha256"):
        if old and old_doc.get(key) != new_doc.get(key):
            lines.append(f"~ documentation {key}: {old_doc.get(key)} → {new_doc.get(key)}")

    old_steps, new_steps = _steps(old), _steps(new)
    for place in _ordered(old_steps, new_steps):
        if place not in new_steps:
            lines.append(f"- step {place} disappeared from the page: {old_steps[place]}")
        elif place not in old_steps:
            lines.append(f"+ step {place} appeared in the page: {new_steps[place]}")
        elif old_steps[place] != new_steps[place]:
            lines.append(f"~ step {place} text changed: {old_steps[place]!r} → {new_steps[place]!r}")

    old_places, new_places = _places(old), _places(new)
    for place in _ordered(old_places, new_places):
        before = {_behaviour_key(b): b for b in old_places.get(place, [])}
        after = {_behaviour_key(b): b for b in new_places.get(place, [])}
        for key in _ordered(before, after):
            if key not in after:
                lines.append(f"- behaviour [{place}] {_describe(before[key])}")
            elif key not in before:
                lines.append(f"+ behaviour [{place}] {_describe(after[key])}")
            scenarios_before, scenarios_after = _scenario_set(before.get(key)), _scenario_set(after.get(key))
            for file, name in sorted(scenarios_before - scenarios_after):
                lines.append(f"- scenario [{place}] {file}: {name}")
            for file, name in sorted(scenarios_after - scenarios_before):
                lines.append(f"+ scenario [{place}] {file}: {name}")
    return lines


def _ordered(*mappings: dict[Any, Any]) -> list[Any]:
    """Keys of several dicts, each once, in first-seen order (old first, then new)."""
    return list(dict.fromkeys(key for mapping in mappings for key in mapping))


def _behaviour_key(behaviour: dict[str, Any]) -> tuple[str, str, str]:
    return (str(behaviour.get("statement")), str(behaviour.get("level")), str(behaviour.get("why")))


def _describe(behaviour: dict[str, Any]) -> str:
    statement = behaviour.get("statement")
    if statement is None:
        return "(no behaviour statement)"
    return f"{behaviour.get('level')}: {statement}"


def _scenario_set(behaviour: dict[str, Any] | None) -> set[tuple[str, str]]:
    if not behaviour:
        return set()
    return {(str(s.get("file")), str(s.get("scenario"))) for s in behaviour.get("scenarios") or []}


# ---------------------------------------------------------------------------- CLI


def _display_path(path: Path, repo: Path) -> str:
    """Relative to the repo when inside it, so the golden file is the same on every machine."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path(os.path.abspath(repo))).as_posix()
    except ValueError:
        return absolute.as_posix()  # outside the repo: say exactly where


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return " ".join(str(error).split())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mm-conformance trace",
        description="Check or regenerate the documentation → behaviours → scenarios trace (docs/trace.yaml).",
    )
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, metavar="PATH",
                        help="documentation page (default: docs/n8n-mattermost-credentials.md)")
    parser.add_argument("--features", type=Path, default=DEFAULT_FEATURES, metavar="DIR",
                        help="feature files directory (default: features/)")
    parser.add_argument("--golden", type=Path, default=DEFAULT_GOLDEN, metavar="PATH",
                        help="golden trace file (default: docs/trace.yaml)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="report problems and differences from the golden file; exit 1 if any (default)")
    mode.add_argument("--write", action="store_true", help="regenerate the golden file and print what changed")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``trace [--docs PATH] [--features DIR] [--golden PATH] [--write | --check]``.

    Exit 0 clean (or written), 1 problems or a stale golden file (``--check``),
    2 an input could not be read or parsed.
    """
    args = _parser().parse_args(argv)
    try:
        trace = build_trace(args.docs, args.features)
        new_text = render_yaml(trace)
        try:
            old_text = args.golden.read_text(encoding="utf-8")
        except FileNotFoundError:
            old_text = ""
        except (OSError, UnicodeDecodeError) as error:
            raise TraceError(f"cannot read trace file {args.golden}: {_reason(error)}") from error
        changes = diff(old_text, new_text)
        if args.write:
            args.golden.parent.mkdir(parents=True, exist_ok=True)
            args.golden.write_text(new_text, encoding="utf-8")
    except TraceError as error:
        print(f"mm-conformance trace: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as error:  # writing the golden file failed
        print(f"mm-conformance trace: error: cannot write {args.golden}: {_reason(error)}", file=sys.stderr)
        return EXIT_ERROR

    found = problems(trace)
    golden = _display_path(args.golden, SUITE_ROOT)
    if found:
        print(f"{len(found)} problem(s):")
        print("\n".join(f"  {line}" for line in found))
    if args.write:
        print(f"wrote {golden}" + (":" if changes else " (no change)"))
        for line in changes:
            print(f"  {line}")
        return EXIT_CLEAN
    stale = bool(changes) or (old_text != new_text)
    if stale:
        print(f"{golden} is out of date; run `mm-conformance trace --write` and review the change:")
        for line in changes or ["(formatting only)"]:
            print(f"  {line}")
    if not found and not stale:
        print(f"trace OK: {golden} is up to date and complete")
    return EXIT_DIRTY if found or stale else EXIT_CLEAN


if __name__ == "__main__":
    raise SystemExit(main())
