"""A line-by-line session with an adapter process, as the adapter check needs it.

The runner (:class:`~mm_conformance.protocol.runner.Implementation`) hides the process: it
writes well-formed requests only, kills the adapter at the first thing wrong and starts a
fresh one. The check must do what the runner never does — write a line that is not JSON, close
stdin and keep reading to see whether an answer was only buffered, time the exit — so it
talks to the process itself through this class: raw lines in, raw lines out, nothing judged.
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from typing import IO, Final

from mm_conformance.protocol.runner import how_it_exited
from mm_conformance.redact import one_line, redact

#: What :meth:`AdapterSession.next_line` returns once the adapter's stdout is closed.
END_OF_OUTPUT: Final = "<end of output>"

#: Lines of the adapter's stderr kept to say why it stopped.
STDERR_TAIL_LINES = 20


class AdapterSession:
    """One adapter process: ``argv`` started with ``env`` as its whole environment, in a process
    group of its own (so that :meth:`kill` ends what it started too). Its stdout and stderr are
    read by threads from the start, so a chatty adapter never blocks on a full pipe.

    Raises OSError when the program cannot be started (no such file, not executable).
    """

    def __init__(self, argv: list[str], env: Mapping[str, str]) -> None:
        self.started_at = time.monotonic()
        self._process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            encoding="utf-8", errors="replace", bufsize=1, env=dict(env), start_new_session=os.name == "posix")
        self._lines: queue.Queue[str] = queue.Queue()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        assert self._process.stdout is not None and self._process.stderr is not None
        threading.Thread(target=self._read_stdout, args=(self._process.stdout,), daemon=True).start()
        self._stderr_reader = threading.Thread(target=self._read_stderr, args=(self._process.stderr,), daemon=True)
        self._stderr_reader.start()

    def send(self, line: str) -> bool:
        """Write one line on the adapter's stdin; False when it can no longer read (it exited)."""
        try:
            assert self._process.stdin is not None
            self._process.stdin.write(line + "\n")
            self._process.stdin.flush()
        except (OSError, ValueError):  # BrokenPipeError once it exited; ValueError once stdin is closed
            return False
        return True

    def next_line(self, timeout_s: float) -> str | None:
        """The next line the adapter printed that is not blank (blank lines are allowed and ignored),
        :data:`END_OF_OUTPUT` once its stdout closed, or None when nothing came within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if line is END_OF_OUTPUT or line.strip():
                return line

    def close_stdin(self) -> float:
        """Close the adapter's stdin, as a run does when it is done; returns when it did so."""
        with contextlib.suppress(OSError):
            if self._process.stdin is not None:
                self._process.stdin.close()
        return time.monotonic()

    def wait_for_exit(self, timeout_s: float) -> int | None:
        """The adapter's exit code, or None when it is still running after ``timeout_s``."""
        try:
            return self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    @property
    def exit_code(self) -> int | None:
        return self._process.poll()

    def how_it_ended(self, before: str) -> str:
        """One redacted line: how the adapter exited, ``before`` what, and its last words, e.g.
        ``exited with code 3 before answering request 102; last stderr: giving up`` (the last line:
        a traceback's own says what went wrong)."""
        code = self.wait_for_exit(1.0)
        self._stderr_reader.join(timeout=1.0)  # let its last words arrive
        how = "closed its stdout" if code is None else how_it_exited(code)
        last = next((line for line in reversed(self._stderr_tail) if line.strip()), None)  # a traceback's error
        return one_line(f"{how} {before}; " + (f"last stderr: {last}" if last else "no stderr output"))

    def kill(self) -> None:
        """Kill the adapter's whole process group and reap it. Idempotent."""
        self.close_stdin()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.name == "posix":
                os.killpg(self._process.pid, signal.SIGKILL)
            elif self._process.poll() is None:
                self._process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=5.0)
        self._stderr_reader.join(timeout=1.0)

    def _read_stdout(self, stream: IO[str]) -> None:
        try:
            for line in stream:
                self._lines.put(line)
        finally:
            self._lines.put(END_OF_OUTPUT)
            stream.close()

    def _read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            self._stderr_tail.append(redact(line.rstrip("\r\n"))[:500])
        stream.close()
