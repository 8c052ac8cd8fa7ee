"""Reliability on real servers, measured: faults mid-run, flakes over repeated runs.

    python benchmarks/reliability.py [--repeat 5] [--impl reference --impl n8n ...] [--skip-faults]
    python benchmarks/reliability.py --fault-loop 20 [--fault postgres-killed ...]   # under load

Prints, side by side:

1. each fault of tests/faults.py injected into a run (after two scenarios passed):
   the exit code, how the run named what failed, seconds from the fault to the run's
   end, verdicts kept, leftovers, and secrets found in its artefacts;
2. the flake check: ``mm-conformance run --repeat N`` with the given implementations
   on every Mattermost image packaged here: verdict changes between runs, and the
   wall time of all of them.

3. with ``--fault-loop N``: each fault injected N times in a row while a whole run of the
   suite on another server (the oldest, or the same one) loads the machine, as in CI: how
   many runs classified the fault correctly (exit 2, no failure, the role named), and the
   seconds from the fault to the first scenario without a verdict (median, max).

Nothing is estimated: what cannot run here (no packaged server) says why.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mm_conformance.infra.images import local_mattermost_images  # noqa: E402
from mm_conformance.mattermost.servers import version_key  # noqa: E402
from tests.faults import FAULTS, NAMED_AS, FaultRun  # noqa: E402


def faults(server: str) -> list[list[str]]:
    rows = [["fault", "exit", "named as", "s to end", "pass kept", "errors", "leftovers", "secrets found"]]
    for fault in FAULTS:
        run = FaultRun(fault, Path(tempfile.mkdtemp(prefix=f"mm-fault-{fault}-")) / "report")
        run.run("--mattermost", server, after_passes=2)
        results = run.results()
        errors = [r["reason"] for r in results if r["verdict"] == "error"]
        named = next((reason for reason in errors if NAMED_AS[fault] in reason), errors[0] if errors else "")
        rows.append([fault, str(run.returncode), named[:70], f"{run.seconds_to_end:.1f}",
                     str(sum(r["verdict"] == "pass" for r in results)), str(len(errors)),
                     str(len(run.leftovers())), str(len(run.leaks()))])
    return rows


def fault_loop(server: str, load_server: str, faults_wanted: list[str], times: int) -> list[list[str]]:
    rows = [["fault", "runs", "classified correctly", "named after (median, max)", "s to end (median, max)",
             "misclassified as"]]
    load = Load(load_server)
    try:
        for fault in faults_wanted:
            right, named, ended, wrong = 0, [], [], []
            for _ in range(times):
                load.keep_going()
                run = FaultRun(fault, Path(tempfile.mkdtemp(prefix=f"mm-fault-{fault}-")) / "report")
                run.run("--mattermost", server, after_passes=2)
                results = run.results()
                reasons = [r["reason"] for r in results if r["verdict"] == "error"]
                fails = [r["reason"] for r in results if r["verdict"] == "fail"]
                if run.returncode == 2 and not fails and any(NAMED_AS[fault] in reason for reason in reasons):
                    right += 1
                else:
                    wrong.append((fails or reasons or [run.closing_line()])[0][:100])
                named.append(run.named_after_s if run.named_after_s is not None else float("inf"))
                ended.append(run.seconds_to_end)
            rows.append([fault, str(times), f"{right} / {times}",
                         f"{statistics.median(named):.1f} s, {max(named):.1f} s",
                         f"{statistics.median(ended):.1f} s, {max(ended):.1f} s", "; ".join(wrong) or "-"])
    finally:
        load.stop()
    rows.append(["(load)", str(load.runs), "whole runs of the suite side by side", "", "", load_server])
    return rows


class Load:
    """Whole runs of the suite on ``server``, one after another, in the background: a CI machine's load."""

    def __init__(self, server: str) -> None:
        self.server, self.runs = server, 0
        self._process: subprocess.Popen[bytes] | None = None

    def keep_going(self) -> None:
        if self._process is None or self._process.poll() is not None:
            self.runs += self._process is not None
            self._process = subprocess.Popen(
                [sys.executable, "-m", "mm_conformance", "run", "-q", "--mattermost", self.server],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGINT)  # as Ctrl-C: it removes its containers
            self._process.wait(timeout=120)


def flakes(implementations: list[str], servers: list[str], repeat: int) -> list[list[str]]:
    out = Path(tempfile.mkdtemp(prefix="mm-flakes-"))
    command = [sys.executable, "-m", "mm_conformance", "run", "-q", "--repeat", str(repeat), "--report", str(out)]
    command += [f"--impl={impl}" for impl in implementations] + [f"--mattermost={s}" for s in servers]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    summary = next((line for line in result.stdout.splitlines() if " runs, " in line), result.stdout[-300:])
    changes = [line for line in result.stdout.splitlines() if line.startswith("mm-conformance: flaky:")]
    return [["runs", "implementations", "servers", "verdict changes", "wall time", "reports"],
            [str(repeat), ", ".join(implementations), ", ".join(servers), str(len(changes)),
             f"{elapsed:.0f} s ({elapsed / repeat:.0f} s a run)", str(out)],
            ["", "", "", "", "", summary]] + [["", "", "", "", "", change] for change in changes]


def table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows[1:]])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--impl", action="append", help="implementations for the flake check (default: "
                                                        "reference, n8n, mattermostdriver)")
    parser.add_argument("--skip-faults", action="store_true")
    parser.add_argument("--skip-flakes", action="store_true")
    parser.add_argument("--fault-loop", type=int, metavar="N", help="only: each fault N times in a row, under load")
    parser.add_argument("--fault", action="append", choices=sorted(FAULTS), help="with --fault-loop (default: all)")
    args = parser.parse_args()
    images = local_mattermost_images()
    if not images:
        print("not measured: no Mattermost image is packaged here (mm-conformance images build --from PATH)")
        return 2
    servers = sorted(images, key=version_key)
    if args.fault_loop:
        rows = fault_loop(servers[-1], servers[0], args.fault or sorted(FAULTS), args.fault_loop)
        print(f"## Faults in a row under load (Mattermost {servers[-1]}, load on {servers[0]})\n\n{table(rows)}\n")
        return 0
    if not args.skip_faults:
        print(f"## Faults mid-run (Mattermost {servers[-1]})\n\n{table(faults(servers[-1]))}\n")
    if not args.skip_flakes:
        implementations = args.impl or ["reference", "n8n", "mattermostdriver"]
        print(f"## Flakes\n\n{table(flakes(implementations, servers, args.repeat))}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
