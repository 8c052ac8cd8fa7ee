"""``mm-conformance adapters check``: does a command speak protocol v1? In seconds, without Mattermost.

An adapter author's first question is not "does my credential conform" (a run on real servers
answers that) but "does my adapter speak the protocol at all". :func:`check_adapter` answers it
the way Bowtie's ``smoke`` does for JSON Schema implementations: it starts the command, asks it
a few things over protocol v1 and judges each :data:`CHECKS` entry in one line.

What the adapter is pointed at is made by the check itself on 127.0.0.1
(:mod:`.loopback`): HTTP servers answering 200, 401, 403 and 404 with Mattermost's bodies, and
a port that refuses connections. Nothing else is reached, and the token handed over is made up
on the spot (and redacted from every line the check prints).

The requests go out in this order, on one process, as in a run:

1. ``test`` and ``request`` against the 200 server (ids from :data:`FIRST_ID`, not 1: a run's ids
   keep increasing across adapter restarts, so an adapter that counts its own is caught);
2. a ``request`` to the refused port, a ``test`` against 401, ``request``\\ s against 403 and 404;
3. a line that is not JSON (no answer expected), a request of protocol version 2 (a ``config``
   error expected), then an ordinary request, which must still be answered;
4. stdin closed: the adapter must exit within the grace a run gives it before killing it.

An adapter that hangs, exits or breaks the protocol ends the conversation there, as it would a
run; the checks that needed the rest say they did not run.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shlex
import string
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from mm_conformance.errors import UsageError
from mm_conformance.protocol.check_session import END_OF_OUTPUT, AdapterSession
from mm_conformance.protocol.environment import adapter_environment
from mm_conformance.protocol.loopback import A_USER, MATTERMOST_ERRORS, FixedAnswer, refused_port
from mm_conformance.protocol.runner import Implementation
from mm_conformance.protocol.wire import (
    ApiRequest,
    Credential,
    ErrorKind,
    Outcome,
    ProtocolViolation,
    decode_response,
    encode_request,
)
from mm_conformance.redact import one_line, register_secret

STARTS = "starts"
OPERATIONS = "answers each operation with its id"
FLUSHES = "flushes each answer"
ERROR_KINDS = "uses the error kinds"
BAD_REQUEST = "survives a bad request"
EXITS = "exits when stdin closes"
#: Every check, in the order they are reported.
CHECKS = (STARTS, FLUSHES, OPERATIONS, ERROR_KINDS, BAD_REQUEST, EXITS)

#: The first request id the check sends.
FIRST_ID = 101

#: How much longer than the others the first answer may take: it includes the adapter's start-up,
#: which a run overlaps with building the scenario's world (n8n loads in 2–3 s, 10 s on a loaded machine).
STARTUP_S = 10.0

GET_ME = ApiRequest("GET", "users/me")
A_POST = ApiRequest("POST", "posts", body={"channel_id": "adaptercheckchannel0000000", "message": "adapter check"})


@dataclass(frozen=True)
class Verdict:
    """One check's result: ``passed`` is None when it could not run (an earlier check stopped the
    adapter); ``detail`` is one line saying what was seen, redacted."""

    check: str
    passed: bool | None
    detail: str


class _Stopped(Exception):
    """The conversation cannot go on; the message (one line) says why, ``silent`` when the adapter
    simply did not answer in time (it may still be running, or only buffering its answer)."""

    def __init__(self, message: str, *, silent: bool = False) -> None:
        super().__init__(message)
        self.silent = silent


@dataclass
class _Conversation:
    """The adapter, the loopback endpoints it is pointed at, and the ids and token it is sent."""

    adapter: AdapterSession
    servers: dict[int, FixedAnswer]
    refused_url: str
    token: str
    timeout_s: float
    #: More time for the first answer, which includes the adapter's start-up.
    startup_s: float = 0.0
    next_id: int = FIRST_ID
    #: When the adapter printed its first line (an answer or not): it started.
    first_line_at: float | None = None
    #: What each call the check judges was answered: (what happened, the answer, the status the
    #: server answered or None for no HTTP answer, whether a request reached the server or None).
    observed: list[tuple[str, Outcome, int | None, bool | None]] = field(default_factory=list)

    def credential(self, base_url: str) -> Credential:
        return Credential(self.token, base_url)

    def send(self, operation: str, base_url: str, request: ApiRequest | None = None) -> int:
        """Write one request line; its id."""
        request_id, self.next_id = self.next_id, self.next_id + 1
        self._write(encode_request(request_id, operation, self.credential(base_url), None, request), request_id)
        return request_id

    def send_message(self, message: dict[str, object]) -> int:
        """Write a request the suite would never write (``message`` with the next id); its id."""
        request_id, self.next_id = self.next_id, self.next_id + 1
        self._write(json.dumps({**message, "id": request_id}), request_id)
        return request_id

    def send_line(self, line: str) -> None:
        """Write a line as it is (one that is not a request at all)."""
        self._write(line, None)

    def answer(self, request_id: int, what: str) -> Outcome:
        """The adapter's answer to ``request_id``, checked against the protocol (the schema) and its id."""
        first = self.first_line_at is None
        timeout_s = self.timeout_s + (self.startup_s if first else 0.0)
        line = self.adapter.next_line(timeout_s)
        if line is None:
            within = f"{timeout_s:g} s, its start-up included" if first else f"{timeout_s:g} s"
            raise _Stopped(f"did not answer request {request_id} ({what}) within {within}", silent=True)
        if line is END_OF_OUTPUT:
            raise _Stopped(self.adapter.how_it_ended(f"before answering request {request_id} ({what})"))
        if self.first_line_at is None:
            self.first_line_at = time.monotonic()
        try:
            answered_id, outcome = decode_response(line)
        except ProtocolViolation as violation:
            raise _Stopped(f"printed {violation} (expected the answer to request {request_id}, {what})") from None
        if answered_id != request_id:
            raise _Stopped(f"answered id {answered_id} to request {request_id} ({what})")
        return outcome

    def ask(self, operation: str, base_url: str, what: str, request: ApiRequest | None = None) -> Outcome:
        return self.answer(self.send(operation, base_url, request), what)

    def observe(self, status: int | None, operation: str, request: ApiRequest | None = None) -> Outcome:
        """Ask for a call to the server answering ``status`` (None: the refused port), and keep the answer."""
        server = self.servers.get(status or 0)
        asked = server.requests if server else 0
        call = f'a "{operation}"' if request is None else f"{request.method} {request.endpoint}"
        what = f"{call}, the server answers {status}" if status else f"{call} to a port that refuses connections"
        outcome = self.ask(operation, server.base_url if server else self.refused_url, what, request)
        self.observed.append((what, outcome, status, None if server is None else server.requests > asked))
        return outcome

    def _write(self, line: str, request_id: int | None) -> None:
        if not self.adapter.send(line):
            about = f"request {request_id}" if request_id is not None else "a line"
            raise _Stopped(self.adapter.how_it_ended(f"before it could be sent {about}"))


