"""The conformance matrix renders every run's cells, groups by documentation section, and lists findings."""

from mm_conformance import report, runs
from mm_conformance.redact import register_secret
from mm_conformance.results import ScenarioResult


def result(name, verdict, docs, server="11.0.3", **extra):
    return ScenarioResult(f"steps/test_scenarios.py::{name}[mm{server}]", f"{name}[mm{server}]", verdict, docs,
                          server=server, **extra)


def write_run(directory, implementation, results):
    directory.mkdir()
    runs.write(results, directory, {"implementation": implementation})
    return directory


def test_matrix_has_a_column_per_implementation_and_line_and_lists_findings(tmp_path):
    secret = "zq8ejkmcpqxot1uwisza345h76"
    register_secret(secret)
    reference = write_run(tmp_path / "ref", "reference", [
        result("test_slashes", "pass", "using-api-access-token:6", status=200),
        result("test_console", "pass", "enable-personal-access-tokens:3", status=200)])
    n8n = write_run(tmp_path / "n8n", "n8n", [
        result("test_slashes", "fail", "using-api-access-token:6", status=301, error_kind="http",
               reason=f"expected success, got 301 for token {secret}"),
        result("test_console", "pass", "enable-personal-access-tokens:3", status=200)])
    html, markdown = report.write([reference, n8n], tmp_path / "out")
    text, page = markdown.read_text(), html.read_text()
    assert "| scenario | reference · 11.0.3 | n8n · 11.0.3 |" in text
    assert "| test_slashes | pass 200 | fail 301 http |" in text
    assert text.index("## using-api-access-token") < text.index("## enable-personal-access-tokens")
    assert "- **n8n · 11.0.3** — test_slashes" in text
    assert secret not in text and secret not in page
    assert '<td class="cell fail">' in page and "<summary>fail 301 http</summary>" in page


def test_no_findings_when_only_the_reference_deviates(tmp_path):
    run = write_run(tmp_path / "ref", "reference", [result("test_a", "fail", "using-api-access-token:4")])
    assert "No implementation other than the reference deviates." in report.render_markdown(report.build([run]))


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
