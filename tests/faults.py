"""Faults injected into a real run: what breaks, and how to see what the run made of it.

Used by tests/test_faults.py and benchmarks/reliability.py. A run is
``mm-conformance run`` in a subprocess (not a terminal: pytest's plain -v lines) with a run id of its own, so its
containers are found by label and its leftovers judged alone. Faults:

``mattermost-killed``  the server's container gets SIGKILL (``docker kill``)
``mattermost-frozen``  the server's container is paused (``docker pause``): it accepts nothing, answers nothing
``postgres-killed``    the database's container gets SIGKILL
``tls-proxy-killed``   the TLS proxy's container gets SIGKILL
``adapter-killed``     the adapter process gets SIGKILL (while it waits on a server that never answers)
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker

from mm_conformance.protocol import hygiene
from mm_conformance.infra.containers import RUN_ID_ENV, RUN_LABEL, SUITE_LABEL

ROOT = Path(__file__).resolve().parent.parent

#: Each fault, and a -k selection of scenarios that exercise what it breaks.
FAULTS = {
    "mattermost-killed": "token_auth or does_not_honour or authenticates",
    "mattermost-frozen": "token_auth or does_not_honour or authenticates",
    "postgres-killed": "token_auth or does_not_honour or authenticates",
    "tls-proxy-killed": "ignore_ssl_issues",
    "adapter-killed": "never_answers",
}
#: Options of a fault's run. The adapter is killed while it waits on a silent server: in one process,
#: where "the run's adapter" is the one of the scenario that waits next (with two workers, the silent
#: scenarios wait side by side, each worker with an adapter of its own).
RUN_OPTIONS = {"adapter-killed": ("--workers=1",)}
#: The words the run's reason must use for what broke: its role, never a Docker name.
NAMED_AS = {
    "mattermost-killed": "Mattermost", "mattermost-frozen": "Mattermost", "postgres-killed": "PostgreSQL",
    "tls-proxy-killed": "the TLS proxy", "adapter-killed": "was killed by signal SIGKILL",
}


#: pytest's plain line for a scenario that ended without a verdict (an error, or a skip for a broken world).
_NO_VERDICT = re.compile(r" (ERROR|SKIPPED|FAILED)\b")


@dataclass
class FaultRun:
    """A run of the suite with a fault injected after ``after_passes`` scenarios passed."""

    fault: str
    report: Path
    run_id: str = field(default_factory=lambda: f"fault-{secrets.token_hex(4)}")
    passes_before: int = 0
    seconds_to_end: float = 0.0
    returncode: int | None = None
    output: str = ""
    #: Seconds from the fault to the first scenario the run reported without a verdict (None: none was).
    named_after_s: float | None = None
    _pid: int | None = None

    def run(self, *args: str, after_passes: int, timeout_s: float = 600) -> FaultRun:
        self.report.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, RUN_ID_ENV: self.run_id, "MM_CONFORMANCE_SECRET_DIGESTS": str(self.digests)}
        command = [sys.executable, "-m", "mm_conformance", "run", "--report", str(self.report),
                   "-k", FAULTS[self.fault], *RUN_OPTIONS.get(self.fault, ()), *args]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, start_new_session=True)
        self._pid = process.pid
        lines: list[str] = []
        injected: float | None = None
        deadline = time.monotonic() + timeout_s
        try:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if injected is not None and self.named_after_s is None and _NO_VERDICT.search(line):
                    self.named_after_s = time.monotonic() - injected
                if " PASSED" in line:
                    self.passes_before += 1
                    if self.passes_before == after_passes:
                        if self.fault == "adapter-killed":
                            time.sleep(1.0)  # into the next request, which waits on a silent server
                        self.inject()
                        injected = time.monotonic()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the run did not end within {timeout_s} s")
            self.returncode = process.wait(timeout=60)
            if injected is None:
                raise AssertionError(f"the run ended before {after_passes} scenarios passed: {''.join(lines)[-1500:]}")
            self.seconds_to_end = time.monotonic() - injected
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            self.output = "".join(lines)
            self._unpause()
        return self

    @property
    def digests(self) -> Path:
        return self.report / "secret-digests.txt"

    def inject(self) -> None:
        client = docker.from_env()
        mine = {"label": [f"{RUN_LABEL}={self.run_id}"]}
        by_role = {}
        for container in sorted(client.containers.list(filters=mine), key=lambda c: c.attrs["Created"]):
            by_role.setdefault(container.labels.get(SUITE_LABEL), container)  # the first: the main server
        if self.fault == "mattermost-killed":
            by_role["mattermost"].kill()
        elif self.fault == "mattermost-frozen":
            by_role["mattermost"].pause()
        elif self.fault == "postgres-killed":
            by_role["postgres"].kill()
        elif self.fault == "tls-proxy-killed":
            by_role["tls-proxy"].kill()
        elif self.fault == "adapter-killed":
            os.kill(self._adapter_pid(), signal.SIGKILL)
        else:
            raise ValueError(f"unknown fault {self.fault!r}")

    def _adapter_pid(self) -> int:
        """The reference adapter among the run's descendants (it gets none of the run's variables to look for)."""
        children: dict[int, list[int]] = {}
        commands: dict[int, bytes] = {}
        for proc in Path("/proc").iterdir():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                commands[int(proc.name)] = (proc / "cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(proc.name))
        assert self._pid is not None
        todo = list(children.get(self._pid, []))
        while todo:
            pid = todo.pop()
            if b"mm_conformance.protocol.reference" in commands.get(pid, b""):
                return pid
            todo += children.get(pid, [])
        raise LookupError("the run's adapter process is not running")

    def _unpause(self) -> None:
        for container in docker.from_env().containers.list(filters={"label": [f"{RUN_LABEL}={self.run_id}"],
                                                                     "status": "paused"}):
            container.unpause()

    # -- what the run made of it -----------------------------------------------------

    def results(self) -> list[dict]:
        return json.loads((self.report / "results.json").read_text())["scenarios"]

    def closing_line(self) -> str:
        return self.output.strip().splitlines()[-1] if self.output.strip() else ""

    def leftovers(self) -> list[str]:
        client = docker.from_env()
        label = {"label": [f"{RUN_LABEL}={self.run_id}"]}
        return ([f"container {c.name}" for c in client.containers.list(all=True, filters=label)]
                + [f"network {n.name}" for n in client.networks.list(filters=label)]
                + [f"volume {v.name}" for v in client.volumes.list(filters=label)])

    def leaks(self) -> list[hygiene.Leak]:
        """Every token, session token or password the run handed out, looked for in all it wrote."""
        digests = self.digests.read_text().splitlines()
        artifacts = [p for p in self.report.rglob("*") if p.is_file() and p != self.digests]
        return hygiene.find_digest_leaks(artifacts, digests) + hygiene.find_digest_leaks(
            [self._output_file()], digests)

    def _output_file(self) -> Path:
        path = self.report / "console-output.txt"
        path.write_text(self.output)
        return path
