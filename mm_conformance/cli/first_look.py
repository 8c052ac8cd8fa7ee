"""Before a run starts anything: each command of the user's is started once, to see it does not exit at once.

An adapter that exits before it is asked anything (a typo in its path, a missing module) is a usage
error in one line, naming it and its last words, rather than one failure per scenario.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from typing import IO

from mm_conformance import redact
from mm_conformance.errors import UsageError
from mm_conformance.protocol import environment
from mm_conformance.protocol.adapters import (
    declared_environment,
    implementation_command,
    implementation_name,
    is_shipped,
)

#: How long an adapter is given to show that it does not exit at once, before the run starts.
EXITS_AT_ONCE_S = 0.5

Started = list[tuple[str, subprocess.Popen[bytes]]]


def start_for_a_look(impls: list[str], passed: dict[str, str]) -> Started:
    """Each command of the user's, started as the run will start it, to see it does not exit at once.
    A shipped adapter is not: its own tests check it starts, and n8n's costs a second of CPU."""
    started: Started = []
    for impl in impls:
        if is_shipped(impl):
            continue
        command = implementation_command(impl)
        try:
            process = subprocess.Popen(shlex.split(command), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, start_new_session=True,
                                       env=environment.adapter_environment(passed=passed,
                                                                           declared=declared_environment(impl)))
        except (ValueError, OSError) as error:
            for _, process in started:
                stop_quietly(process)
            raise UsageError(f"--impl {implementation_name(impl)}: {command!r} cannot be started: {error}") from None
        started.append((impl, process))
    return started


def exited_at_once(started: Started) -> None:
    """UsageError, naming the implementation and its last words, if an adapter exited before it was asked
    anything; the others are told to exit (stdin closed) and reaped."""
    deadline = time.monotonic() + EXITS_AT_ONCE_S
    try:
        for impl, process in started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            if process.returncode is not None:
                last = (_written_so_far(process.stderr).strip().splitlines() or ["no stderr"])[-1]
                raise UsageError(f"--impl {implementation_name(impl)} exited at once (code {process.returncode}) "
                                 f"before it was asked anything: {redact.one_line(redact.redact(last))[:300]}")
    finally:
        for _, process in started:
            stop_quietly(process)


def _written_so_far(stream: IO[bytes] | None) -> str:
    """What an exited process wrote to ``stream``, without waiting for a child of it that holds it open."""
    if stream is None:
        return ""
    os.set_blocking(stream.fileno(), False)
    try:
        return (stream.read() or b"").decode(errors="replace")
    except BlockingIOError:
        return ""


def stop_quietly(process: subprocess.Popen[bytes]) -> None:
    """Close the adapter's stdin, give it 5 s to exit, then kill its whole process group: what it
    started goes too."""
    with contextlib.suppress(OSError):
        if process.stdin:
            process.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    if process.stderr:
        process.stderr.close()
