"""Protocol v1: how the suite talks to an implementation under test.

An implementation under test is any program (the *adapter*) that reads one JSON
request per line on its stdin and writes one JSON response per line on its
stdout, in order. docs/protocol.md is the implementer's guide; this module is
the codec both sides can share when they are written in Python.

Two things travel:

* a **request**: "check this credential" (``operation`` "test") or "make this
  API call with it" (``operation`` "request");
* a **response**: what the implementation observed, as an :class:`Outcome`.

Line framing: the ``encode_*`` functions return one line of JSON **without** a
trailing newline (the writer adds exactly one ``"\\n"``); the ``decode_*``
functions accept a line with or without its line ending. Encoded lines are pure
ASCII (non-ASCII characters are ``\\u`` escaped), so an adapter never has to
guess an encoding.

Decoders ignore fields they don't know: adding an optional field is not a new
protocol version, changing the meaning of an existing one is.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeGuard

from mm_conformance.protocol import schema

PROTOCOL_VERSION = 1

#: The operations a request can ask for.
OPERATIONS = ("test", "request")


class ErrorKind(str, Enum):  # noqa: UP042  StrEnum would change str(kind), which messages and reports print
    """Why an implementation's call did not succeed. Each kind has one meaning."""

    AUTH = "auth"  #: the server answered 401 or 403
    HTTP = "http"  #: the server answered any other non-2xx status (3xx included)
    TLS = "tls"  #: the TLS handshake failed (certificate not trusted, wrong host, not TLS)
    NETWORK = "network"  #: no HTTP answer for another reason (refused, reset, DNS)
    TIMEOUT = "timeout"  #: the server took too long to connect or answer
    CONFIG = "config"  #: the credential's values are unusable, so nothing was sent


class ProtocolViolation(ValueError):
    """A line that does not follow protocol v1. The message is one human-readable line.

    ``id`` is the request or response id when the line had a usable one, so an
    adapter can still answer a malformed request with a ``config`` error.
    """

    def __init__(self, message: str, *, id: int | None = None) -> None:
        super().__init__(message)
        self.id = id


