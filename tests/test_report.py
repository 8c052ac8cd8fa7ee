"""The report leads with what matters: the scoreboard, then findings by severity, then the matrix —
the same in HTML and Markdown, in plain words; and the published findings come from runs, never by hand."""

import html as html_lib
import re

from mm_conformance.outcomes import report, runs
from mm_conformance.outcomes.results import ScenarioResult
from mm_conformance.redact import register_secret


def result(name, verdict, docs, server="11.0.3", **extra):
    return ScenarioResult(f"steps/test_scenarios.py::{name}[mm{server}]", f"{name}[mm{server}]", verdict, docs,
                          server=server, **extra)


def write_run(directory, implementation, results):
    directory.mkdir()
    runs.write(results, directory, {"implementation": implementation, "suite": "0.1.0"})
    return directory


REDIRECT = "A redirect does not carry the token to another host"
WEB_PAGE = "A Base URL with a path the server does not serve does not appear to work"
SLASHES = "The site URL is accepted however it ends"
PASTED = "A Base URL pasted with /api/v4 is refused or used correctly"
UPGRADE_ONLY = "A revoked token is refused"


def mixed_runs(tmp_path):
    """n8n (listed first) and the reference on 11.0.3 and 5.37.0, with one finding of each severity."""
    def both(name, verdict, docs, title, **extra):
        return [result(name, verdict, docs, server=s, title=title, **extra) for s in ("11.0.3", "5.37.0")]

    n8n = write_run(tmp_path / "n8n", "n8n", [
        *both("test_warn", "warn", "using-api-access-token:6", PASTED,
              warnings=["the Base URL SHOULD be refused as a config error"]),
        *both("test_slashes", "fail", "using-api-access-token:6", SLASHES, severity="broken", status=404,
              error_kind="http", reason="expected success with status 200, but the implementation answered: 404"),
        *both("test_web_page", "fail", "using-api-access-token:6", WEB_PAGE, severity="false-success", status=200,
              reason="the request appeared to work although Mattermost's web app answered, not its API"),
        *both("test_redirect", "fail", "using-api-access-token:6", REDIRECT, severity="security", status=200,
              reason="the token followed the redirect to another host"),
        result("test_revoked", "pass", "enable-personal-access-tokens:7", server="5.37.0", title=UPGRADE_ONLY),
        result("test_revoked", "fail", "enable-personal-access-tokens:7", title=UPGRADE_ONLY, severity="broken",
               reason="expected a refusal (auth with status 401), but the implementation answered: 200"),
        result("test_expiry", "skip", "beyond the documentation", title="An expiring token is refused after",
               reason="Mattermost 11.0.3 has no personal access token expiry"),
        result("test_hung", "error", "using-api-access-token:4", title="A made-up token is refused",
               reason="infrastructure: the adapter did not answer within 30 s"),
    ])
    reference = write_run(tmp_path / "ref", "reference", [
        *both("test_redirect", "pass", "using-api-access-token:6", REDIRECT, status=307),
        *both("test_slashes", "pass", "using-api-access-token:6", SLASHES, status=200)])
    return [n8n, reference]


def test_the_scoreboard_counts_each_verdict_per_implementation_and_server_version(tmp_path):
    matrix = report.build(mixed_runs(tmp_path))
    board = matrix.scoreboard
    assert board.implementations == ["reference", "n8n"]  # the reference first, whatever the order of the runs
    assert board.servers == ["5.37.0", "11.0.3"]  # oldest first
    counts = board.cell("n8n", "11.0.3")
    assert [counts[v] for v in ("pass", "warn", "fail", "skip", "error")] == [0, 1, 4, 1, 1]
    assert [board.cell("n8n", "5.37.0")[v] for v in ("pass", "warn", "fail", "skip", "error")] == [1, 1, 3, 0, 0]
    text = report.render_markdown(matrix)
    assert text.index("## Scoreboard") < text.index("## Findings") < text.index("## Matrix")
    assert "| implementation | 5.37.0 | 11.0.3 |" in text
    assert ("| reference | **conforms**: 2 pass · 0 warn · 0 fail · 0 skip · 0 error "
            "| **conforms**: 2 pass · 0 warn · 0 fail · 0 skip · 0 error |") in text
    assert "| n8n | **does not conform**: 1 pass · 1 warn · 3 fail · 0 skip · 0 error " in text


