"""Traceability: the golden trace is current, complete, and the tooling behind it works.

The first two tests are the CI gate on the real page and features; the rest pin
the parser, ``problems()``, ``diff()`` and the CLI on small synthetic inputs.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mm_conformance.outcomes import trace
from mm_conformance.outcomes.trace import DocsRef, TraceError, build_trace, diff, parse_page, problems, render_yaml

REPO = trace.SUITE_ROOT
SHARED_PAGE = REPO / ".." / "shared" / "docs" / "n8n-mattermost-credentials.md"


# ------------------------------------------------------------------ the CI gate


def test_golden_trace_is_up_to_date() -> None:
    current = render_yaml(build_trace())
    golden = trace.DEFAULT_GOLDEN.read_text(encoding="utf-8") if trace.DEFAULT_GOLDEN.exists() else ""
    changes = diff(golden, current) or ["(formatting only)"]
    assert golden == current, (
        "docs/trace.yaml is out of date with features/ and the documentation page; "
        "run `mm-conformance trace --write` and review the change:\n  " + "\n  ".join(changes)
    )


def test_trace_has_no_problems() -> None:
    found = problems(build_trace())
    assert not found, f"{len(found)} traceability problem(s):\n  " + "\n  ".join(found)


def test_vendored_page_equals_shared_copy() -> None:
    if not SHARED_PAGE.exists():
        pytest.skip(f"no shared copy of the page at {SHARED_PAGE.resolve()} to compare with")
    assert trace.DEFAULT_DOCS.read_bytes() == SHARED_PAGE.read_bytes(), (
        "docs/n8n-mattermost-credentials.md differs from ../shared/docs/; the vendored spec must be byte-identical"
    )


# ------------------------------------------------------------- synthetic inputs

PAGE = """\
# Title

## Setup <a href="#setup" id="setup"></a>

Two causes:

* one
* two

1. Go to **Profile > Security**.<br>

   <div class="hint"><p>If you don't see it, refer to <a href="#other">Other</a>.</p></div>
