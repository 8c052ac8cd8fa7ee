"""Benchmarks: measure and print figures side by side, medians and ratios (never a pass/fail).

    python benchmarks/bench.py [--out benchmarks/results] [--rounds 50]

Measures, in one run on this machine:

1. the suite's own overhead per request: a request through the implementation
   runner and the reference adapter (protocol v1 over a pipe) against the same
   request made directly with httpx, both to a loopback HTTP endpoint;
2. a Mattermost deployment start on an empty database (full migrations) against a
   start from the line's pre-migrated snapshot, up to the admin logged in (medians);
3. a warm full run: every scenario × the reference × one release line.

Figures that cannot be measured here (no Mattermost image) are reported as such,
with the reason, never estimated. Writes results.json and results.md to --out.
"""

from __future__ import annotations

import argparse
import http.server
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mm_conformance.deployment import MattermostDeployment  # noqa: E402
from mm_conformance.errors import InfrastructureError  # noqa: E402
from mm_conformance.images import local_mattermost_images  # noqa: E402
from mm_conformance.servers import select_servers  # noqa: E402
from mm_conformance.implementation import Implementation, reference_command  # noqa: E402
from mm_conformance.protocol import ApiRequest, Credential  # noqa: E402


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
    try:
        with Implementation("reference", reference_command(), timeout_s=10) as impl:
            impl.request(credential, ApiRequest("GET", "users/me"))  # start-up is not per request
            for _ in range(rounds):
                started = time.perf_counter()
                with httpx.Client(timeout=10, trust_env=False) as client:
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
    """Median start of a deployment on an empty database (every migration) and from the line's snapshot."""
    server = select_servers(None, local_mattermost_images())[0]
    try:
        empty = [_start_s(server, premigrated=False) for _ in range(rounds)]
        _start_s(server, premigrated=True)  # makes the snapshot on first use
        snapshot = [_start_s(server, premigrated=True) for _ in range(rounds)]
    except InfrastructureError as error:
        return {"server": str(server), "not_measured": str(error)}
    empty_s, snapshot_s = statistics.median(empty), statistics.median(snapshot)
    return {"server": str(server), "rounds": rounds, "empty_database_start_s": round(empty_s, 1),
            "premigrated_start_s": round(snapshot_s, 1), "ratio": round(empty_s / snapshot_s, 1)}


def full_run() -> dict[str, object]:
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "mm_conformance", "run", "-q"], cwd=ROOT,
                         capture_output=True, text=True)
    elapsed = round(time.perf_counter() - started, 1)
    closing = (run.stdout.strip().splitlines() or ["no output"])[-1]
    if run.returncode == 2:
        return {"not_measured": closing}
    return {"warm_full_run_s": elapsed, "verdict": closing}


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
    args = parser.parse_args()
    figures = {"overhead per request": overhead_per_request(args.rounds),
               "Mattermost start": server_start(), "full run": full_run()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(figures, indent=2) + "\n")
    (args.out / "results.md").write_text(markdown(figures))
    print(markdown(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