def check_adapter(command: str, *, env: Mapping[str, str] | None = None, timeout_s: float = 10.0,
                  startup_s: float = STARTUP_S, exit_grace_s: float = Implementation.close_grace_s) -> list[Verdict]:
    """Judge whether ``command`` speaks protocol v1: one :class:`Verdict` per entry of :data:`CHECKS`.

    ``command`` is split as ``--impl`` splits it (no shell); the adapter gets ``env`` as its whole
    environment (default: the baseline a run gives it). Each answer may take ``timeout_s``, the
    first ``startup_s`` more; after stdin closes the adapter has ``exit_grace_s`` to exit.
    UsageError (one line) for a command line that cannot be split or is empty.
    """
    try:
        argv = shlex.split(command)
    except ValueError as error:
        raise UsageError(f"{command!r} is not a valid command line: {error}") from None
    if not argv:
        raise UsageError("the adapter command is empty")
    token = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(26))  # as Mattermost's
    register_secret(token)
    verdicts: dict[str, Verdict] = {}
    with contextlib.ExitStack() as stack:
        refused_url = stack.enter_context(refused_port())
        servers = {status: stack.enter_context(FixedAnswer(status, body))
                   for status, body in ((200, A_USER), *MATTERMOST_ERRORS.items())}
        try:
            adapter = AdapterSession(argv, adapter_environment() if env is None else env)
        except OSError as error:
            verdicts[STARTS] = Verdict(STARTS, False, one_line(f"could not be started: {error}"))
            return _completed(verdicts, "the adapter did not start")
        stack.callback(adapter.kill)
        talk = _Conversation(adapter, servers, refused_url, token, timeout_s, startup_s)
        for check, run in ((OPERATIONS, _operations), (ERROR_KINDS, _error_kinds), (BAD_REQUEST, _bad_request)):
            try:
                verdicts[check] = Verdict(check, *run(talk))
            except _Stopped as stopped:
                verdicts.update(_stopped_at(talk, check, stopped, exit_grace_s))
                break
        else:
            verdicts.update(_exit(talk, exit_grace_s))
        if talk.first_line_at is not None:  # unless a verdict says otherwise: it started, and it flushes
            verdicts.setdefault(STARTS, Verdict(STARTS, True, _started(talk.first_line_at - adapter.started_at)))
            verdicts.setdefault(FLUSHES, Verdict(FLUSHES, True, "what it prints arrives while its stdin is open"))
    return _completed(verdicts, "the adapter stopped before it")


