"""Run an implementation under test (an adapter command) and speak protocol v1 to it.

Example::

    with Implementation("reference", reference_command()) as impl:
        observation = impl.check(Credential(token, "https://127.0.0.1:8065/"))
        print(observation.describe())   # test -> 200 ok

What this module guarantees, so a bad adapter cannot take the run down with it:

* **Lazy start, one process per run.** The adapter starts on the first call and
  serves every request after it, in order, one at a time (not thread-safe).
* **Nothing hangs.** Each request has its own deadline (``timeout_s``, counted
  from writing the request, so it includes start-up for the first one). An
  answer that comes late but within it is fine.
* **Infrastructure problems are not verdicts.** A hang, a crash, a line that is
  not a protocol v1 response or an answer to the wrong id raises
  :class:`AdapterFailure`, after which the process is killed (with any children
  it started) and the next call starts a fresh one. Ids keep increasing across
  restarts, so a log never shows the same id twice.
* **No zombies.** :meth:`Implementation.close` (or leaving the ``with`` block)
  closes the adapter's stdin, gives it 5 s to exit, then kills it and reaps it.
* **No secret of the suite's.** The adapter starts with the environment it is given
  (``env``, see :mod:`~mm_conformance.protocol.environment`), not the suite's own.
* **No secrets in output.** Every token sent is registered with
  :mod:`~mm_conformance.redact`; failure messages and the adapter's stderr
  (kept as a 20-line tail and optionally appended to a log file) are redacted.
* **The implementation's own leaks are seen.** Before anything is redacted, its
  answers (error message, body) and its stderr are searched for every token it
  was handed, in every form :mod:`~mm_conformance.protocol.hygiene` knows (plain,
  JSON-escaped, URL-encoded, base64): :attr:`Observation.leaks` and
  :meth:`Implementation.stderr_leaks` say where one was found, never what.

Blank lines on the adapter's stdout are ignored (a stray ``print()`` should not
fail a run); any other line that is not the expected response is a failure.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, NoReturn

from mm_conformance.protocol.environment import adapter_environment
from mm_conformance.protocol.hygiene import patterns
from mm_conformance.protocol.observation import Observation
from mm_conformance.protocol.wire import (
    ApiRequest,
    Credential,
    Outcome,
    ProtocolViolation,
    decode_response,
    encode_request,
)
from mm_conformance.redact import MIN_SECRET_LENGTH, one_line, redact, register_secret

#: Lines of the adapter's stderr kept for failure messages.
STDERR_TAIL_LINES = 20

_EOF = object()  # put on the stdout queue when the adapter's stdout closes


def reference_command() -> str:
    """The command that runs the reference implementation with this interpreter."""
    return f"{shlex.quote(sys.executable)} -m mm_conformance.protocol.reference"


class AdapterFailure(Exception):
    """The adapter itself misbehaved: it could not start, hung, crashed, or broke the protocol.

    The message is one redacted line naming the adapter and the problem, e.g.
    ``adapter "reference" (python -m mm_conformance.protocol.reference) did not answer
    request 7 within 10.0 s``. ``stderr_tail`` holds the adapter's last stderr lines.
    """

    def __init__(self, message: str, *, name: str, stderr_tail: tuple[str, ...] = ()) -> None:
        super().__init__(redact(message))
        self.name = name
        self.stderr_tail = tuple(redact(line) for line in stderr_tail)


class AdapterTimedOut(AdapterFailure):
    """The adapter did not answer within the request's deadline."""



