import secrets

from mm_conformance.outcomes.results import ScenarioResult, exit_code, markdown_summary
from mm_conformance.pytest_plugin.results import Collector
from mm_conformance.redact import register_secret


def result(verdict, reason=""):
    return ScenarioResult("steps/test_scenarios.py::x", "x", verdict, "using-api-access-token:4", reason)


def test_all_passed_conforms():
    assert exit_code([result("pass"), result("skip")], pytest_exit=0) == 0


def test_a_failure_is_a_verdict():
    assert exit_code([result("pass"), result("fail"), result("error")], pytest_exit=1) == 1


def test_infrastructure_gives_no_verdict():
    assert exit_code([result("pass"), result("error")], pytest_exit=0) == 2


def test_nothing_ran_is_no_verdict():
    assert exit_code([], pytest_exit=5) == 2
    assert exit_code([result("skip")], pytest_exit=0) == 2


def test_usage_error_or_interrupt_is_no_verdict():
    assert exit_code([result("pass")], pytest_exit=2) == 2
    assert exit_code([result("pass")], pytest_exit=4) == 2


def test_markdown_summary_counts_and_escapes():
    text = markdown_summary([result("pass"), result("fail", "expected a | b")])
    assert "1 pass · 0 warn · 1 fail · 0 skip · 0 error" in text
    assert "expected a \\| b" in text


def test_warnings_conform_but_show():
    warned = result("warn")
    warned.warnings = ["the token crossed the network in clear (http://)"]
    assert exit_code([warned], pytest_exit=0) == 0
    assert "warning: the token crossed the network in clear" in markdown_summary([warned])


def test_only_a_conformance_failure_is_a_fail_whatever_else_ended_the_scenario():
    """The verdict is the record the plugin gave the report; a crash of the suite's own hooks is no verdict."""
    from _pytest.reports import TestReport

    from mm_conformance.outcome import PROPERTY, Outcome, Record, Severity, record_of

    def ended(record):
        collector = Collector()
        collector.pytest_runtest_logreport(TestReport(
            "x", ("x", 1, "x"), {}, "failed", "RuntimeError: Container is not started", "call",
            user_properties=[(PROPERTY, record.to_json())]))
        return collector.results[0]

    broke = ended(Record(Outcome.FAIL, "it broke", Severity.SECURITY))
    assert (broke.verdict, broke.severity, broke.reason) == ("fail", "security", "it broke")
    crashed = ended(record_of(RuntimeError("Container is not started")))
    assert (crashed.verdict, crashed.severity, crashed.outcome) == ("error", None, Outcome.SUITE_ERROR)
    assert crashed.reason == "suite error (no verdict): RuntimeError: Container is not started"


def test_a_secret_registered_after_a_result_came_in_is_redacted_from_it_too():
    """pytest-xdist workers hand their secrets to the controller only as they end."""
    token = secrets.token_hex(13)
    collector = Collector()
    collector.results.append(ScenarioResult("n", "n", "fail", "", reason=f"sent {token}",
                                            observations=[f"ok {token}"], warnings=[token], errata=[token]))
    register_secret(token)
    collector.redact_again()
    result = collector.results[0]
    assert token not in repr([result.reason, result.observations, result.warnings, result.errata])
