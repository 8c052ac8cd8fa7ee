"""results.json, the diff between two runs, and declared expected deviations."""

import pytest

from mm_conformance.errors import UsageError
from mm_conformance.outcomes import runs
from mm_conformance.outcomes.results import ScenarioResult, exit_code


def scenario(name, verdict, status=None, kind=None, error_id=None, server="11.0.3"):
    nodeid = f"steps/test_scenarios.py::{name}[mm{server}]"
    return ScenarioResult(nodeid, f"{name}[mm{server}]", verdict, "using-api-access-token:5", server=server,
                          status=status, error_kind=kind, server_error_id=error_id)


def test_results_round_trip(tmp_path):
    written = [scenario("test_a", "pass", 200), scenario("test_b", "fail", 401, "auth", "api.x")]
    runs.write(written, tmp_path, {"implementation": "reference"})
    meta, read = runs.read(tmp_path)
    assert meta["implementation"] == "reference" and read == written


def test_diff_matches_scenarios_across_servers():
    before = [scenario("test_a", "pass", 200, server="11.0.3"), scenario("test_b", "pass", 401, "auth", "x", "11.0.3")]
    after = [scenario("test_a", "pass", 200, server="5.37.0"), scenario("test_b", "pass", 401, "auth", "y", "5.37.0")]
    assert runs.diff(before, after) == ["~ test_b: pass (401 auth x) -> pass (401 auth y)"]


def test_diff_lists_new_and_gone_scenarios():
    changes = runs.diff([scenario("test_old", "pass")], [scenario("test_new", "skip")])
    assert changes == ["+ test_new: new, skip", "- test_old: gone, was pass"]


def test_unreadable_results_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        runs.read(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(UsageError, match="is not a mm-conformance results file"):
        runs.read(tmp_path)


def test_declared_deviation_turns_a_failure_into_an_expected_one(tmp_path):
    file = tmp_path / "expect.toml"
    file.write_text('[[deviation]]\nscenario = "test_slashes*"\nreason = "strips one slash"\n')
    results = [scenario("test_slashes", "fail", 301, "http"), scenario("test_other", "pass", 200)]
    assert runs.apply_expectations(results, runs.load_expectations(file)) == []
    assert results[0].expected == "strips one slash"
    assert exit_code(results, pytest_exit=1) == 0


def test_a_deviation_that_stopped_happening_is_stale():
    deviations = [runs.Deviation("test_slashes", "strips one slash")]
    stale = runs.apply_expectations([scenario("test_slashes", "pass", 200)], deviations)
    assert stale == ["declared deviation no longer happens: test_slashes (strips one slash)"]


def test_an_undeclared_failure_still_fails():
    results = [scenario("test_a", "fail", 200)]
    assert runs.apply_expectations(results, [runs.Deviation("test_b", "other")]) == []
    assert exit_code(results, pytest_exit=1) == 1


def test_invalid_expectations_file_is_a_usage_error(tmp_path):
    file = tmp_path / "expect.toml"
    file.write_text("[[deviation]]\nscenario = 'x'\n")
    with pytest.raises(UsageError, match="needs scenario and reason"):
        runs.load_expectations(file)


def test_one_run_over_several_versions_compares_each_version_with_the_next():
    def on(server, verdict, status, impl="reference", name="test_a"):
        result = scenario(name, verdict, status, server=server)
        result.implementation = impl
        return result

    results = [on("11.0.3", "fail", 401), on("5.37.0", "pass", 200), on("9.11.18", "pass", 200),
               on("5.37.0", "pass", 200, "n8n"), on("9.11.18", "pass", 200, "n8n"), on("11.0.3", "pass", 200, "n8n"),
               on("11.0.3", "pass", 200, name="test_upgrade")]  # on one version only: nothing to compare
    versions, changes = runs.across_versions(results)
    assert versions == ["5.37.0", "9.11.18", "11.0.3"]  # by number, not by text
    assert changes == [runs.VersionChange("reference", "9.11.18", "11.0.3", "test_a", "pass (200)", "fail (401)")]