def test_findings_come_most_serious_first(tmp_path):
    matrix = report.build(mixed_runs(tmp_path))
    assert [f.severity for f in matrix.findings] == ["security", "false-success", "broken", "broken", "warning"]
    assert [f.title for f in matrix.findings] == [REDIRECT, WEB_PAGE, SLASHES, UPGRADE_ONLY, PASTED]
    text = report.render_markdown(matrix)
    headings = ["### The token goes where it must not (1)", "### Success where the API never answered (1)",
                "### Other broken requirements (2)", "### SHOULD-level concerns (1)"]
    positions = [text.index(h) for h in headings]
    assert positions == sorted(positions)
    assert text.index(REDIRECT, text.index("## Findings")) < text.index(WEB_PAGE, text.index("## Findings"))
    # Skips are no finding; errors are listed after the findings, with their reason.
    findings_part = text[text.index("## Findings"):text.index("## No verdict (infrastructure)")]
    assert "expiring" not in findings_part and "made-up" not in findings_part
    no_verdict = text[text.index("## No verdict (infrastructure)"):text.index("## Matrix")]
    assert ("- **A made-up token is refused** — n8n, on [11.0.3](index.html#" in no_verdict
            and "infrastructure: the adapter did not answer within 30 s" in no_verdict)


def test_a_finding_on_several_servers_is_one_line_with_a_link_to_each_exchange(tmp_path):
    matrix = report.build(mixed_runs(tmp_path))
    text = report.render_markdown(matrix)
    lines = [line for line in text.splitlines() if line.startswith(f"- **{REDIRECT}**")]
    assert len(lines) == 1
    assert re.fullmatch(
        rf"- \*\*{REDIRECT}\*\* — n8n, on \[5\.37\.0\]\(index\.html#(exchange-[\w-]+)\) and "
        rf"\[11\.0\.3\]\(index\.html#(exchange-[\w-]+)\) — Using API access token, step 6: "
        r"the token followed the redirect to another host", lines[0])
    page = report.render_html(matrix)
    for anchor in re.findall(r'href="#([^"]+)"', page):
        assert f'id="{anchor}"' in page  # every link lands on an exchange of the matrix
    first = re.search(r"index\.html#(exchange-[\w-]+)", lines[0]).group(1)
    start = page.index(f'<td class="cell fail" id="{report.cell_id(first)}">')  # each cell has an id
    cell = page[start:page.index("</td>", start)]
    assert f'<div id="{first}">' in cell  # and the link opens the exchange inside it
    assert "the token followed the redirect to another host" in cell
    # Only on the newer server: one version named, not two.
    assert f"- **{UPGRADE_ONLY}** — n8n, on [11.0.3](index.html#" in text


def test_reasons_that_differ_between_servers_say_once_what_they_share(tmp_path):
    shared = "the Base URL SHOULD be refused as a config error; instead: GET users/me -> 404 http: "
    run = write_run(tmp_path / "drv", "mattermostdriver", [
        result("test_pasted", "warn", "using-api-access-token:6", server="5.37.0", title=PASTED,
               warnings=[shared + "Sorry, we could not find the page."]),
        result("test_pasted", "warn", "using-api-access-token:6", title=PASTED,
               warnings=[shared + "Sorry, we could not find the page. (api.context.404.app_error)"])])
    finding, = report.build([run]).findings
    assert finding.reason == (shared + "“Sorry, we could not find the page.” on 5.37.0, "
                              "“Sorry, we could not find the page. (api.context.404.app_error)” on 11.0.3")


def test_no_python_class_names_reach_a_reader():
    """A verdict's reason is the exception's own words (str(error)), never "Class: words", so the report
    shows it as recorded; only a bug of the suite names its class, which is what its developer needs."""
    from mm_conformance.errors import InfrastructureError, NothingObserved, ServerDeviation
    from mm_conformance.outcome import Outcome, Severity, record_of
    from mm_conformance.scenario.verdicts import ConformanceFailure, FalseSuccess, TokenExposure

    ended = [TokenExposure("the token followed the redirect to plain http"), FalseSuccess("it worked"),
             ConformanceFailure("expected success with status 200"), ServerDeviation("Mattermost said 403"),
             NothingObserved("never asked"), InfrastructureError("Docker is down")]
    records = [record_of(error) for error in ended]
    assert [r.reason for r in records] == [str(error) for error in ended]
    assert [(r.outcome, r.severity) for r in records] == [
        (Outcome.FAIL, Severity.SECURITY), (Outcome.FAIL, Severity.FALSE_SUCCESS), (Outcome.FAIL, Severity.BROKEN),
        (Outcome.SERVER_DEVIATION, None), (Outcome.NOTHING_OBSERVED, None), (Outcome.INFRASTRUCTURE, None)]
    assert record_of(KeyError("token")).reason == "KeyError: 'token'"