def _started(after_s: float) -> str:
    return f"printed its first line {after_s:.2f} s after it started (protocol v1 has no greeting: an answer)"


def _stopped_at(talk: _Conversation, check: str, stopped: _Stopped, grace_s: float) -> Iterator[tuple[str, Verdict]]:
    """The verdicts when the conversation stopped during ``check``: on "starts" when the adapter never
    printed a line, else on ``check``; then, whether an answer was only buffered, and the exit."""
    failed = check if talk.first_line_at is not None else STARTS
    yield failed, Verdict(failed, False, one_line(str(stopped)))
    if stopped.silent:
        yield from _after_silence(talk, grace_s)
    else:
        yield from _exit(talk, grace_s)


def _operations(talk: _Conversation) -> tuple[bool, str]:
    """Both operations, against the 200 server, each answered with its id in a line the schema accepts."""
    talk.observe(200, "test")
    talk.observe(200, "request", GET_ME)
    return True, (f'a "test" and a "request", answered with their ids ({FIRST_ID}, {FIRST_ID + 1}) '
                  "in lines the protocol-v1 schema accepts")


def _error_kinds(talk: _Conversation) -> tuple[bool, str]:
    """Each thing that can happen to a call, and the kind (or success) the protocol gives it."""
    talk.observe(None, "request", A_POST)  # a POST: clients retry a refused GET, some for seconds
    talk.observe(401, "test")
    talk.observe(403, "request", A_POST)
    talk.observe(404, "request", GET_ME)
    wrong = [problem for what, outcome, status, reached in talk.observed
             if (problem := _misreported(what, outcome, status, reached))]
    if wrong:
        more = f"; and {len(wrong) - 3} more" if len(wrong) > 3 else ""
        return False, "; ".join(wrong[:3]) + more
    return True, ("200 → ok, a refused connection → network, 401 and 403 → auth, 404 → http, "
                  "each with its status and the server's JSON body")


