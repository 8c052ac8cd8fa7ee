"""A run spread over CI jobs and merged again is the run: ``mm-conformance report SHARD…`` writes one
results.json with each shard's verdicts as recorded, refuses a result two shards both hold, and judges
declared deviations and the exit code over the whole as one run does. The last test proves it on real
runs: two servers × two implementations (the reference and a defective one) in one run, and the same
as four shards merged."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mm_conformance.errors import UsageError
from mm_conformance.outcomes import merge, report, runs
from mm_conformance.outcomes.results import ScenarioResult

CLI = [sys.executable, "-m", "mm_conformance"]
ROOT = Path(__file__).resolve().parent.parent
MADE_UP = "A token Mattermost does not honour is refused with an auth error (made-up)"
SLASHES = "The site URL is accepted however it ends (with two trailing slashes)"


def result(title: str, verdict: str, server: str, implementation: str = "", **extra: object) -> ScenarioResult:
    name = f"test_x[mm{server}]"
    return ScenarioResult(f"steps/test_scenarios.py::{name}", name, verdict, "using-api-access-token:4",
                          server=server, title=title, implementation=implementation, **extra)  # type: ignore[arg-type]


def shard(directory: Path, implementation: str, results: list[ScenarioResult]) -> Path:
    """A report directory as ``run --impl IMPLEMENTATION --report DIRECTORY`` writes it (a run of one
    implementation names it once, for the run, not on each result)."""
    directory.mkdir(parents=True)
    runs.write(results, directory, {"implementation": implementation, "servers": sorted({r.server for r in results}),
                                    "suite": "0.1.0", "implementation_environment": []})
    return directory


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def four_shards(tmp_path: Path, *, mine_on_11: str = "pass") -> list[Path]:
    """mine and the reference, each on 9.11.18 and 11.0.3: mine fails the slashes scenario on 9.11.18."""
    failing = dict(severity="broken", status=404, error_kind="http", reason="expected success, got 404")
    return [
        shard(tmp_path / "shards" / "mine-9.11.18", "mine", [
            result(MADE_UP, "pass", "9.11.18", status=401, error_kind="auth"),
            result(SLASHES, "fail", "9.11.18", **failing)]),
        shard(tmp_path / "shards" / "mine-11.0.3", "mine", [
            result(MADE_UP, "pass", "11.0.3", status=401, error_kind="auth"),
            result(SLASHES, mine_on_11, "11.0.3", status=200)]),
        shard(tmp_path / "shards" / "reference-9.11.18", "reference", [
            result(MADE_UP, "pass", "9.11.18", status=401, error_kind="auth"),
            result(SLASHES, "pass", "9.11.18", status=200)]),
        shard(tmp_path / "shards" / "reference-11.0.3", "reference", [
            result(MADE_UP, "pass", "11.0.3", status=401, error_kind="auth"),
            result(SLASHES, "pass", "11.0.3", status=200)]),
    ]


def test_shards_of_one_implementation_on_several_servers_are_one_row_of_the_scoreboard(tmp_path):
    shards = four_shards(tmp_path)
    merged = merge.merge(shards)
    assert {r.implementation for r in merged.results} == {"mine", "reference"}  # named on every result now
    board = report.build(merged).scoreboard
    assert board.implementations == ["reference", "mine"] and board.servers == ["9.11.18", "11.0.3"]
    assert board.standing(board.cell("mine", "9.11.18")) == "does not conform"
    assert board.standing(board.cell("mine", "11.0.3")) == "conforms"
    assert merged.meta["servers"] == ["9.11.18", "11.0.3"] and merged.meta["implementation"] == "mine, reference"
    assert merged.meta["merged_from"] == [str(d) for d in shards]


def test_the_merged_results_file_reads_back_as_one_run(tmp_path):
    merged = merge.merge(four_shards(tmp_path))
    merge.write(merged, tmp_path / "merged")
    meta, read = runs.read(tmp_path / "merged")
    assert read == merged.results and meta["format"] == runs.FORMAT
    versions, changes = runs.across_versions(read)  # what `diff merged` prints
    assert versions == ["9.11.18", "11.0.3"]
    assert [(c.implementation, c.scenario, c.was, c.now) for c in changes] == [
        ("mine", SLASHES, "fail (404 http)", "pass (200)")]


def test_a_result_two_shards_both_hold_is_refused_in_one_line_naming_both(tmp_path):
    first, *_ = four_shards(tmp_path)
    rerun = shard(tmp_path / "rerun", "mine", [result(MADE_UP, "fail", "9.11.18", severity="broken")])
    with pytest.raises(UsageError) as refused:
        merge.merge([first, rerun])
    message = str(refused.value)
    assert str(first) in message and str(rerun) in message and f'"{MADE_UP}" on 9.11.18' in message
    assert "\n" not in message


def test_one_implementation_in_two_shards_of_other_scenarios_merges(tmp_path):
    """Sharding by scenario (-k) on one server: the same implementation and server, other results."""
    made_up = shard(tmp_path / "made-up", "mine", [result(MADE_UP, "pass", "11.0.3")])
    slashes = shard(tmp_path / "slashes", "mine", [result(SLASHES, "pass", "11.0.3")])
    merged = merge.merge([made_up, slashes])
    assert [(r.implementation, r.scenario) for r in merged.results] == [("mine", MADE_UP), ("mine", SLASHES)]


def test_a_run_named_twice_or_a_result_twice_in_one_run_is_refused(tmp_path):
    run = shard(tmp_path / "run", "mine", [result(MADE_UP, "pass", "11.0.3")])
    with pytest.raises(UsageError, match="is named twice"):
        merge.merge([run, run / runs.RESULTS_FILE])
    doubled = shard(tmp_path / "doubled", "mine", [result(MADE_UP, "pass", "11.0.3"),
                                                   result(MADE_UP, "fail", "11.0.3")])
    with pytest.raises(UsageError, match="twice: it is not one run's results"):
        merge.merge([doubled])


def test_report_writes_the_merged_results_that_diff_reads(tmp_path):
    shards = four_shards(tmp_path)
    merged = tmp_path / "merged"
    written = cli("report", *map(str, shards), "--out", str(merged), "--findings", str(merged / "findings.md"))
    assert written.returncode == 0, written.stderr  # without --exit-code: 0 once written, as before
    assert sorted(p.name for p in merged.iterdir()) == ["findings.md", "index.html", "matrix.md", "results.json"]
    assert "| reference · 9.11.18 | reference · 11.0.3 | mine · 9.11.18 | mine · 11.0.3 |" in (
        merged / "matrix.md").read_text()
    compared = cli("diff", str(merged))
    assert compared.returncode == 1, compared.stderr
    assert f"| mine | 9.11.18 → 11.0.3 | {SLASHES} | fail (404 http) | pass (200) |" in compared.stdout


def test_diff_of_two_merged_runs_matches_each_implementation_on_each_server(tmp_path):
    """Last week's merged matrix and this week's: mine was fixed on 9.11.18, nothing else changed —
    one line, naming where (matched by scenario alone, the four results of each scenario would
    shadow one another)."""
    for week, mine_on_9 in (("last", "fail"), ("this", "pass")):
        shards = four_shards(tmp_path / week)
        if mine_on_9 == "pass":
            file = shards[0] / runs.RESULTS_FILE
            file.write_text(file.read_text().replace('"verdict": "fail"', '"verdict": "pass"'))
        assert cli("report", *map(str, shards), "--out", str(tmp_path / week / "merged")).returncode == 0
    compared = cli("diff", str(tmp_path / "last" / "merged"), str(tmp_path / "this" / "merged"))
    assert compared.returncode == 1, compared.stderr
    assert compared.stdout.strip().splitlines() == [
        f"~ mine · 9.11.18: {SLASHES}: fail (404 http) -> pass (404 http)"]


@pytest.mark.parametrize("mine_on_11, expected_exit, closing", [
    ("pass", 1, "mm-conformance: does not conform (7 pass, 0 warn, 1 fail, 0 skip, 0 error)"),
    ("error", 1, "mm-conformance: does not conform"),  # a failure outweighs a missing verdict, as in run
])
def test_report_exit_code_is_the_merged_runs_verdict(tmp_path, mine_on_11, expected_exit, closing):
    shards = four_shards(tmp_path, mine_on_11=mine_on_11)
    judged = cli("report", *map(str, shards), "--out", str(tmp_path / "merged"), "--exit-code")
    assert judged.returncode == expected_exit, judged.stdout + judged.stderr
    assert judged.stdout.strip().splitlines()[-1].startswith(closing)


def test_report_exit_code_gives_no_verdict_when_a_shard_gave_none(tmp_path):
    good = shard(tmp_path / "good", "mine", [result(MADE_UP, "pass", "11.0.3")])
    broken = shard(tmp_path / "broken", "mine", [result(MADE_UP, "error", "9.11.18", reason="infrastructure: gone")])
    judged = cli("report", str(good), str(broken), "--out", str(tmp_path / "merged"), "--exit-code")
    assert judged.returncode == 2
    assert judged.stdout.strip().splitlines()[-1] == (
        "mm-conformance: no verdict (1 pass, 0 warn, 0 fail, 0 skip, 1 error): infrastructure: gone")


def test_declared_deviations_are_judged_over_every_shard_as_one_run_judges_them(tmp_path):
    """mine fails the slashes scenario on 9.11.18 only: declared, it is expected there, and not stale
    because it passes on 11.0.3 — as in one run over both servers. Judged shard by shard, the 11.0.3
    shard alone would call it stale."""
    expectations = tmp_path / "known-deviations.toml"
    expectations.write_text(f'[[deviation]]\nscenario = "{SLASHES}"\nreason = "older servers answer 404"\n')
    shards = four_shards(tmp_path)
    judged = cli("report", *map(str, shards), "--out", str(tmp_path / "merged"), "--expect", str(expectations),
                 "--exit-code")
    assert judged.returncode == 0, judged.stdout + judged.stderr
    assert "no longer happens" not in judged.stdout
    slashes_on_9 = next(r for r in runs.read(tmp_path / "merged")[1]
                        if r.scenario == SLASHES and r.implementation == "mine" and r.server == "9.11.18")
    assert slashes_on_9.expected == "older servers answer 404"
    alone = runs.apply_expectations(runs.read(shards[1])[1], runs.load_expectations(expectations))
    assert alone == [f"declared deviation no longer happens: {SLASHES} (older servers answer 404)"]
    fixed = four_shards(tmp_path / "later")
    fixed_9 = fixed[0] / runs.RESULTS_FILE
    fixed_9.write_text(fixed_9.read_text().replace('"verdict": "fail"', '"verdict": "pass"'))
    stale = cli("report", *map(str, fixed), "--out", str(tmp_path / "later-merged"), "--expect", str(expectations),
                "--exit-code")
    assert stale.returncode == 1 and "declared deviation no longer happens" in stale.stdout


def test_report_refuses_in_one_line_before_writing(tmp_path):
    shards = four_shards(tmp_path)
    twice = cli("report", str(shards[0]), str(shards[0]), "--out", str(tmp_path / "merged"))
    into_a_run = cli("report", *map(str, shards), "--out", str(shards[0]))
    for refused, says in ((twice, "is named twice"), (into_a_run, "is one of the runs it reads")):
        assert refused.returncode == 2 and says in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    assert not (tmp_path / "merged").exists()


# On real runs: one run over two servers × two implementations, and the same cut into four shards.
#: Eight scenarios a server and implementation, none needing an extra server (TLS proxy, redirects): pass,
#: warn (plain http), skip (no server here has token expiry), fail (below), a shared world and a world of
#: its own (a write).
SELECTION = "does_not_honour or token_id or plain_http or expiring or posted_through"
#: The reference, and one of tests/defective that reports a 401 as an http error: it fails the four
#: refused-token scenarios, so failures, their error kinds and exit 1 are compared too.
DEFECTIVE = f"auth-as-http={sys.executable} {ROOT / 'tests' / 'defective' / 'adapter.py'} auth-as-http"
IMPLEMENTATIONS = ["reference", DEFECTIVE]


@pytest.fixture(scope="module")
def two_servers(docker_engine: None) -> list[str]:
    """The two newest Mattermost versions packaged here."""
    from mm_conformance.infra.images import local_mattermost_images
    from mm_conformance.mattermost.servers import version_key

    images = local_mattermost_images()
    if len(images) < 2:
        pytest.skip(f"infrastructure: two Mattermost images are needed, {len(images)} packaged here "
                    "(mm-conformance images build --from PATH)")
    return sorted(images, key=version_key)[-2:]


def run_suite(report_dir: Path, implementations: list[str], servers: list[str]) -> subprocess.CompletedProcess[str]:
    command = [*CLI, "run", "-q", "-k", SELECTION, "--report", str(report_dir), "--mattermost", ",".join(servers)]
    command += [arg for impl in implementations for arg in ("--impl", impl)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, env=os.environ.copy())


def closing(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stdout.strip() or result.stderr.strip()).splitlines()
    return lines[-1] if lines else f"exit {result.returncode}, no output"


def observed(results: list[ScenarioResult]) -> dict[merge.ResultKey, tuple[object, ...]]:
    """(implementation, server, scenario) → what the run recorded of it: verdict, status, error kind, error id."""
    return {merge.key(r): (r.verdict, r.status, r.error_kind, r.server_error_id) for r in results}


def test_the_shards_merged_give_the_verdicts_of_one_run_over_the_same_selection(tmp_path, two_servers):
    started = time.monotonic()
    whole = run_suite(tmp_path / "one-run", IMPLEMENTATIONS, two_servers)
    if whole.returncode == 2:
        pytest.skip(f"infrastructure: the run gives no verdict here: {closing(whole)}")
    shards = []
    for server in two_servers:
        for impl in IMPLEMENTATIONS:  # one after the other: on two cores, shards side by side only compete
            directory = tmp_path / "shards" / f"{impl.partition('=')[0]}-{server}"
            ran = run_suite(directory, [impl], [server])
            assert ran.returncode in (0, 1), f"shard {directory.name}: {closing(ran)}"
            shards.append(directory)
    merged = cli("report", *map(str, shards), "--out", str(tmp_path / "merged"), "--exit-code")
    took = time.monotonic() - started
    assert merged.returncode in (0, 1), merged.stdout + merged.stderr

    one_run, from_shards = observed(merge.merge([tmp_path / "one-run"]).results), observed(
        runs.read(tmp_path / "merged")[1])
    differences = [f"{' · '.join(key)}: one run {one_run.get(key)}, shards merged {from_shards.get(key)}"
                   for key in sorted(one_run.keys() | from_shards.keys()) if one_run.get(key) != from_shards.get(key)]
    assert not differences, "\n".join([f"{len(differences)} difference(s) in {took:.0f} s:", *differences])
    assert len(one_run) == len(IMPLEMENTATIONS) * len(two_servers) * 8, sorted(one_run)
    assert {key[0] for key in one_run} == {"reference", "auth-as-http"}
    assert {value[0] for value in one_run.values()} == {"pass", "warn", "skip", "fail"}, one_run
    assert merged.returncode == whole.returncode == 1, closing(merged) + " / one run: " + closing(whole)