def how_it_exited(code: int) -> str:
    """An adapter's exit code in words: ``exited with code 3``, ``was killed by signal SIGKILL``."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        return f"was killed by signal {signal.Signals(-code).name}"
    except ValueError:
        return f"was killed by signal {-code}"


class Implementation:
    """An implementation under test, reached through its adapter command.

    ``command`` is split like a POSIX shell would split it (:func:`shlex.split`)
    but is **not** run by a shell: quotes work, pipes, redirections and
    ``VAR=value`` prefixes do not (write ``sh -c '…'`` if you need them). The
    adapter starts in the suite's working directory with ``env`` as its whole
    environment (default: :func:`~mm_conformance.protocol.environment.adapter_environment`,
    the baseline a program needs to start, none of the suite's variables), and runs
    in its own process group so that killing it also kills what it started.
    """

    #: Seconds :meth:`close` waits for the adapter to exit after closing its stdin.
    close_grace_s: float = 5.0

    def __init__(self, name: str, command: str, *, timeout_s: float = 10.0, stderr_log: Path | None = None,
                 env: Mapping[str, str] | None = None, declared_timeout: str | None = None) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {timeout_s!r}")
        self.name = name
        self.command = command
        self.env = dict(adapter_environment() if env is None else env)
        self.timeout_s = timeout_s
        #: The timeout the implementation declares (a shipped adapter's client default, or its
        #: configured value), printed beside a finding about time; None: it declares none.
        self.declared_timeout = declared_timeout
        self.stderr_log = stderr_log
        self._ids = itertools.count(1)
        self._process: subprocess.Popen[str] | None = None
        self._stdout: queue.Queue[object] = queue.Queue()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._stderr_thread: threading.Thread | None = None
        self._log_lock = threading.Lock()
        #: What betrays each token handed to the implementation, by form (see hygiene.patterns).
        self._token_patterns: dict[str, dict[str, list]] = {}
        self._stderr_leaks: list[str] = []

    # --- the two operations ----------------------------------------------------

    def check(self, credential: Credential, ca_file: str | None = None, *,
              timeout_s: float | None = None) -> Observation:
        """Ask the implementation to check the credential (operation "test"); ``timeout_s`` as for :meth:`request`."""
        return self._exchange("test", credential, ca_file, None, timeout_s)

    def request(self, credential: Credential, api_request: ApiRequest, ca_file: str | None = None, *,
                timeout_s: float | None = None) -> Observation:
        """Ask the implementation to make an API call with the credential (operation "request").

        ``timeout_s`` replaces the adapter timeout for this one request (a server that
        never answers gives the implementation longer to give up on its own).
        """
        return self._exchange("request", credential, ca_file, api_request, timeout_s)

    def stderr_leaks(self) -> list[str]:
        """Forms in which a token handed to the implementation showed in its stderr since the last call."""
        leaks, self._stderr_leaks = self._stderr_leaks, []
        return leaks

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        """Start the adapter now, not at the first request, so that it loads while the scenario's
        world is built. Raises :class:`AdapterFailure` if it cannot start (the first request would too)."""
        self._ensure_started()

    @property
    def process(self) -> subprocess.Popen[str] | None:
        """The running adapter process, if any (for diagnostics and tests)."""
        return self._process

    def close(self) -> None:
        """Close the adapter's stdin, wait up to :attr:`close_grace_s`, then kill it. Idempotent."""
        process = self._process
        if process is None:
            return
        self._process = None
        try:
            if process.stdin is not None:
                process.stdin.close()
        except OSError:
            pass  # it already exited; its stdin pipe is broken
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=self.close_grace_s)
        self._kill(process)

    def __enter__(self) -> Implementation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Implementation({self.name!r}, {self.command!r}, timeout_s={self.timeout_s!r})"

    # --- internals -------------------------------------------------------------

    def _exchange(
        self, operation: str, credential: Credential, ca_file: str | None, api_request: ApiRequest | None,
        timeout_s: float | None = None,
    ) -> Observation:
        register_secret(credential.access_token)
        self._watch_for(credential.access_token)
        request_id = next(self._ids)
        line = encode_request(request_id, operation, credential, ca_file, api_request)
        process = self._ensure_started()
        try:
            outcome, elapsed_s = self._answer(process, request_id, line, timeout_s or self.timeout_s)
        except AdapterFailure:
            raise
        except BaseException:
            # Interrupted mid-request (Ctrl-C): its late answer must not be read as the next one's.
            self._discard()
            raise
        leaks = []
        if self._betrays(outcome.error_message or ""):
            leaks.append("its error message")
        if outcome.body is not None and self._betrays(json.dumps(outcome.body, ensure_ascii=False)):
            leaks.append("the body it returned")
        return Observation(operation, credential, api_request, ca_file, outcome, elapsed_s, tuple(leaks))

    def _watch_for(self, token: object) -> None:
        # A scenario may hand over a token that is no string at all (the fuzz tests do): nothing to watch.
        if isinstance(token, str) and len(token) >= MIN_SECRET_LENGTH and token not in self._token_patterns:
            self._token_patterns[token] = patterns(token)

    def _betrays(self, text: str) -> str | None:
        """The form in which ``text`` carries a token handed to the implementation, if it does."""
        data = text.encode("utf-8", "surrogatepass")
        for by_form in list(self._token_patterns.values()):
            for form, regexes in by_form.items():
                if any(regex.search(data) for regex in regexes):
                    return form
        return None

    def _answer(self, process: subprocess.Popen[str], request_id: int, line: str,
                timeout_s: float) -> tuple[Outcome, float]:
        started = time.monotonic()
        try:
            assert process.stdin is not None
            process.stdin.write(line + "\n")
            process.stdin.flush()
        except OSError:  # BrokenPipeError: it exited before reading the request
            self._fail_exited(process, request_id)
        deadline = started + timeout_s
        while True:
            try:
                item = self._stdout.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._fail(f"did not answer request {request_id} within {float(timeout_s)} s", AdapterTimedOut)
            if item is _EOF:
                self._fail_exited(process, request_id)
            assert isinstance(item, str)
            if not item.strip():
                continue
            try:
                answered_id, outcome = decode_response(item)
            except ProtocolViolation as violation:
                self._fail(f"printed {violation} (expected the answer to request {request_id})")
            if answered_id != request_id:
                self._fail(f"answered id {answered_id} to request {request_id}")
            return outcome, time.monotonic() - started

    def _ensure_started(self) -> subprocess.Popen[str]:
        if self._process is not None:
            return self._process
        try:
            argv = shlex.split(self.command)
        except ValueError as e:
            raise AdapterFailure(f"{self._who()} is not a valid command line: {e}", name=self.name) from None
        if not argv:
            raise AdapterFailure(f"{self._who()} is an empty command", name=self.name)
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",  # a stray non-UTF-8 byte must not kill the reader threads
                bufsize=1,
                env=self.env,
                start_new_session=os.name == "posix",
            )
        except OSError as e:
            raise AdapterFailure(f"{self._who()} could not be started: {e}", name=self.name) from None
        # Fresh queue and tail per process: nothing from a killed adapter leaks into the next one.
        self._stdout = queue.Queue()
        self._stderr_tail = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._log(f"=== adapter {self.name!r} started (pid {process.pid}): {self.command}")
        assert process.stdout is not None and process.stderr is not None
        threading.Thread(
            target=_pump_stdout, args=(process.stdout, self._stdout), name=f"{self.name}-stdout", daemon=True
        ).start()
        self._stderr_thread = threading.Thread(
            target=self._pump_stderr, args=(process.stderr, self._stderr_tail), name=f"{self.name}-stderr", daemon=True
        )
        self._stderr_thread.start()
        self._process = process
        return process

    def _pump_stderr(self, stream: IO[str], tail: collections.deque[str]) -> None:
        for raw in stream:
            form = self._betrays(raw)
            if form:
                self._stderr_leaks.append(form)
            line = redact(raw.rstrip("\r\n"))
            tail.append(line[:500])
            self._log(line)
        stream.close()

    def _log(self, line: str) -> None:
        if self.stderr_log is None:
            return
        with self._log_lock, open(self.stderr_log, "a", encoding="utf-8") as log:
            log.write(redact(line) + "\n")

    def _who(self) -> str:
        return f'adapter "{self.name}" ({self.command})'

    def _fail_exited(self, process: subprocess.Popen[str], request_id: int) -> NoReturn:
        try:
            code = process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self._fail(f"closed its stdout before answering request {request_id}")
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=1.0)  # let the last words arrive
        how = how_it_exited(code)
        last = " | ".join(line for line in list(self._stderr_tail)[-3:] if line.strip())
        stderr = f"; last stderr: {one_line(last)}" if last else "; no stderr output"
        self._fail(f"{how} before answering request {request_id}{stderr}")

    def _fail(self, problem: str, kind: type[AdapterFailure] = AdapterFailure) -> NoReturn:
        """Kill the adapter and raise AdapterFailure; the next call starts a fresh one."""
        self._discard()
        raise kind(f"{self._who()} {problem}", name=self.name, stderr_tail=tuple(self._stderr_tail))

    def _discard(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            self._kill(process)

    def _kill(self, process: subprocess.Popen[str]) -> None:
        # The whole group, even when the adapter itself already exited: what it started goes too.
        # (Linux does not reuse a pid while a process group of that id still has members.)
        try:
            if os.name == "posix":
                os.killpg(process.pid, signal.SIGKILL)
            elif process.poll() is None:
                process.kill()
        except (ProcessLookupError, PermissionError):
            pass  # already gone
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5.0)  # reap it: no zombie
        try:
            if process.stdin is not None:
                process.stdin.close()
        except OSError:
            pass
        # The reader threads close stdout and stderr when they reach the end; closing
        # them here, under a thread blocked reading them, is not safe.
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=1.0)


def _pump_stdout(stream: IO[str], lines: queue.Queue[object]) -> None:
    try:
        for line in stream:
            lines.put(line)
    finally:
        lines.put(_EOF)
        stream.close()