def _misreported(what: str, outcome: Outcome, status: int | None, reached: bool | None) -> str | None:
    """What is wrong in ``outcome`` for ``what`` happened (the server answering ``status``, or None:
    no HTTP answer), or None when it says so with the protocol's words."""
    if reached is False:
        return f"{what}: answered without any request reaching the server"
    expected = _expected_kind(status)
    said = "ok" if outcome.error_kind is None else f'"{outcome.error_kind.value}"'
    wanted = "ok" if expected is None else f'"{expected.value}"'
    if outcome.error_kind != expected:
        return f"{what}: answered {said} (status {outcome.status}), not {wanted}"
    if outcome.status != status:
        return f"{what}: answered with status {outcome.status}, not {status}"
    body = A_USER if status == 200 else MATTERMOST_ERRORS.get(status or 0)
    if outcome.body != body:
        return f"{what}: answered with body {one_line(json.dumps(outcome.body), 60)}, not the server's JSON body"
    return None


def _expected_kind(status: int | None) -> ErrorKind | None:
    if status is None:
        return ErrorKind.NETWORK
    if status in (401, 403):
        return ErrorKind.AUTH
    return None if 200 <= status < 300 else ErrorKind.HTTP


def _bad_request(talk: _Conversation) -> tuple[bool, str]:
    """A line without a readable id is skipped; one with an id that cannot be used is answered
    ``config``; the next request is answered as usual."""
    ok_url = talk.servers[200].base_url
    talk.send_line("this line is not JSON")
    future = json.loads(encode_request(0, "test", talk.credential(ok_url), None))
    version_id = talk.send_message({**future, "protocol": 2})
    context = "after a line that is not JSON"
    try:
        other_version = talk.answer(version_id, "a request of protocol version 2")
        talk.answer(talk.send("test", ok_url), 'a "test" after them')
    except _Stopped as stopped:
        raise _Stopped(f"{context}: {stopped}", silent=stopped.silent) from None
    if other_version.error_kind is not ErrorKind.CONFIG:
        said = "ok" if other_version.error_kind is None else f'"{other_version.error_kind.value}"'
        return False, f'answered a request of protocol version 2 with {said}, not "config" (docs/protocol.md, ' \
                      "Versioning)"
    return True, 'skipped a line that is not JSON, answered a request of protocol version 2 with "config", ' \
                 "then answered the next request"


def _after_silence(talk: _Conversation, grace_s: float) -> Iterator[tuple[str, Verdict]]:
    """The adapter did not answer in time: close its stdin, as a run would. If nothing it printed has
    arrived yet, an answer that arrives now was only buffered: it started, but the flush check fails.
    Either way, the exit check is judged on the same wait."""
    closed = talk.adapter.close_stdin()
    if talk.first_line_at is None:
        late = talk.adapter.next_line(grace_s)
        if late is not None and late is not END_OF_OUTPUT:
            yield STARTS, Verdict(STARTS, True, "its first answer arrived, but only when its stdin closed (see below)")
            yield FLUSHES, Verdict(FLUSHES, False, "an answer arrived only when its stdin closed: end each answer "
                                                   "line with a newline and flush stdout after it")
    yield from _exit(talk, max(0.0, grace_s - (time.monotonic() - closed)), closed)


def _exit(talk: _Conversation, grace_s: float, closed: float | None = None) -> Iterator[tuple[str, Verdict]]:
    """Close stdin (unless done at ``closed``) and give the adapter ``grace_s`` to exit."""
    if talk.adapter.exit_code is not None and closed is None:
        yield EXITS, Verdict(EXITS, None, "not run: the adapter had exited already")
        return
    closed = talk.adapter.close_stdin() if closed is None else closed
    code = talk.adapter.wait_for_exit(grace_s)
    waited = time.monotonic() - closed
    if code is None:
        yield EXITS, Verdict(EXITS, False, f"still running {waited:.1f} s after its stdin closed "
                                           "(a run then kills it, and every process it started)")
    else:
        yield EXITS, Verdict(EXITS, True, f"exited with code {code}, {waited:.2f} s after its stdin closed")


def _completed(verdicts: dict[str, Verdict], why_not_run: str) -> list[Verdict]:
    """Every check in order; one that has no verdict did not run, for the reason given."""
    return [verdicts.get(check) or Verdict(check, None, f"not run: {why_not_run}") for check in CHECKS]
