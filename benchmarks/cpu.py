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

#: How a process is named in the breakdown, by the first rule its command line matches.
KINDS: tuple[tuple[str, str], ...] = (
    ("mattermost", "Mattermost (the server)"),
    ("postgres", "PostgreSQL"),
    ("nginx", "nginx (TLS proxy, redirects)"),
    ("mm_conformance.protocol.reference", "the reference adapter"),
    ("adapters/", "other adapters"),
    ("node", "other adapters"),
    ("execnet", "pytest-xdist workers"),
    ("exec(eval(sys.stdin.readline()))", "pytest-xdist workers"),
    ("mm_conformance run", "the run (controller)"),
    ("-m mm_conformance", "the run (controller)"),
    ("dockerd", "Docker (dockerd, containerd, shims)"),
    ("containerd", "Docker (dockerd, containerd, shims)"),
    ("docker-proxy", "Docker (dockerd, containerd, shims)"),
)


def _kind(command: str) -> str:
    return next((name for needle, name in KINDS if needle in command), "everything else")


def _ticks(pid: str) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def _command(pid: str) -> str:
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
            if pid not in self._kinds:
                self._kinds[pid] = _kind(_command(pid))
                self._first[pid] = ticks if first else 0  # started during the measurement: all of it counts
            self._last[pid] = ticks

    def by_kind(self) -> dict[str, float]:
        """Core-seconds per kind of process, most first."""
        totals: dict[str, float] = defaultdict(float)
        for pid, kind in self._kinds.items():
            totals[kind] += (self._last[pid] - self._first[pid]) / TICKS
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    def table(self) -> dict[str, object]:
        kinds = self.by_kind()
        total = sum(kinds.values())
        figures: dict[str, object] = {f"CPU: {kind} (core-s)": round(seconds, 1) for kind, seconds in kinds.items()}
        figures["CPU: all processes (core-s)"] = round(total, 1)
        figures["CPU: wall time (s); cores busy on average"] = f"{self.wall_s:.1f}; {total / self.wall_s:.2f}"
        return figures