def test_the_markdown_and_the_html_say_the_same_in_the_same_order(tmp_path):
    matrix = report.build(mixed_runs(tmp_path))
    text, page = report.render_markdown(matrix), report.render_html(matrix)
    from_markdown = re.findall(r"^- \*\*(.+?)\*\* — (.+?), on (.+?)(?: — (.+?))?: (.+)$", text, re.MULTILINE)
    from_markdown = [(title, impl, re.sub(r"\[([^]]+)\]\([^)]+\)", r"\1", on), docs, reason)
                     for title, impl, on, docs, reason in from_markdown]
    from_html = []
    for item in re.findall(r'<li class="finding">(.*?)</li>', page, re.DOTALL):
        title = re.search(r'<div class="title">(.*?)</div>', item).group(1)
        meta = re.sub(r"<[^>]+>", "", re.search(r'<div class="meta">(.*?)</div>', item, re.DOTALL).group(1))
        impl, _, rest = meta.partition(", on ")
        on, _, docs = rest.partition(" — ")
        reason = re.sub(r"<[^>]+>", "", re.search(r'<div class="reason">(.*?)</div>', item, re.DOTALL).group(1))
        from_html.append(tuple(html_lib.unescape(x).strip() for x in (title, impl, on, docs, reason)))
    assert len(from_markdown) == 6  # five findings and the scenario that gave no verdict
    assert from_html == from_markdown
    groups = ["The token goes where it must not", "Success where the API never answered",
              "Other broken requirements", "SHOULD-level concerns", "No verdict (infrastructure)", "Matrix"]
    for output in (text, page[page.index("<body>"):]):
        positions = [output.index(g) for g in groups]
        assert positions == sorted(positions) and output.index("Scoreboard") < positions[0]


def test_the_html_is_one_self_contained_page(tmp_path):
    page = report.render_html(report.build(mixed_runs(tmp_path)))
    assert "<script" not in page and "<link" not in page and "src=" not in page
    assert not re.search(r"""(?:href|url\()\s*=?\s*["']?(?:https?:)?//""", page)
    assert page.index('id="scoreboard"') < page.index('id="findings-security"') < page.index('id="matrix"')


def test_documentation_steps_are_named_in_words():
    assert report.docs_text("using-api-access-token:6") == "Using API access token, step 6"
    assert report.docs_text("enable-personal-access-tokens:3") == "Enable personal access tokens, step 3"
    assert report.docs_text("beyond the documentation") == "beyond the documentation"
    assert report.docs_text("enable-personal-access-tokens:2, using-api-access-token:5") == (
        "Enable personal access tokens, step 2; Using API access token, step 5")


def test_matrix_has_a_column_per_implementation_and_server_and_keeps_secrets_out(tmp_path):
    secret = "zq8ejkmcpqxot1uwisza345h76"
    register_secret(secret)
    reference = write_run(tmp_path / "ref", "reference", [
        result("test_slashes", "pass", "using-api-access-token:6", status=200),
        result("test_console", "pass", "enable-personal-access-tokens:3", status=200)])
    n8n = write_run(tmp_path / "n8n", "n8n", [
        result("test_slashes", "fail", "using-api-access-token:6", status=301, error_kind="http",
               reason=f"expected success, got 301 for token {secret}", observations=[f"GET users/me {secret}"]),
        result("test_console", "pass", "enable-personal-access-tokens:3", status=200)])
    html, markdown = report.write([reference, n8n], tmp_path / "out")
    text, page = markdown.read_text(), html.read_text()
    assert "| scenario | reference · 11.0.3 | n8n · 11.0.3 |" in text
    assert "| test_slashes | pass 200 | fail 301 http |" in text
    assert text.index("### Using API access token") < text.index("### Enable personal access tokens")
    assert "- **test_slashes** — n8n, on [11.0.3](index.html#" in text
    assert secret not in text and secret not in page
    assert '<td class="cell fail" id="cell-' in page and "<summary>fail 301 http</summary>" in page


def test_the_reference_is_not_hidden_and_nothing_found_is_said(tmp_path):
    clean = write_run(tmp_path / "ok", "reference", [result("test_a", "pass", "using-api-access-token:4")])
    assert "No finding: no scenario failed or warned." in report.render_markdown(report.build([clean]))
    deviating = write_run(tmp_path / "ref", "reference", [
        result("test_a", "fail", "using-api-access-token:4", severity="broken", reason="it broke")])
    assert "- **test_a** — reference, on [11.0.3]" in report.render_markdown(report.build([deviating]))


def test_a_results_file_from_before_recorded_verdicts_is_refused_with_one_line(tmp_path):
    """An older file's severities could only be guessed from wording: the report asks for a rerun instead."""
    import json

    import pytest

    from mm_conformance.errors import UsageError

    run = write_run(tmp_path / "old", "n8n", [
        result("test_redirect", "fail", "using-api-access-token:6", title=REDIRECT, severity="security",
               reason="the token followed the redirect to plain http (1 request(s) carrying a credential)")])
    file = run / runs.RESULTS_FILE if run.is_dir() else run
    data = json.loads(file.read_text())
    for old in (2, None):
        data["format"] = old
        file.write_text(json.dumps(data))
        with pytest.raises(UsageError) as refused:
            report.build([run])
        message = str(refused.value)
        assert str(file) in message and "rerun" in message and "\n" not in message


