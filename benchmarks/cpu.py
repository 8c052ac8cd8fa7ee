"""Where a run's CPU goes: core-seconds per kind of process, sampled from /proc while the run lasts.

    with CpuByProcess() as cpu:
        subprocess.run([...])
    print(cpu.table())

Every process on the machine is sampled every ``interval_s`` (containers' processes
are the host's too: Mattermost, PostgreSQL and nginx show here by their names). A
process's CPU is its user + system time at its last sample minus that at its first,
or since it started when it started during the measurement; a process that exits
between two samples loses at most one interval of CPU, so the totals are a floor.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")

#: How a process is named in the breakdown: by its executable's name (``/proc/PID/comm``) ...
BY_NAME: dict[str, str] = {
    "mattermost": "Mattermost (the server)",
    "postgres": "PostgreSQL",
    "nginx": "nginx (TLS proxy, redirects)",
    "node": "adapters (Node.js)",
    "dockerd": "Docker (engine, containerd, shims, proxies)",
    "containerd": "Docker (engine, containerd, shims, proxies)",
    "containerd-shim": "Docker (engine, containerd, shims, proxies)",
    "docker-proxy": "Docker (engine, containerd, shims, proxies)",
    "runc": "Docker (engine, containerd, shims, proxies)",
    "exe": "Docker (engine, containerd, shims, proxies)",  # runc re-executing itself
    "curl": "containers' health checks (curl, pg_isready)",
    "pg_isready": "containers' health checks (curl, pg_isready)",
}
#: ... and a Python process by the first rule its command line matches.
PYTHON_KINDS: tuple[tuple[str, str], ...] = (
    ("mm_conformance.protocol.reference", "adapters (Python)"),
    ("adapters/", "adapters (Python)"),
    ("exec(eval(sys.stdin.readline()))", "pytest-xdist workers"),
    ("-m mm_conformance", "the run (the CLI and pytest's controller)"),
    ("bench", "the benchmark itself (sampling /proc)"),
)


def _kind(name: str, command: str) -> str:
    if name.startswith("python"):
        return next((kind for needle, kind in PYTHON_KINDS if needle in command), f"other: {name}")
    return BY_NAME.get(name, BY_NAME.get(name.split("-")[0], f"other: {name}"))


def _ticks(pid: str) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def _name(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _command_line(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class CpuByProcess:
    """Samples every process's CPU while the ``with`` block runs; :meth:`by_kind` adds them up."""

    def __init__(self, interval_s: float = 0.2) -> None:
        self.interval_s = interval_s
        self._first: dict[str, int] = {}
        self._last: dict[str, int] = {}
        self._kinds: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)
        self.wall_s = 0.0

    def __enter__(self) -> CpuByProcess:
        self._sample(first=True)
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.wall_s = time.monotonic() - self._started

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self, *, first: bool = False) -> None:
        for pid in (entry for entry in os.listdir("/proc") if entry.isdigit()):
            ticks = _ticks(pid)
            if ticks is None:
                continue
            if pid not in self._first:
                self._first[pid] = ticks if first else 0  # started during the measurement: all of it counts
            # Named again when its name changes: a container's first process is runc's until it runs the server.
            name = _name(pid)
            if name and name != self._names.get(pid):
                self._names[pid], self._kinds[pid] = name, _kind(name, _command_line(pid))
            self._last[pid] = ticks

    def by_kind(self) -> dict[str, float]:
        """Core-seconds per kind of process, most first."""
        totals: dict[str, float] = defaultdict(float)
        for pid, last in self._last.items():
            totals[self._kinds.get(pid, "other: gone before it was named")] += (last - self._first[pid]) / TICKS
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    def table(self) -> dict[str, object]:
        kinds = self.by_kind()
        total = sum(kinds.values())
        shown = {kind: seconds for kind, seconds in kinds.items() if seconds >= 0.05}  # the rest: under 0.05 each
        figures: dict[str, object] = {f"CPU: {kind} (core-s)": round(seconds, 1) for kind, seconds in shown.items()}
        figures["CPU: all processes (core-s)"] = round(total, 1)
        figures["CPU: wall time (s); cores busy on average"] = f"{self.wall_s:.1f}; {total / self.wall_s:.2f}"
        return figures