@dataclass(frozen=True)
class Credential:
    """The three values of n8n's Mattermost credential.

    Values are carried as given, without validation: a conformance scenario may
    deliberately send a malformed credential (a base URL without scheme, even a
    ``null``), and judging it is the implementation's job. The ``repr`` never
    shows the token, so a credential can be logged safely.
    """

    access_token: str
    base_url: str
    allow_unauthorized_certs: bool = False

    def __repr__(self) -> str:
        # An empty or non-string token is not a secret, and seeing it explains a failure.
        secret = isinstance(self.access_token, str) and self.access_token != ""
        token = "[redacted]" if secret else repr(self.access_token)
        return (
            f"Credential(access_token={token}, base_url={self.base_url!r}, "
            f"allow_unauthorized_certs={self.allow_unauthorized_certs!r})"
        )

    def to_wire(self) -> dict[str, object]:
        """The credential as it travels: n8n's own field names."""
        return {
            "accessToken": self.access_token,
            "baseUrl": self.base_url,
            "allowUnauthorizedCerts": self.allow_unauthorized_certs,
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> Credential:
        """Read a wire credential the schema accepted. ``allowUnauthorizedCerts`` defaults to false, as in n8n."""
        return cls(
            access_token=d["accessToken"],
            base_url=d["baseUrl"],
            allow_unauthorized_certs=d.get("allowUnauthorizedCerts", False),
        )


@dataclass(frozen=True)
class ApiRequest:
    """An API call to make through the credential.

    ``endpoint`` is relative to ``<base URL>/api/v4/`` (``"users/me"``);
    ``query`` becomes the query string; ``body``, when not ``None``, is sent as JSON.
    """

    method: str
    endpoint: str
    query: dict[str, str] = field(default_factory=dict)
    body: object = None

    def to_wire(self) -> dict[str, object]:
        return {"method": self.method, "endpoint": self.endpoint, "query": dict(self.query), "body": self.body}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> ApiRequest:
        """Read a wire request the schema accepted; a missing or null ``query`` is empty."""
        return cls(method=d["method"], endpoint=d["endpoint"], query=dict(d.get("query") or {}), body=d.get("body"))


@dataclass(frozen=True)
class Outcome:
    """What an implementation answered.

    ``ok`` is true exactly when there is no error. ``status`` is the HTTP status
    received, or ``None`` when no HTTP response was received (``tls``,
    ``network``, ``timeout``, ``config``). ``body`` is the parsed JSON body, or
    ``None``. Build one with :meth:`success` or :meth:`failure`.
    """

    ok: bool
    status: int | None
    body: object
    error_kind: ErrorKind | None
    error_message: str | None

    def __post_init__(self) -> None:
        # Catch inconsistent outcomes where they are made, not where they are read.
        if self.ok != (self.error_kind is None) or (self.error_kind is None) != (self.error_message is None):
            raise ValueError(f"inconsistent Outcome: ok={self.ok!r} with error_kind={self.error_kind!r}")
        if self.error_kind is not None and not isinstance(self.error_kind, ErrorKind):
            raise ValueError(f"error_kind must be an ErrorKind, not {self.error_kind!r}")

    @classmethod
    def success(cls, status: int, body: object = None) -> Outcome:
        return cls(ok=True, status=status, body=body, error_kind=None, error_message=None)

    @classmethod
    def failure(cls, kind: ErrorKind, message: str, *, status: int | None = None, body: object = None) -> Outcome:
        return cls(ok=False, status=status, body=body, error_kind=ErrorKind(kind), error_message=message)


# --- requests -----------------------------------------------------------------


def encode_request(
    id: int,
    operation: str,
    credential: Credential,
    ca_file: str | None,
    request: ApiRequest | None = None,
) -> str:
    """One request line (no trailing newline). ``request`` is required exactly for "request"."""
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}; expected one of {', '.join(OPERATIONS)}")
    if (operation == "request") != (request is not None):
        raise ValueError('an ApiRequest is required for operation "request" and only for it')
    message: dict[str, object] = {
        "id": id,
        "protocol": PROTOCOL_VERSION,
        "operation": operation,
        "credential": credential.to_wire(),
    }
    if request is not None:
        message["request"] = request.to_wire()
    message["caFile"] = ca_file
    return json.dumps(message)


def decode_request(line: str) -> tuple[int, str, Credential, str | None, ApiRequest | None]:
    """Read a request line: ``(id, operation, credential, ca_file, request)``.

    Raises :class:`ProtocolViolation`, with ``.id`` set when the line had an id,
    for anything an adapter cannot act on (what the schema, :mod:`.schema`, refuses),
    including a protocol version other than :data:`PROTOCOL_VERSION` (answer those
    with a ``config`` error).
    """
    message = _json_object(line, "request")
    if not _is_int(message.get("id")):
        raise ProtocolViolation('a request without an integer "id"')
    id = int(message["id"])
    error = schema.first_problem(message, "request")
    if error is not None:
        problem = schema.describe(error, "request")
        if schema.is_about_version(error):
            problem = f"unsupported protocol version {message.get('protocol')!r} (this side speaks {PROTOCOL_VERSION})"
        raise ProtocolViolation(f"request {id}: {problem}", id=id)
    operation = str(message["operation"])
    credential = Credential.from_wire(message["credential"])
    request = ApiRequest.from_wire(message["request"]) if operation == "request" else None
    return id, operation, credential, message.get("caFile"), request


# --- responses ----------------------------------------------------------------


def encode_response(id: int, outcome: Outcome) -> str:
    """One response line (no trailing newline)."""
    error = None
    if outcome.error_kind is not None:
        error = {"kind": outcome.error_kind.value, "message": outcome.error_message}
    return json.dumps({"id": id, "ok": outcome.ok, "status": outcome.status, "body": outcome.body, "error": error})