def test_since_which_version():
    assert report.since_text(["5.37.0", "11.0.3"], ["11.0.3", "5.37.0"]) == "on every version run (5.37.0, 11.0.3)"
    assert report.since_text(["11.0.3"], ["5.37.0", "11.0.3"]) == "since 11.0.3 (not on 5.37.0)"
    assert report.since_text(["5.37.0"], ["5.37.0", "11.0.3"]) == "up to 5.37.0 (not since 11.0.3)"
    assert report.since_text(["5.37.0", "11.0.3"], ["5.37.0", "10.11.0", "11.0.3"]) == (
        "on 5.37.0 and 11.0.3 (not on 10.11.0)")


def test_findings_document_says_what_each_implementation_gets_wrong_since_which_version(tmp_path):
    document = report.findings_document(mixed_runs(tmp_path))
    assert document.startswith("# Findings\n")
    assert "`mm-conformance report RUN_DIR... --out DIR --findings docs/findings.md`; do not edit" in document
    reference, n8n = document.index("## reference"), document.index("## n8n")
    assert reference < n8n
    assert "Nothing found: no scenario failed or warned." in document[reference:n8n]
    part = document[n8n:document.index("## Generated from")]
    headings = [part.index(h) for h in ("### The token goes where it must not", "### Success where the API never "
                                        "answered", "### Other broken requirements", "### SHOULD-level concerns")]
    assert headings == sorted(headings)
    assert ("- **the token followed the redirect to another host**\n"
            "  on every version run (5.37.0, 11.0.3); Using API access token, step 6; "
            f"shown by the scenario \"{REDIRECT}\".") in part
    assert ("- **expected a refusal (auth with status 401), but the implementation answered: 200**\n"
            "  since 11.0.3 (not on 5.37.0); Enable personal access tokens, step 7; "
            f"shown by the scenario \"{UPGRADE_ONLY}\".") in part
    assert "### No verdict (infrastructure)" in part and "infrastructure: the adapter did not answer" in part
    generated = document[document.index("## Generated from"):]
    assert "| n8n (suite 0.1.0) | n8n | 5.37.0, 11.0.3 | 1 pass · 2 warn · 7 fail · 1 skip · 1 error |" in generated
    assert ("| ref (suite 0.1.0) | reference | 5.37.0, 11.0.3 | 4 pass · 0 warn · 0 fail · 0 skip · 0 error |"
            in generated)


def test_findings_document_says_where_a_finding_could_not_be_judged(tmp_path):
    run = write_run(tmp_path / "n8n", "n8n", [
        result("test_a", "fail", "using-api-access-token:4", server="5.37.0", title="A made-up token is refused",
               severity="false-success", reason="expected a refusal, but the request succeeded"),
        result("test_a", "error", "using-api-access-token:4", title="A made-up token is refused",
               reason="infrastructure: the adapter crashed")])
    document = report.findings_document([run])
    assert ("  on every version that gave a verdict (5.37.0) (no verdict on 11.0.3); Using API access token, step 4; "
            'shown by the scenario "A made-up token is refused".') in document
    assert '- "A made-up token is refused" on 11.0.3: infrastructure: the adapter crashed' in document


TOKEN_ID_ERRATUM = "step 5: the Token ID does not authenticate, the access token shown once at creation does"


def test_errata_document_lists_each_shown_erratum_once_with_where_it_was_shown(tmp_path):
    shown = dict(docs="using-api-access-token:5", title="The Token ID pasted as the Access Token does not authenticate",
                 errata=[TOKEN_ID_ERRATUM])
    reference = write_run(tmp_path / "ref", "reference", [result("test_token_id", "pass", **shown)])
    n8n = write_run(tmp_path / "n8n", "n8n", [result("test_token_id", "pass", **shown),
                                              result("test_token_id", "pass", server="5.37.0", **shown)])
    failed = write_run(tmp_path / "bad", "defective", [result("test_token_id", "fail", **shown)])
    document = report.errata_document([reference, n8n, failed])
    assert document.count(TOKEN_ID_ERRATUM) == 1
    assert ('shown by "The Token ID pasted as the Access Token does not authenticate" '
            "(n8n · 11.0.3, n8n · 5.37.0, reference · 11.0.3)") in document
    assert "defective" not in document  # a failed scenario shows nothing


def test_errata_document_says_when_no_run_showed_one(tmp_path):
    run = write_run(tmp_path / "ref", "reference", [result("test_a", "skip", "using-api-access-token:5",
                                                           errata=[TOKEN_ID_ERRATUM])])
    assert "No erratum has been shown by a run yet." in report.errata_document([run])
