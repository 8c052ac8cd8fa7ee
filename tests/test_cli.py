"""The CLI's contract: exit 0 conforms, 1 does not, 2 no verdict — with one-line errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mm_conformance.outcomes import runs
from mm_conformance.outcomes.results import ScenarioResult

CLI = [sys.executable, "-m", "mm_conformance"]
ROOT = Path(__file__).resolve().parent.parent
#: A server image nobody packaged: scenarios cannot run, so the run gives no verdict.
NEVER_PACKAGED = "mm-conformance/mattermost:0.0.9"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.mark.usefixtures("docker_engine")
def test_an_unknown_server_is_a_one_line_usage_error():
    result = run_cli("run", "--mattermost", "12")
    assert result.returncode == 2
    assert result.stderr.strip() == ("mm-conformance: error: --mattermost '12' is neither a version (11.0.3), "
                                     "an image name, local, nor one of esr, latest, previous-esr")
    assert "Traceback" not in result.stdout + result.stderr


def test_unreachable_docker_engine_is_a_one_line_error():
    result = run_cli("run", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mm-conformance: error: the Docker engine is not reachable")


@pytest.mark.usefixtures("docker_engine")
def test_a_server_that_cannot_start_gives_no_verdict_not_a_pass(tmp_path):
    result = run_cli("run", "-q", "--mattermost", NEVER_PACKAGED, "--report", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    closing = result.stdout.strip().splitlines()[-1]
    assert closing.startswith("mm-conformance: no verdict (0 pass, 0 warn, 0 fail, 0 skip, ")
    assert f"image {NEVER_PACKAGED} is not on this machine (package a release tarball" in closing
    summary = (tmp_path / "summary.md").read_text()
    assert "| error |" in summary and "| pass |" not in summary
    assert (tmp_path / "junit.xml").exists()


@pytest.mark.usefixtures("docker_engine")
def test_packaging_what_is_not_a_distribution_is_a_one_line_error(tmp_path):
    for path, problem in ((tmp_path / "nothing-here", "does not exist"),
                          (tmp_path, "is not a Mattermost distribution: neither it nor its mattermost/ folder")):
        result = run_cli("images", "build", "--from", str(path))
        assert result.returncode == 2, result.stderr
        assert problem in result.stderr
        assert len(result.stderr.strip().splitlines()[-1:]) == 1 and "Traceback" not in result.stderr


@pytest.mark.usefixtures("docker_engine")
def test_repeat_reports_each_run_and_gives_no_verdict_without_a_server(tmp_path):
    result = run_cli("run", "-q", "--repeat", "2", "-k", "made", "--mattermost", NEVER_PACKAGED,
                     "--report", str(tmp_path))
    assert result.returncode == 2
    assert "mm-conformance: 2 runs, 0 change(s) between them" in result.stdout
    assert (tmp_path / "run-1" / "results.json").exists() and (tmp_path / "run-2" / "results.json").exists()


def test_repeat_and_workers_need_a_positive_count():
    result = run_cli("run", "--repeat", "0")
    assert result.returncode == 2 and "--repeat needs a positive number of runs" in result.stderr
    result = run_cli("run", "--workers", "0")
    assert result.returncode == 2 and "--workers needs a positive number of processes" in result.stderr


@pytest.mark.usefixtures("docker_engine")
def test_several_implementations_share_one_run_and_get_a_column_each(tmp_path):
    result = run_cli("run", "-q", "--impl", "reference", "--impl", f"{sys.executable} docs/example_adapter.py",
                     "-k", "made", "--mattermost", NEVER_PACKAGED, "--report", str(tmp_path))
    assert result.returncode == 2
    matrix = (tmp_path / "matrix.md").read_text()
    assert "| reference · 0.0.9 | example_adapter.py · 0.0.9 |" in matrix
    assert (tmp_path / "index.html").exists()


@pytest.mark.usefixtures("docker_engine")
def test_one_script_with_different_arguments_runs_as_two_named_implementations(tmp_path):
    adapter = f"{sys.executable} {ROOT / 'docs' / 'example_adapter.py'}"
    result = run_cli("run", "-q", "--impl", f"mode-a={adapter} --mode a", "--impl", f"mode-b={adapter} --mode b",
                     "-k", "made", "--mattermost", NEVER_PACKAGED, "--report", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "| mode-a · 0.0.9 | mode-b · 0.0.9 |" in (tmp_path / "matrix.md").read_text()


@pytest.mark.usefixtures("docker_engine")
def test_an_absolute_adapter_path_runs_the_suite_from_any_directory(tmp_path):
    """pytest takes a separate value that is a path for a path: it would look for its ini file
    above it, lose the suite's settings and find no scenario."""
    adapter = tmp_path / "adapters" / "my-adapter"
    adapter.parent.mkdir()
    adapter.write_text(f"#!{sys.executable}\n" + (ROOT / "docs" / "example_adapter.py").read_text())
    adapter.chmod(0o755)
    result = subprocess.run([*CLI, "run", "-q", "--impl", str(adapter), "-k", "made", "--mattermost", NEVER_PACKAGED],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert "NoScenariosFound" not in output and "Traceback" not in output
    closing = output.strip().splitlines()[-1]
    assert closing.startswith("mm-conformance: no verdict (0 pass, 0 warn, 0 fail, 0 skip, 1 error)"), closing


def test_two_implementations_with_one_name_are_a_usage_error():
    result = run_cli("run", "--impl", "python3 a/adapter.py", "--impl", "python3 b/adapter.py")
    assert result.returncode == 2
    assert "two implementations have the same name (adapter.py); name each one: --impl NAME=COMMAND" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("impl, name", [
    ("n8n", "n8n"),
    ("python3 docs/example_adapter.py", "example_adapter.py"),
    ("/usr/bin/node --max-old-space-size=512 ./my-adapter.js", "my-adapter.js"),
    ("./adapter", "adapter"),
    ("mode-a=python3 adapter.py --mode a", "mode-a"),
    ("mine=reference", "mine"),
])
def test_implementations_are_named_by_their_program(impl, name):
    from mm_conformance.protocol.adapters import implementation_name

    assert implementation_name(impl) == name


def test_report_writes_the_errata_document(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shown = ScenarioResult("steps/test_scenarios.py::test_token_id[mm11.0.3]", "test_token_id[mm11.0.3]", "pass",
                           "using-api-access-token:5", server="11.0.3",
                           errata=["step 5: the Token ID does not authenticate"])
    runs.write([shown], run, {"implementation": "reference"})
    errata = tmp_path / "errata.md"
    result = run_cli("report", str(run), "--out", str(tmp_path / "matrix"), "--errata", str(errata))
    assert result.returncode == 0, result.stderr
    assert "- **step 5: the Token ID does not authenticate**" in errata.read_text()
    assert "(reference · 11.0.3)" in errata.read_text()


def test_a_run_and_its_workers_load_only_the_pytest_plugins_it_names(monkeypatch):
    """Another installed pytest plugin (hypothesis's, here) neither slows a run nor changes it."""
    from mm_conformance.cli import run as cli

    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    with cli._only_needed_plugins():
        assert os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] == "1"  # the workers inherit it
    assert "PYTEST_DISABLE_PLUGIN_AUTOLOAD" not in os.environ  # the suite's own process is as it was
    assert set(cli.RUN_PLUGINS) == {"xdist.plugin", "pytest_bdd.plugin"}


@pytest.mark.parametrize("servers, cores, snapshots, workers", [
    (1, 2, True, 4),    # one server, three processes beside its extras' one: its silent-server waits first
    (2, 2, True, 4),    # four for one or two servers, at most two more than cores
    (2, 8, True, 4),
    (4, 2, True, 3),    # more servers: at most one more than cores
    (4, 8, True, 6),
    (1, 2, False, 1),   # no database snapshot yet: another process would migrate a database of its own
    (2, 2, False, 2),
])
def test_the_default_workers_are_one_per_server_and_more_for_the_waits(monkeypatch, servers, cores, snapshots, workers):
    from mm_conformance.cli import run as cli
    from mm_conformance.infra.images import POSTGRES_IMAGE
    from mm_conformance.mattermost.servers import MattermostServer

    monkeypatch.setattr(cli.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(cli, "premigrated_database",
                        lambda image, postgres: f"{postgres}-premigrated" if snapshots else postgres)
    chosen = [MattermostServer(image=f"mm-conformance/mattermost:{i}.0.0", version=f"{i}.0.0") for i in range(servers)]
    assert cli._default_workers(chosen, POSTGRES_IMAGE) == workers


@pytest.mark.parametrize("args, says", [
    (("--adapter-timeout", "0"), "--adapter-timeout needs a positive number of seconds, not 0"),
    (("--adapter-timeout", "-2"), "--adapter-timeout needs a positive number of seconds, not -2"),
    (("--adapter-timeout", "nan"), "--adapter-timeout needs a positive number of seconds, not nan"),
    (("--workers", "500"), "--workers 500: at most"),
    (("--impl", "false"), "--impl false exited at once (code 1) before it was asked anything: no stderr"),
    (("--impl", f"mine={sys.executable} -c \"import sys; sys.exit('no module named mine_client')\""),
     "--impl mine exited at once (code 1) before it was asked anything: no module named mine_client"),
    (("--impl", "no-such-adapter-here"), "--impl no-such-adapter-here: 'no-such-adapter-here' cannot be started"),
    (("--impl-env", "MM_CONFORMANCE_ADMIN_TOKEN"), "--impl-env MM_CONFORMANCE_ADMIN_TOKEN: that is the suite's own"),
    (("--report", "/etc/hostname"), "--report /etc/hostname: that is a file, not a directory"),
    (("--report", "/proc/no/such/place"), "--report /proc/no/such/place: cannot write there"),
])
def test_bad_input_is_one_line_exit_2_before_anything_starts(args, says):
    result = run_cli("run", *args, "-k", "nothing")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"mm-conformance: error: {says}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_results_file_of_a_newer_version_is_one_line(tmp_path):
    (tmp_path / "results.json").write_text('{"format": 99, "scenarios": []}')
    result = run_cli("diff", str(tmp_path), str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"mm-conformance: error: {tmp_path / 'results.json'} was written by a newer "
                                     f"mm-conformance (results format 99; this one reads up to {runs.FORMAT}): "
                                     "read it with that version or a later one")


def test_a_report_is_moved_into_place_whole_and_other_files_stay(tmp_path):
    from mm_conformance.cli.run import _move_into_place, _staging_for

    report = tmp_path / "report"
    report.mkdir()
    (report / "results.json").write_text("the previous run's")
    (report / "notes.txt").write_text("the user's own")
    staged = _staging_for(report)
    assert staged.parent == tmp_path and staged.name.startswith(".report.incoming-")
    (staged / "results.json").write_text("this run's")
    (staged / "junit.xml").write_text("<testsuites/>")
    _move_into_place(staged, report)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
    assert (report / "results.json").read_text() == "this run's"
    assert (report / "notes.txt").read_text() == "the user's own" and (report / "junit.xml").exists()


class _RecordedOptions:
    """What ``pytest_addoption`` declares, without pytest's own parser."""

    def __init__(self) -> None:
        self.options: dict[str, dict[str, object]] = {}

    def getgroup(self, *_: object) -> "_RecordedOptions":
        return self

    def addoption(self, *names: str, **keywords: object) -> None:
        self.options[names[0]] = keywords


def test_run_and_pytest_declare_the_shared_options_from_one_table():
    """Same name, metavar, default and help on both sides, and every shipped adapter in --impl's help."""
    import argparse

    from mm_conformance import run_options
    from mm_conformance.cli import _parser
    from mm_conformance.protocol.adapters import KNOWN_IMPLEMENTATIONS
    from mm_conformance.pytest_plugin.options import pytest_addoption

    subcommands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    cli = {action.option_strings[0]: action for action in subcommands.choices["run"]._actions if action.option_strings}
    plugin = _RecordedOptions()
    pytest_addoption(plugin)  # type: ignore[arg-type]  # a recorder of addoption calls, not pytest's Parser
    for option in run_options.SHARED:
        assert plugin.options[option.flag]["help"] == cli[option.flag].help == option.help
        assert plugin.options[option.flag]["default"] == cli[option.flag].default
        assert plugin.options[option.flag].get("metavar") == cli[option.flag].metavar == option.metavar
    assert all(name in run_options.IMPL.help for name in KNOWN_IMPLEMENTATIONS)
    assert "--admin-token" in plugin.options and "--admin-token" not in cli
    assert "--report" in cli and "--report" not in plugin.options


def test_run_help_lists_every_shipped_adapter():
    from mm_conformance.protocol.adapters import KNOWN_IMPLEMENTATIONS

    result = run_cli("run", "--help")
    assert result.returncode == 0, result.stderr
    assert all(name in " ".join(result.stdout.split()) for name in KNOWN_IMPLEMENTATIONS), result.stdout


def test_a_shared_option_is_handed_to_pytest_as_one_argument_each():
    from mm_conformance import run_options

    assert run_options.IMPL.as_arguments(["reference", "mine=/opt/a b"]) == ["--impl=reference", "--impl=mine=/opt/a b"]
    assert run_options.MATTERMOST.as_arguments(None) == []
    assert run_options.MATTERMOST_URL.as_arguments(None) == []
    assert run_options.ADAPTER_TIMEOUT.as_arguments(10.0) == ["--adapter-timeout=10.0"]
    assert run_options.ALLOW_CONFIG_CHANGES.as_arguments(True) == ["--allow-config-changes"]
    assert run_options.ALLOW_CONFIG_CHANGES.as_arguments(False) == []
    assert run_options.implementations(None) == ["reference"]


def test_diff_of_one_run_over_one_server_says_what_it_needs_in_one_line(tmp_path):
    (tmp_path / "results.json").write_text(f'{{"format": {runs.FORMAT}, "scenarios": []}}')
    result = run_cli("diff", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"mm-conformance: error: {tmp_path} holds no server's results: run it "
                                     "over several servers (--mattermost local), or name a second run to compare with")


def test_the_version_is_one_line_from_its_one_source():
    from mm_conformance import __version__

    result = run_cli("--version")
    assert (result.returncode, result.stdout) == (0, f"mm-conformance {__version__}\n")