def decode_response(line: str) -> tuple[int, Outcome]:
    """Read a response line: ``(id, outcome)``.

    Raises :class:`ProtocolViolation` for a line the schema (:mod:`.schema`) refuses,
    whose message reads as "<what the line is>: <excerpt>", e.g. ``a line that is not
    JSON: 'hello'`` or ``a response without "status": '{"id": 1, "ok": true}'``. A
    missing ``body`` reads as null; unknown fields are ignored.
    """
    message = _json_object(line, "response")
    problem = schema.problem_in(message, "response")
    id = message.get("id")
    if problem is not None:
        raise ProtocolViolation(f"a response {problem}: {_excerpt(line)}", id=int(id) if _is_int(id) else None)
    # What the schema accepted: integers (4.0 is one, read as 4), a boolean, an error object or null.
    error, status = message["error"], message["status"]
    outcome = Outcome(
        ok=message["ok"],
        status=None if status is None else int(status),
        body=message.get("body"),
        error_kind=None if error is None else ErrorKind(error["kind"]),
        error_message=None if error is None else error["message"],
    )
    return int(message["id"]), outcome


# --- helpers ------------------------------------------------------------------


def _json_object(line: str, what: str) -> Mapping[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:  # json.JSONDecodeError, and UnicodeDecodeError for bytes
        raise ProtocolViolation(f"a line that is not JSON: {_excerpt(line)}") from None
    except RecursionError:  # "[[[[…" nested deeper than the parser's stack
        raise ProtocolViolation(f"a line nested too deeply to parse: {_excerpt(line)}") from None
    if not isinstance(value, dict):
        raise ProtocolViolation(f"a {what} that is not a JSON object: {_excerpt(line)}")
    return value


def _is_int(value: object) -> TypeGuard[int | float]:
    """An integer as JSON Schema counts them: 4 and 4.0, never true or false (Python's bools are ints)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _excerpt(line: str, limit: int = 120) -> str:
    text = line.rstrip("\r\n")
    return repr(text if len(text) <= limit else text[:limit] + "…")


# --- serving the protocol (for adapters written in Python) ----------------------------------

Call = Callable[[str, Credential, "str | None", "ApiRequest | None"], Outcome]


def serve(call: Call, log: logging.Logger) -> int:
    """Answer protocol v1 requests from stdin on stdout with ``call`` until stdin closes.

    A line that is not a usable request is answered with a ``config`` error when it
    has an id, else logged and skipped. A stray ``print()`` lands in the log
    (stderr), never in the protocol stream. Tokens are registered for redaction
    before anything is logged.
    """
    from mm_conformance.redact import one_line, register_secret  # the codec itself needs no secrets

    # The ignores: typeshed's TextIO has no reconfigure; a process's own stdin and stdout are TextIOWrappers.
    sys.stdin.reconfigure(encoding="utf-8", errors="replace")  # type: ignore[union-attr]  # a TextIOWrapper
    out = sys.stdout
    out.reconfigure(encoding="utf-8")  # type: ignore[union-attr]  # a TextIOWrapper
    sys.stdout = sys.stderr
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                request_id, operation, credential, ca_file, request = decode_request(line)
            except ProtocolViolation as e:
                if e.id is None:
                    log.warning("skipping a line that is not a usable request: %s", e)
                    continue
                request_id, target = e.id, "unusable request"
                outcome = Outcome.failure(ErrorKind.CONFIG, one_line(e))
            else:
                register_secret(credential.access_token)
                outcome = call(operation, credential, ca_file, request)
                target = operation if request is None else f"{request.method} {request.endpoint}"
            kind = outcome.error_kind.value if outcome.error_kind is not None else None  # set on every failure
            result = "ok" if outcome.ok else f"{kind}: {outcome.error_message}"
            log.info("request %s: %s -> %s %s", request_id, target, outcome.status or "-", result)
            out.write(encode_response(request_id, outcome) + "\n")
            out.flush()
    finally:
        sys.stdout = out
    return 0
