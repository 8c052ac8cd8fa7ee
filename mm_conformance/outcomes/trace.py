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
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from mm_conformance.outcomes.trace_sources import (
    BEYOND_DOCS_TAG,
    DEFAULT_DOCS,
    DEFAULT_FEATURES,
    DEFAULT_GOLDEN,
    DOCS_TAG_PREFIX,
    DocsRef,
    Page,
    ScenarioInfo,
    Trace,
    TraceError,
    build_trace,
    display_path,
    error_words,
    load_page,
    parse_docs_tag,
    parse_page,
)
from mm_conformance.paths import SUITE_ROOT

__all__ = ["DocsRef", "Page", "ScenarioInfo", "Trace", "TraceError", "build_trace", "diff", "load_page", "main",
           "parse_page", "problems", "render_yaml"]

EXIT_CLEAN, EXIT_DIRTY, EXIT_ERROR = 0, 1, 2


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
            raise TraceError(f"cannot read trace file {args.golden}: {error_words(error)}") from error
        changes = diff(old_text, new_text)
        if args.write:
            args.golden.parent.mkdir(parents=True, exist_ok=True)
            args.golden.write_text(new_text, encoding="utf-8")
    except TraceError as error:
        print(f"mm-conformance trace: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as error:  # writing the golden file failed
        print(f"mm-conformance trace: error: cannot write {args.golden}: {error_words(error)}", file=sys.stderr)
        return EXIT_ERROR

    found = problems(trace)
    golden = display_path(args.golden, SUITE_ROOT)
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
