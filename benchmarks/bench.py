"""Benchmarks: measure and print figures side by side, medians and ratios (never a pass/fail).

    python benchmarks/bench.py [--out benchmarks/results] [--rounds 50] [--skip-runs] [--only whole|versions]

Measures, in one run on this machine, on the Mattermost images packaged here:

1. the suite's own overhead per request: a request through the implementation
   runner and the reference adapter (protocol v1 over a pipe) against the same
   request made directly with httpx, both to a loopback HTTP endpoint;
2. a Mattermost deployment start on an empty database (every migration) against a
   start from the image's pre-migrated database, up to the admin logged in (medians);
3. whole runs (``mm-conformance run``, wall time, every scenario): one implementation
   on one server; 3 and 12 implementations side by side on it (copies of the
   reference, so the ratio is the suite's own cost of another implementation, and
   the reference with n8n and mattermostdriver, as users run it); a second run in a
   row on a warm deployment (``mm-conformance up``); the newest and the oldest server
   together (side by side, as by default, and one after the other); and whether
   each implementation's verdicts are the same side by side as alone, and where the
   CPU of the warm run goes, in core-seconds per kind of process (benchmarks/cpu.py);
4. runs over every version packaged here (``--only versions`` for these alone): each
   server alone with the reference (its scenarios and time), then all of them in one
   run, with the reference and with reference + n8n + mattermostdriver, each ÷ the
   same on the newest server alone; and the upgrade path's time per step, read from
   the all-versions run's report.

Figures that cannot be measured here (no Mattermost image) are reported as such,
with the reason, never estimated. Writes results.json and results.md to --out.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.cpu import CpuByProcess  # noqa: E402
from mm_conformance.errors import InfrastructureError  # noqa: E402
from mm_conformance.infra.deployment import MattermostDeployment  # noqa: E402
from mm_conformance.infra.images import local_mattermost_images  # noqa: E402
from mm_conformance.infra.premade import PREMADE_USERS  # noqa: E402
from mm_conformance.infra.warm import WARM_DIR, WarmState  # noqa: E402
from mm_conformance.mattermost.servers import select_servers  # noqa: E402
from mm_conformance.protocol.runner import Implementation, reference_command  # noqa: E402
from mm_conformance.protocol.wire import ApiRequest, Credential  # noqa: E402


class _Answer(http.server.BaseHTTPRequestHandler):
    """A loopback endpoint answering every GET with a small JSON user: the request's fixed cost."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = b'{"id": "benchmark-user", "username": "benchmark"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def overhead_per_request(rounds: int) -> dict[str, object]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    credential = Credential("benchmark-token-not-a-secret", base)
    direct, through = [], []
    verify = ssl.create_default_context()  # made once, as the reference does: a client per request, not roots
    try:
        with Implementation("reference", reference_command(), timeout_s=10) as impl:
            impl.request(credential, ApiRequest("GET", "users/me"))  # start-up is not per request
            for _ in range(rounds):
                started = time.perf_counter()
                with httpx.Client(verify=verify, timeout=10, trust_env=False) as client:
                    client.get(f"{base}/api/v4/users/me", headers={"Authorization": "Bearer x"})
                direct.append(time.perf_counter() - started)
                started = time.perf_counter()
                impl.request(credential, ApiRequest("GET", "users/me"))
                through.append(time.perf_counter() - started)
    finally:
        server.shutdown()
    direct_ms, through_ms = statistics.median(direct) * 1000, statistics.median(through) * 1000
    return {"rounds": rounds, "direct_httpx_ms": round(direct_ms, 2), "through_suite_ms": round(through_ms, 2),
            "overhead_ms": round(through_ms - direct_ms, 2), "ratio": round(through_ms / direct_ms, 2)}


def _start_s(server, *, premigrated: bool) -> float:
    stack = MattermostDeployment(server, premigrated=premigrated)
    started = time.perf_counter()
    with stack:  # up to the admin logged in: ping answered, first user made
        return time.perf_counter() - started


def server_start(rounds: int = 3) -> dict[str, object]:
    """Median start of a deployment on an empty database (every migration) and from the image's snapshot."""
    servers = select_servers(None, local_mattermost_images())
    server = servers[-1]
    try:
        empty = [_start_s(server, premigrated=False) for _ in range(rounds)]
        _start_s(server, premigrated=True)  # makes the snapshot on first use
        snapshot = [_start_s(server, premigrated=True) for _ in range(rounds)]
    except InfrastructureError as error:
        return {"server": str(server), "not_measured": str(error)}
    empty_s, snapshot_s = statistics.median(empty), statistics.median(snapshot)
    return {"server": str(server), "rounds": rounds, "empty_database_start_s": round(empty_s, 1),
            "premigrated_start_s": round(snapshot_s, 1), "ratio": round(empty_s / snapshot_s, 2)}


def _run(*args: str, report: Path | None = None) -> tuple[float, str, Path | None]:
    """``mm-conformance run -q ARGS``: its wall time and closing line."""
    command = [sys.executable, "-m", "mm_conformance", "run", "-q", *args]
    if report is not None:
        command += ["--report", str(report)]
    started = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    closing = (run.stdout.strip().splitlines() or ["no output"])[-1]
    if run.returncode not in (0, 1):  # no verdict: not a figure
        raise InfrastructureError(f"mm-conformance run {' '.join(args)} exited {run.returncode}: {closing} "
                                  f"{run.stderr.strip()[-300:]}")
    return elapsed, closing, report


def _verdicts(report: Path) -> dict[tuple[str, str, str], str]:
    scenarios = json.loads((report / "results.json").read_text())["scenarios"]
    return {(s["implementation"], s["server"], s["title"]): s["verdict"] for s in scenarios}


def whole_runs(work: Path) -> dict[str, object]:
    """The run figures of issue 17, each a whole run of every scenario, measured one after the other."""
    servers = [s.version for s in select_servers(None, local_mattermost_images())]
    if not servers:
        return {"not_measured": "no Mattermost image is packaged here (mm-conformance images build --from PATH)"}
    newest, oldest = servers[-1], servers[0]
    copies = lambda n: [f"--impl=reference-{i}=reference" for i in range(1, n + 1)]  # noqa: E731
    real = ["--impl=reference", "--impl=n8n", "--impl=mattermostdriver"]
    figures: dict[str, object] = {"servers": ", ".join(servers)}
    goals: dict[str, object] = {}  # issue 28's goals, each beside what was measured (printed first)
    try:
        subprocess.run([sys.executable, "-m", "mm_conformance", "down"], cwd=ROOT, capture_output=True)
        _run(f"--mattermost={newest}")  # a warm-up: the images and the snapshot in the page cache
        with CpuByProcess() as cold_cpu:
            one, closing, _ = _run(f"--mattermost={newest}", report=work / "one")
        figures[f"1 implementation x {newest}, from the snapshot (s)"] = round(one, 1)
        figures["its verdict"] = closing
        figures.update({f"that run's {name}": value for name, value in cold_cpu.table().items()})
        two_workers, _, _ = _run(f"--mattermost={newest}", "--workers=2")
        figures["the same in 2 processes, the silent-server scenarios on one (--workers 2) (s)"] = round(two_workers, 1)
        in_one, _, _ = _run(f"--mattermost={newest}", "--workers=1")
        figures["the same in one process, silent-server scenarios in turn (--workers 1) (s)"] = round(in_one, 1)
        no_wait_cold, _, _ = _run(f"--mattermost={newest}", "-k", "not never_answers")
        figures["the same without the 9 silent-server scenarios (s) "] = round(no_wait_cold, 1)
        three, _, _ = _run(f"--mattermost={newest}", *copies(3))
        twelve, _, _ = _run(f"--mattermost={newest}", *copies(12))
        figures["3 implementations (reference copies) / 1"] = round(three / one, 2)
        figures["12 implementations (reference copies) / 1"] = round(twelve / one, 2)
        goals["3 implementations / 1 (goal: at most 1.15)"] = round(three / one, 2)
        goals["12 implementations / 1 (goal: at most 2)"] = round(twelve / one, 2)
        real_s, _, shared = _run(f"--mattermost={newest}", *real, report=work / "shared")
        figures["reference + n8n + mattermostdriver (s)"] = round(real_s, 1)
        figures["reference + n8n + mattermostdriver / 1"] = round(real_s / one, 2)
        alone = {}
        for impl in real:
            _, _, report = _run(f"--mattermost={newest}", impl, report=work / f"alone-{impl.split('=')[1]}")
            alone.update(_verdicts(report))
        together = _verdicts(shared)
        differ = sorted(key for key in alone if together.get(key) != alone[key])
        figures["verdicts side by side = alone"] = (f"{len(alone) - len(differ)} of {len(alone)} rows the same"
                                                    + (f"; differ: {differ[:3]}" if differ else ""))
        goals["verdicts side by side = alone (goal: all)"] = figures["verdicts side by side = alone"]
        both, _, _ = _run(f"--mattermost={oldest}", f"--mattermost={newest}")
        figures[f"2 servers ({oldest}, {newest}) side by side (the default) / 1"] = round(both / one, 2)
        goals["2 servers / 1 (goal: at most 1.5)"] = round(both / one, 2)
        in_turn, _, _ = _run(f"--mattermost={oldest}", f"--mattermost={newest}", "--workers=1")
        figures["2 servers one after the other (--workers 1) / 1"] = round(in_turn / one, 2)
        subprocess.run([sys.executable, "-m", "mm_conformance", "up", f"--mattermost={newest}"], cwd=ROOT,
                       capture_output=True, check=True)
        _run(f"--mattermost={newest}")  # the first run on the warm deployment
        figures["the refill of premade users after it, between runs (s)"] = round(_refill_done(), 1)
        with CpuByProcess() as cpu:  # where the CPU of a warm run goes: the floor on these cores
            warm, _, _ = _run(f"--mattermost={newest}")
        figures["second run in a row, warm deployment, its refill done (s)"] = round(warm, 1)
        figures.update({f"the warm run's {name}": value for name, value in cpu.table().items()})
        goals["warm second run, one server, its refill done (goal: at most 8 s)"] = round(warm, 1)
        goals["cold run from the snapshot, one server (goal: at most 12 s)"] = round(one, 1)
        for name, measured in (("cold", cold_cpu), ("warm", cpu)):
            total = sum(measured.by_kind().values())
            # What the CPU alone allows on these cores: every process's core-seconds over the cores.
            goals[f"the {name} run's floor on {os.cpu_count()} cores if only CPU counted (s)"] = \
                round(total / (os.cpu_count() or 1), 1)
        _refill_done()
        at_once, _, _ = _run(f"--mattermost={newest}")  # the refill, paused by the run, waits
        figures["the run after it at once, the refill not done (s)"] = round(at_once, 1)
        _refill_done()
        warm_in_one, _, _ = _run(f"--mattermost={newest}", "--workers=1")
        figures["the same in one process (--workers 1) (s)"] = round(warm_in_one, 1)
        no_wait, _, _ = _run(f"--mattermost={newest}", "-k", "not never_answers")
        figures["the same without the 9 silent-server scenarios (s)"] = round(no_wait, 1)
    except InfrastructureError as error:
        figures["not_measured"] = str(error)
    finally:
        subprocess.run([sys.executable, "-m", "mm_conformance", "down"], cwd=ROOT, capture_output=True)
    return {**{f"goal: {name}": value for name, value in goals.items()}, **figures}


def _refill_done(timeout_s: float = 300) -> float:
    """Wait until every warm deployment holds a whole pool of premade users again (infra.refill makes
    them as the run before ends); how long that took."""
    started = time.perf_counter()
    for path in WARM_DIR.glob("*.json"):
        ledger = WarmState.read(path).users_ledger
        while time.perf_counter() - started < timeout_s:
            handed_out, made = ledger.counts()
            if made - handed_out >= PREMADE_USERS:
                break
            time.sleep(0.2)
    return time.perf_counter() - started


def version_runs(work: Path) -> dict[str, object]:
    """Issue 29's figures: what running every packaged version costs beside running one."""
    servers = [s.version for s in select_servers(None, local_mattermost_images())]
    if len(servers) < 2:
        return {"not_measured": f"{len(servers)} Mattermost image(s) packaged here: several are needed"}
    newest, every = servers[-1], [f"--mattermost={version}" for version in servers]
    real = ["--impl=reference", "--impl=n8n", "--impl=mattermostdriver"]
    figures: dict[str, object] = {"servers": ", ".join(servers)}
    try:
        subprocess.run([sys.executable, "-m", "mm_conformance", "down"], cwd=ROOT, capture_output=True)
        alone: dict[str, float] = {}
        for version in servers:
            alone[version], _, report = _run(f"--mattermost={version}", report=work / f"alone-{version}")
            figures[f"reference on {version} alone: scenarios, s"] = f"{len(_verdicts(report))}, {alone[version]:.1f}"
        every_s, closing, report = _run(*every, report=work / "every")
        figures[f"reference on all {len(servers)} servers (s)"] = round(every_s, 1)
        figures[f"reference: {len(servers)} servers / 1 ({newest})"] = round(every_s / alone[newest], 2)
        figures["its verdict"] = closing
        scenarios = json.loads((report / "results.json").read_text())["scenarios"]
        for step in next((s["upgrade_steps"] for s in scenarios if s.get("upgrade_steps")), []):
            figures[f"upgrade step {step['before']} -> {step['after']} (s)"] = step["step_s"]
        one_real, _, _ = _run(f"--mattermost={newest}", *real)
        every_real, closing, _ = _run(*every, *real)
        figures[f"reference + n8n + mattermostdriver on {newest} alone (s)"] = round(one_real, 1)
        figures[f"reference + n8n + mattermostdriver on all {len(servers)} servers (s)"] = round(every_real, 1)
        figures[f"reference + n8n + mattermostdriver: {len(servers)} servers / 1"] = round(every_real / one_real, 2)
        figures["their verdict"] = closing
    except InfrastructureError as error:
        figures["not_measured"] = str(error)
    return figures


def markdown(figures: dict[str, dict[str, object]]) -> str:
    lines = ["| measurement | figure |", "|---|---|"]
    for name, values in figures.items():
        for key, value in values.items():
            lines.append(f"| {name}: {key} | {value} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--skip-runs", action="store_true", help="only the per-request and start figures")
    parser.add_argument("--only", choices=["whole", "versions"],
                        help="only the whole runs on one server (with the per-request and start figures), or only "
                             "the runs over every packaged version")
    args = parser.parse_args()
    figures: dict[str, dict[str, object]] = {"machine": {"cores": os.cpu_count(), "memory": _memory()}}
    work = Path(tempfile.mkdtemp(prefix="mm-bench-"))
    if args.only in (None, "whole"):
        figures["overhead per request"] = overhead_per_request(args.rounds)
        figures["Mattermost start"] = server_start()
        if not args.skip_runs:
            figures["whole runs"] = whole_runs(work)
    if not args.skip_runs and args.only in (None, "versions"):
        figures["every version"] = version_runs(work)
    args.out.mkdir(parents=True, exist_ok=True)
    name = "results" if args.only is None else f"results-{args.only}"  # --only keeps the full figures
    (args.out / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    (args.out / f"{name}.md").write_text(markdown(figures))
    print(markdown(figures))
    return 0


def _memory() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) // 1024 // 1024} GiB"
    return "?"


if __name__ == "__main__":
    raise SystemExit(main())
