"""The CLI's contract: exit 0 conforms, 1 does not, 2 no verdict — with one-line errors."""

import os
import subprocess
import sys

import pytest

from mm_conformance import runs
from mm_conformance.results import ScenarioResult

CLI = [sys.executable, "-m", "mm_conformance"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_unknown_release_line_is_a_one_line_usage_error():
    result = run_cli("run", "--mattermost", "12.0")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "mm-conformance: error: unknown Mattermost release line '12.0'; known: 10.11, 11.7, 11.10 (or esr, latest, previous-esr, all)")
    assert "Traceback" not in result.stdout + result.stderr


def test_unreachable_docker_engine_is_a_one_line_error():
    result = run_cli("run", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mm-conformance: error: the Docker engine is not reachable")


@pytest.mark.usefixtures("docker_engine")
def test_a_server_that_cannot_start_gives_no_verdict_not_a_pass(tmp_path):
    result = run_cli("run", "-q", "--mattermost", "esr", "--mattermost-image", "mm-conformance/mattermost:never-built",
                     "--report", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    closing = result.stdout.strip().splitlines()[-1]
    assert closing.startswith("mm-conformance: no verdict (0 pass, 0 warn, 0 fail, 0 skip, ")
    assert "image mm-conformance/mattermost:never-built is not built" in closing
    summary = (tmp_path / "summary.md").read_text()
    assert "| error |" in summary and "| pass |" not in summary
    assert (tmp_path / "junit.xml").exists()


def test_images_with_unknown_line_is_a_usage_error():
    result = run_cli("images", "list", "--mattermost", "9.9")
    assert result.returncode == 2 and "unknown Mattermost release line '9.9'" in result.stderr


@pytest.mark.usefixtures("docker_engine")
def test_repeat_reports_each_run_and_gives_no_verdict_without_a_server(tmp_path):
    result = run_cli("run", "-q", "--repeat", "2", "-k", "made", "--mattermost-image",
                     "mm-conformance/mattermost:never-built", "--report", str(tmp_path))
    assert result.returncode == 2
    assert "mm-conformance: 2 runs, 0 change(s) between them" in result.stdout
    assert (tmp_path / "run-1" / "results.json").exists() and (tmp_path / "run-2" / "results.json").exists()


def test_repeat_needs_a_positive_count():
    result = run_cli("run", "--repeat", "0")
    assert result.returncode == 2 and "--repeat needs a positive number of runs" in result.stderr


@pytest.mark.usefixtures("docker_engine")
def test_several_implementations_share_one_run_and_get_a_column_each(tmp_path):
    result = run_cli("run", "-q", "--impl", "reference", "--impl", f"{sys.executable} docs/example_adapter.py",
                     "-k", "made", "--mattermost-image", "mm-conformance/mattermost:never-built",
                     "--report", str(tmp_path))
    assert result.returncode == 2
    matrix = (tmp_path / "matrix.md").read_text()
    assert "| reference · 11.7 | example_adapter.py · 11.7 |" in matrix
    assert (tmp_path / "index.html").exists()


def test_impl_name_needs_a_single_impl():
    result = run_cli("run", "--impl", "reference", "--impl", "n8n", "--impl-name", "x")
    assert result.returncode == 2 and "--impl-name names one implementation" in result.stderr


def test_two_implementations_with_one_name_are_a_usage_error():
    result = run_cli("run", "--impl", "python3 a/adapter.py", "--impl", "python3 b/adapter.py")
    assert result.returncode == 2
    assert "two implementations have the same name (adapter.py, adapter.py)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("impl, name", [
    ("n8n", "n8n"),
    ("python3 docs/example_adapter.py", "example_adapter.py"),
    ("/usr/bin/node --max-old-space-size=512 ./my-adapter.js", "my-adapter.js"),
    ("./adapter", "adapter"),
])
def test_implementations_are_named_by_their_program(impl, name):
    from mm_conformance.adapters import implementation_name

    assert implementation_name(impl) == name


def test_report_writes_the_errata_document(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shown = ScenarioResult("steps/test_scenarios.py::test_token_id[mm11.7]", "test_token_id[mm11.7]", "pass",
                           "using-api-access-token:5", line="11.7", errata=["step 5: the Token ID does not authenticate"])
    runs.write([shown], run, {"implementation": "reference"})
    errata = tmp_path / "errata.md"
    result = run_cli("report", str(run), "--out", str(tmp_path / "matrix"), "--errata", str(errata))
    assert result.returncode == 0, result.stderr
    assert "- **step 5: the Token ID does not authenticate**" in errata.read_text()
    assert "(reference · 11.7)" in errata.read_text()
