"""Only a ConformanceFailure is a verdict against the implementation.

Runs small tests through the suite's real plugin and result collector: whatever
else stops a scenario (the adapter, the world, the server's answers, a bug of
the suite) must come out as "error" — no verdict — never as "fail" or "pass".
"""

from pathlib import Path

import pytest

from mm_conformance.outcomes.results import exit_code
from mm_conformance.pytest_plugin.results import Collector

ROOT = Path(__file__).resolve().parents[1]

OUTCOMES = '''
import pytest
from mm_conformance.errors import InfrastructureError, NotApplicable
from mm_conformance.protocol.runner import AdapterFailure
from mm_conformance.pytest_plugin.classify import skip_for_infrastructure
from mm_conformance.scenario.verdicts import ConformanceFailure, ServerDeviation

def test_passes(): pass
def test_breaks_a_behaviour(): raise ConformanceFailure("expected auth, got 200")
def test_adapter_hangs(): raise AdapterFailure('adapter "x" did not answer request 3 within 1.0 s', name="x")
def test_server_crashed(): raise InfrastructureError("Mattermost 11.7 stopped answering")
def test_server_changed(): raise ServerDeviation("expected 501 app.user_access_token.disabled, got 403")
def test_suite_bug(): {}["missing"]
def test_premise_of_the_suite(): assert False, "the deployment's own URL is plain http"
def test_does_not_apply(): pytest.skip("no token expiry on this server")
def test_not_allowed_here(): raise NotApplicable("would change server-wide settings")
def test_world_not_up(): skip_for_infrastructure("Mattermost 11.7 did not start")
def test_skip_worded_like_one(): pytest.skip("infrastructure: words alone do not make a skip no verdict")

@pytest.fixture
def deployment_down(): skip_for_infrastructure("the Docker engine is not reachable")
def test_set_up_not_up(deployment_down): pass
'''

EXPECTED = {
    "test_passes": ("pass", ""),
    "test_breaks_a_behaviour": ("fail", "expected auth, got 200"),
    "test_adapter_hangs": ("error", 'adapter "x" did not answer request 3'),
    "test_server_crashed": ("error", "stopped answering"),
    "test_server_changed": ("error", "server behaviour changed: expected 501"),
    "test_suite_bug": ("error", "suite error (no verdict): KeyError"),
    "test_premise_of_the_suite": ("error", "suite error (no verdict): AssertionError"),
    "test_does_not_apply": ("skip", "no token expiry on this server"),
    "test_not_allowed_here": ("skip", "would change server-wide settings"),
    "test_world_not_up": ("error", "infrastructure: Mattermost 11.7 did not start"),
    "test_skip_worded_like_one": ("skip", "words alone"),
    "test_set_up_not_up": ("error", "infrastructure: the Docker engine is not reachable"),
}


def test_each_way_a_scenario_ends_has_its_verdict(pytester):
    pytester.makepyfile(test_outcomes=OUTCOMES)
    collector = Collector()
    pytester.runpytest_inprocess("-p", "fixtures.plugin", "-p", "no:cacheprovider", plugins=[collector])
    results = {r.name: r for r in collector.results}
    wrong = [f"{test}: {results[test].verdict} ({results[test].reason!r}), expected {verdict} ({reason!r})"
             for test, (verdict, reason) in EXPECTED.items()
             if results[test].verdict != verdict or reason not in results[test].reason]
    assert wrong == []
    without_failure = [r for name, r in results.items() if name != "test_breaks_a_behaviour"]
    assert exit_code(without_failure, pytest_exit=1) == 2, "no verdict and passes must never add up to 'conforms'"


def test_verdicts_are_the_same_when_pytest_xdist_spreads_the_scenarios(pytester):
    """With ``pytest -n``, each worker judges its scenarios; the verdicts reach the collector unchanged."""
    pytest.importorskip("xdist", reason="pytest-xdist is not installed")
    pytester.makepyfile(test_outcomes=OUTCOMES)
    pytester.syspathinsert(str(ROOT))  # the workers import fixtures/ from the checkout
    collector = Collector()
    pytester.runpytest_inprocess("-p", "fixtures.plugin", "-p", "no:cacheprovider", "-n", "2", plugins=[collector])
    results = {r.name: r for r in collector.results}
    assert {name: results[name].verdict for name in EXPECTED} == {name: v for name, (v, _) in EXPECTED.items()}


def test_an_interrupt_pytest_cannot_describe_still_ends_the_run_as_interrupted(pytester, monkeypatch):
    """CPython 3.11 can give a frame no line number, and pytest's terminal then fails (a TypeError)
    to describe the interrupt. The run must still end as interrupted, without a traceback."""
    pytester.makeconftest('''
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_keyboard_interrupt(excinfo):
    raise TypeError("unsupported operand type(s) for -: 'NoneType' and 'int'")  # as pytest's lineno
''')
    pytester.makepyfile(test_interrupted="def test_interrupted():\n    raise KeyboardInterrupt\n")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the run imports fixtures/ from the checkout
    result = pytester.runpytest_subprocess("-p", "fixtures.plugin", "-p", "no:cacheprovider")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED, output
    assert "Traceback" not in output and "KeyboardInterrupt" in output, output
