"""What the trace is built from: the documentation page's sections and steps, and the feature
files' scenarios with their tags and behaviour statements (see mm_conformance.outcomes.trace)."""

from __future__ import annotations

import hashlib
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gherkin.errors import CompositeParserException
from gherkin.parser import Parser

from mm_conformance.paths import SUITE_ROOT

DEFAULT_DOCS = SUITE_ROOT / "docs" / "n8n-mattermost-credentials.md"
DEFAULT_FEATURES = SUITE_ROOT / "features"
DEFAULT_GOLDEN = SUITE_ROOT / "docs" / "trace.yaml"

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
        raise TraceError(f"cannot read documentation page {docs_path}: {error_words(error)}") from error
    return Page(
        path=display_path(docs_path, repo),
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
    """One feature file → its scenarios; TraceError with a one-line reason if it does not parse.

    Read with the Gherkin parser pytest-bdd itself uses (gherkin-official), so the trace sees
    the scenarios pytest-bdd runs, without needing pytest.
    """
    shown = display_path(path, repo)
    try:
        document = Parser().parse(path.read_text(encoding="utf-8"))
    except CompositeParserException as error:
        first = error.errors[0]
        words = re.sub(r"^\(\d+:\d+\): ", "", str(first).strip())
        raise TraceError(f"{shown}:{first.location['line']}: feature file does not parse: {words}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise TraceError(f"cannot read feature file {shown}: {error_words(error)}") from error
    feature: Any = document.get("feature")  # gherkin's TypedDicts, read as the plain dicts they are
    if not feature:
        raise TraceError(f"{shown}: feature file does not parse: no Feature in it")
    found: list[ScenarioInfo] = []

    def visit(children: list[dict[str, Any]], inherited: tuple[str, ...]) -> None:
        for child in children:
            if "rule" in child:
                visit(child["rule"]["children"], inherited + _tag_names(child["rule"]["tags"]))
            elif "scenario" in child:
                scenario = child["scenario"]
                statement, level, why = behaviour_statement(scenario["description"])
                found.append(ScenarioInfo(
                    file=shown, name=scenario["name"].strip(), line=scenario["location"]["line"],
                    tags=_tag_names(scenario["tags"]), inherited_tags=inherited,
                    statement=statement, level=level, why=why,
                ))

    visit(feature["children"], _tag_names(feature["tags"]))
    return found


def load_scenarios(features_dir: Path, repo: Path = SUITE_ROOT) -> list[ScenarioInfo]:
    """All scenarios of ``features_dir/**/*.feature``, in file then line order."""
    if not features_dir.is_dir():
        raise TraceError(f"features directory not found: {features_dir}")
    scenarios: list[ScenarioInfo] = []
    for path in sorted(features_dir.rglob("*.feature")):
        scenarios.extend(parse_feature_file(path, repo))
    return scenarios


def _tag_names(tags: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(tag["name"].lstrip("@") for tag in tags)


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


def display_path(path: Path, repo: Path) -> str:
    """Relative to the repo when inside it, so the golden file is the same on every machine."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path(os.path.abspath(repo))).as_posix()
    except ValueError:
        return absolute.as_posix()  # outside the repo: say exactly where


def error_words(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return " ".join(str(error).split())