2. Select **Create**.
3. Enter a `description`, see [docs](https://example.com).

```
4. not a step, inside a code fence
```

## Other <a href="#other" id="other"></a>

1. Log in
   as an admin.
2. Confirm.
"""

FEATURE = """\
@docs:setup
Feature: Setup

  @docs:setup:1 @must
  Scenario: Step one works
    The credential MUST reach the page,
    and SHOULD be quick.

    More prose.
    Given something

  @docs:setup:2
  @docs:setup:3
  Scenario: Steps two and three
    The token MUST NOT be shown twice.
    Given something

  @docs:other:1 @docs:other:2
  Scenario Outline: The other section, <n>
    The admin MAY do it.
    Given <n>

    Examples:
      | n |
      | 1 |

  Scenario: A section-wide behaviour inherited from the Feature
    Either cause SHALL be detectable.
    Given something

  @beyond-docs
  Scenario: Beyond
    The server SHOULD answer quickly.
    Why: a slow server hides real failures
      behind timeouts.
    Given something
"""


def write(root: Path, page: str = PAGE, **features: str) -> tuple[Path, Path]:
    """A fake repo: docs/page.md and features/<name>.feature; returns (page, features dir)."""
    (root / "docs").mkdir(exist_ok=True)
    (root / "features").mkdir(exist_ok=True)
    page_path = root / "docs" / "page.md"
    page_path.write_text(page, encoding="utf-8")
    for name, text in (features or {"setup": FEATURE}).items():
        path = root / "features" / f"{name}.feature"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return page_path, root / "features"


def synthetic(tmp_path: Path, page: str = PAGE, **features: str) -> trace.Trace:
    page_path, features_dir = write(tmp_path, page, **features)
    return build_trace(page_path, features_dir, repo=tmp_path)


def test_page_sections_and_steps() -> None:
    sections = parse_page(PAGE)
    assert [(s.anchor, s.title) for s in sections] == [("setup", "Setup"), ("other", "Other")]
    assert [(s.number, s.text) for s in sections[0].steps] == [
        (1, "Go to Profile > Security."),  # the hint <div> is neither the text nor a step
        (2, "Select Create."),
        (3, "Enter a description, see docs."),
    ]
    assert [s.text for s in sections[1].steps] == ["Log in as an admin.", "Confirm."]


def test_real_page_has_seven_steps_in_each_procedure() -> None:
    page = trace.load_page(trace.DEFAULT_DOCS)
    assert page.path == "docs/n8n-mattermost-credentials.md"
    for anchor in ("using-api-access-token", "enable-personal-access-tokens"):
        section = page.section(anchor)
        assert section is not None and [s.number for s in section.steps] == list(range(1, 8))
    first = page.section("using-api-access-token").steps[0]  # type: ignore[union-attr]
    assert first.text == "In Mattermost, go to Profile > Security > Personal Access Tokens."


def test_scenarios_statements_levels_and_refs(tmp_path: Path) -> None:
    t = synthetic(tmp_path)
    by_name = {s.name: s for s in t.scenarios}
    one = by_name["Step one works"]
    assert one.file == "features/setup.feature"
    assert one.statement == "The credential MUST reach the page, and SHOULD be quick."
    assert one.level == "MUST"  # the strongest keyword wins
    assert one.docs_refs() == (DocsRef("setup", 1),)  # own tags replace the Feature's section
    assert by_name["Steps two and three"].level == "MUST NOT"
    assert by_name["The other section, <n>"].level == "MAY"
    inherited = by_name["A section-wide behaviour inherited from the Feature"]
    assert inherited.docs_refs() == (DocsRef("setup"),)  # the section, never a step
    beyond = by_name["Beyond"]
    assert beyond.beyond_docs and beyond.docs_refs() == ()
    assert beyond.statement == "The server SHOULD answer quickly."  # the Why: line is not part of it
    assert beyond.why == "a slow server hides real failures behind timeouts."


def test_complete_synthetic_trace_has_no_problems(tmp_path: Path) -> None:
    assert problems(synthetic(tmp_path)) == []


def test_untagged_scenario_is_a_problem(tmp_path: Path) -> None:
    untagged = FEATURE.replace("@docs:setup\n", "") + "\n  Scenario: Untagged\n    It MUST be tagged.\n    Given x\n"
    found = problems(synthetic(tmp_path, setup=untagged))
    assert any("'Untagged'" in line and "neither a @docs" in line for line in found), found


def test_step_beyond_the_section_is_a_problem(tmp_path: Path) -> None:
    found = problems(synthetic(tmp_path, setup=FEATURE.replace("@docs:setup:3", "@docs:setup:9")))
    assert any("@docs:setup:9 names step 9, but section setup has 3 step(s)" in line for line in found), found
    assert any("step setup:3 has no scenario" in line for line in found), found


def test_unknown_section_missing_statement_and_why_are_problems(tmp_path: Path) -> None:
    feature = """\
    Feature: Bad
      @docs:nowhere
      Scenario: Unknown section
        It MUST exist.
        Given x

      @docs:setup:1
      Scenario: No statement
        it must be upper-case to count.
        Given x

      @beyond-docs
      Scenario: No why
        The suite MAY check it.
        Given x
    """
    found = problems(synthetic(tmp_path, setup=FEATURE, bad=feature))
    assert any("'Unknown section'" in line and "@docs:nowhere names no section" in line for line in found)
    assert any("'No statement'" in line and "RFC 2119" in line for line in found)
    assert any("'No why'" in line and "Why:" in line for line in found)


def test_render_is_deterministic_and_carries_page_identity(tmp_path: Path) -> None:
    t = synthetic(tmp_path)
    text = render_yaml(t)
    assert text == render_yaml(synthetic(tmp_path))
    assert text.startswith("#") and "mm-conformance trace --write" in text and "reviewed like code" in text
    assert "path: docs/page.md" in text and f"sha256: {t.page.sha256}" in text and len(t.page.sha256) == 16


def test_diff_shows_a_removed_documentation_step(tmp_path: Path) -> None:
    before = render_yaml(synthetic(tmp_path))
    after = render_yaml(synthetic(tmp_path, page=PAGE.replace("2. Confirm.\n", "")))
    lines = diff(before, after)
    assert any(line.startswith("~ documentation sha256") for line in lines), lines
    assert "- step other:2 disappeared from the page: Confirm." in lines
    assert "- scenario [other:2] features/setup.feature: The other section, <n>" in lines


def test_diff_shows_behaviours_and_scenarios_added_and_removed(tmp_path: Path) -> None:
    before = render_yaml(synthetic(tmp_path))
    changed = FEATURE.replace("The token MUST NOT be shown twice.", "The token MUST NOT be shown again.")
    changed = changed.replace("Scenario: Beyond", "Scenario: Beyond, renamed")
    lines = diff(before, render_yaml(synthetic(tmp_path, setup=changed)))
    assert "- behaviour [setup:2] MUST NOT: The token MUST NOT be shown twice." in lines
    assert "+ behaviour [setup:2] MUST NOT: The token MUST NOT be shown again." in lines
    assert "- scenario [beyond-docs] features/setup.feature: Beyond" in lines
    assert "+ scenario [beyond-docs] features/setup.feature: Beyond, renamed" in lines
    assert diff(before, before) == []


def test_cli_check_write_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page, features = write(tmp_path)
    golden = tmp_path / "docs" / "trace.yaml"
    args = ["--docs", str(page), "--features", str(features), "--golden", str(golden)]
    assert trace.main(args) == 1  # no golden file yet: stale
    assert trace.main([*args, "--write"]) == 0
    assert trace.main([*args, "--check"]) == 0
    (features / "bad.feature").write_text(
        "Feature: Bad\n  Scenario: x\n    Given a\n  Background:\n    Given b\n", encoding="utf-8"
    )
    capsys.readouterr()
    assert trace.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.feature:4" in err and "Traceback" not in err
    assert trace.main(["--docs", str(tmp_path / "missing.md"), "--features", str(features)]) == 2
    assert "cannot read documentation page" in capsys.readouterr().err


def test_malformed_golden_is_a_trace_error() -> None:
    with pytest.raises(TraceError):
        diff("sections: [unclosed", "")
