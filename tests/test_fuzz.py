"""Fuzzing the protocol codec and the reference implementation (hypothesis).

Three layers, each with the property the suite relies on:

1. the protocol codec: any line either decodes or is a one-line ProtocolViolation;
2. the reference in process, on a fake network: ``reference.call`` never raises, refuses
   a credential before connecting anywhere, sends the token only to the base URL's host
   and never echoes it in its error message;
3. the reference over the real protocol, as a subprocess: any credential gets an answer.

NETWORK: only 127.0.0.1 / [::1] may ever be contacted, whatever the fuzzer draws.
Each test's docstring says why that holds by construction. Examples are derandomized
(the same inputs on every run), so a failure is reproducible as is.
"""

from __future__ import annotations

import contextlib
import errno
import json
import shlex
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpcore
import pytest
from hypothesis import currently_in_test_context, HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from mm_conformance.protocol import reference
from mm_conformance.protocol.hygiene import registered_secrets
from mm_conformance.protocol.runner import Implementation, reference_command
from mm_conformance.protocol.wire import (
    OPERATIONS,
    ApiRequest,
    Credential,
    ErrorKind,
    Outcome,
    ProtocolViolation,
    decode_request,
    decode_response,
    encode_response,
)
from mm_conformance.redact import clear_secrets, register_secret

FUZZ = settings(deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

@pytest.fixture(scope="module", autouse=True)
def _registry_as_it_was() -> Iterator[None]:
    """Forget the fuzzed tokens Implementation registered: one of 8 spaces would blank every later test's output."""
    before = registered_secrets()
    yield
    clear_secrets()
    for secret in before:
        register_secret(secret)


# --- strategies: JSON and text -------------------------------------------------------

#: Any character, lone surrogates included (json.loads produces them from "\ud800").
ANY_CHAR = st.characters(exclude_categories=()) | st.characters(categories=["Cs"])
ANY_TEXT = st.text(ANY_CHAR, max_size=30)

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.integers(-(2**70), 2**70)
    | st.floats()  # NaN and ±Infinity included: json.loads accepts them on the wire
    | ANY_TEXT
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)


def _optional_keys(**keys: st.SearchStrategy[object]) -> st.SearchStrategy[dict[str, object]]:
    """Objects that may have any of ``keys``, each with a plausible or an arbitrary value."""
    return st.fixed_dictionaries({}, optional={k: v | json_values for k, v in keys.items()})


wire_credentials = _optional_keys(accessToken=ANY_TEXT, baseUrl=ANY_TEXT, allowUnauthorizedCerts=st.booleans())
wire_requests = _optional_keys(
    method=st.sampled_from(["GET", "POST", ""]), endpoint=ANY_TEXT,
    query=st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=2), body=json_values,
)
#: Objects shaped like requests and responses, every field optional and possibly of the wrong type.
protocol_objects = _optional_keys(
    id=st.integers(), protocol=st.just(1), operation=st.sampled_from(OPERATIONS), credential=wire_credentials,
    request=wire_requests, caFile=ANY_TEXT | st.none(), ok=st.booleans(), status=st.integers(0, 700) | st.none(),
    error=_optional_keys(kind=st.sampled_from([k.value for k in ErrorKind]), message=ANY_TEXT) | st.none(),
    body=json_values,
)


def _json_line(value: object, ascii_only: bool) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)


protocol_lines = st.one_of(
    st.text(ANY_CHAR),
    st.builds(_json_line, json_values, st.booleans()),
    st.builds(_json_line, protocol_objects, st.booleans()),
    # a valid line, damaged: cut short, or with a character inserted
    st.builds(lambda obj, cut: _json_line(obj, True)[:cut], protocol_objects, st.integers(0, 200)),
    st.builds(lambda obj, at, c: (lambda s: s[:at] + c + s[at:])(_json_line(obj, True)),
              protocol_objects, st.integers(0, 200), ANY_CHAR),
).flatmap(lambda line: st.sampled_from([line, line + "\n", line + "\r\n"]))


# --- 1. the protocol codec ---------------------------------------------------------------


def _decodes_or_violates(decode, line: str) -> object:
    """``decode(line)``, or None when it raised a proper ProtocolViolation; anything else fails the test."""
    try:
        return decode(line)
    except ProtocolViolation as violation:
        message = str(violation)
        assert message, "a ProtocolViolation without a message"
        assert len(message.splitlines()) == 1, f"a message of several lines: {message!r}"
        assert violation.id is None or (isinstance(violation.id, int) and not isinstance(violation.id, bool))
        return None


@settings(FUZZ, max_examples=400)
@given(line=protocol_lines)
def test_any_line_decodes_or_is_a_one_line_protocol_violation(line: str) -> None:
    """Pure codec, no I/O at all: nothing here can reach the network."""
    request = _decodes_or_violates(decode_request, line)
    if request is not None:
        id, operation, credential, ca_file, api_request = request
        assert isinstance(id, int) and operation in OPERATIONS and isinstance(credential, Credential)
        assert ca_file is None or isinstance(ca_file, str)
        assert (api_request is not None) == (operation == "request")
    response = _decodes_or_violates(decode_response, line)
    if response is not None:
        id, outcome = response
        assert isinstance(id, int) and isinstance(outcome, Outcome)
        assert outcome.status is None or 100 <= outcome.status <= 599


@pytest.mark.parametrize("line", [
    pytest.param("[" * 100_000, id="deeply nested array"),
    pytest.param('{"id": 1, "body": ' + "[" * 100_000 + "]" * 100_000 + "}", id="deeply nested body"),
])
def test_deeply_nested_json_is_a_protocol_violation(line: str) -> None:
    """Pure codec, no I/O. An adapter printing this must be an AdapterFailure, not a RecursionError."""
    _decodes_or_violates(decode_request, line)
    _decodes_or_violates(decode_response, line)


finite_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)
outcomes = st.one_of(
    st.builds(Outcome.success, st.integers(100, 599), finite_json),
    st.builds(lambda kind, message, status, body: Outcome.failure(kind, message, status=status, body=body),
              st.sampled_from(ErrorKind), st.text(ANY_CHAR), st.none() | st.integers(100, 599), finite_json),
)


@settings(FUZZ, max_examples=300)
@given(id=st.integers(), outcome=outcomes)
def test_response_round_trip(id: int, outcome: Outcome) -> None:
    """Pure codec, no I/O."""
    line = encode_response(id, outcome)
    assert line.isascii() and "\n" not in line
    assert decode_response(line) == (id, outcome)
    assert decode_response(line + "\r\n") == (id, outcome)


# --- strategies: credentials ------------------------------------------------------------

def _random_case(word: str, flips: list[bool]) -> str:
    return "".join(c.upper() if flip else c for c, flip in zip(word, flips + [False] * len(word)))


def weighted(*choices: tuple[int, st.SearchStrategy[object]]) -> st.SearchStrategy[object]:
    """One of the strategies, each drawn with its weight (``st.one_of`` flattens nested ones into equal leaves)."""
    return st.sampled_from([strategy for weight, strategy in choices for _ in range(weight)]).flatmap(lambda s: s)


def mostly(usual: st.SearchStrategy[object], odd: st.SearchStrategy[object], odds: int = 5) -> st.SearchStrategy:
    """``usual`` ``odds`` times in ``odds + 1``: most URLs must get far enough to be sent."""
    return weighted((odds, usual), (1, odd))


schemes = mostly(
    st.builds(_random_case, st.sampled_from(["http", "https"]), st.lists(st.booleans(), max_size=5)),
    st.sampled_from(["ftp", "ws", "file", "javascript", "h", "", "1http", "http+unix"]),
)
separators = mostly(st.just("://"), st.sampled_from([":/", ":", "//", ":///", ":\\\\", "://\\"]), 10)
#: Loopback, IDN-ish, tricky and ordinary names. Safe in process only: nothing there can resolve a name.
hosts = mostly(
    st.sampled_from(["127.0.0.1", "localhost", "LocalHost", "[::1]", "[::ffff:127.0.0.1]", "mattermost.example.com",
                     "bücher.example", "xn--bcher-kva.example", "例え.テスト", "2130706433", "127.0.0.1."]),
    st.sampled_from(["[::1", "::1", "[fe80::1%25lo]", "[abc]", "ｌｏｃａｌｈｏｓｔ", "localhost。",
                     "İstanbul.example", "ß.example", "xn--", "0x7f.1", "", "%6c%6fcalhost", "local host", "a\uff1ab",
                     "127.0.0.1\\evil.example", "evil.example#@127.0.0.1", "a@b", "[::1]:80]"]),
    3,
)
ports = mostly(
    st.none() | st.integers(0, 65535).map(str),
    st.integers(-1, 200_000).map(str)
    | st.sampled_from(["", "080", "65536", "99999999999", "\u0663", "+80", "-1", "0x50", "80:90", "8065 "]),
)
userinfos = mostly(st.just(""), st.sampled_from(["user@", "user:pass@", "@", ":@", "a@b@", "%40@"]), 8)
path_segments = mostly(
    st.sampled_from(["", "mattermost", "chat", "api", "v4", "users", "..", ".", "~user", "%41", "ü"]),
    st.sampled_from(["API", "V4", "Api", "%2e%2e", "%", "%zz", "a b", "\t", "\n", " ", ";x", "api%2Fv4"]),
)
paths = st.lists(path_segments, max_size=4).map(lambda segments: "".join("/" + s for s in segments))
suffixes = mostly(st.just(""), st.sampled_from(["?", "?a=1", "#", "#frag", "?a#b", "/?", "/#/channels"]), 8)
spaces = mostly(st.just(""), st.sampled_from([" ", "\n", "\t", "\u00a0", "\u200b", "\r\n"]), 8)


@st.composite
def structured_urls(draw: st.DrawFn, host: st.SearchStrategy[str] = hosts) -> str:
    port = draw(ports)
    return (draw(spaces) + draw(schemes) + draw(separators) + draw(userinfos) + draw(host)
            + ("" if port is None else ":" + port) + draw(paths) + draw(suffixes) + draw(spaces))


base_urls = weighted((8, structured_urls()), (1, st.text(ANY_CHAR)), (1, json_scalars))

TOKEN_ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769"
long_tokens = st.builds(lambda piece, n: piece * n, st.text(min_size=1, max_size=4), st.integers(1_000, 20_000))
tokens = weighted(
    (4, st.text(TOKEN_ALPHABET, min_size=26, max_size=26)),  # a real Mattermost token's shape
    (4, st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40)),  # ASCII
    (2, st.text(ANY_CHAR, max_size=40)),  # control characters, non-ASCII, lone surrogates
    (1, st.builds(lambda t, before, after: before + t + after,
                  st.text(TOKEN_ALPHABET, min_size=8, max_size=26), spaces, spaces)),
    (1, long_tokens),
    (1, st.just("")),
    (1, json_scalars),
)
certs_flags = mostly(st.booleans(), json_scalars)
credentials = st.builds(Credential, tokens, base_urls, certs_flags)

methods = mostly(st.sampled_from(["GET", "get", "POST", "Put", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
                 st.text(ANY_CHAR, min_size=1, max_size=8), 3)
endpoints = mostly(st.sampled_from([
    "users/me", "/users/me", "//users/me", "", "../../../etc/passwd", "%2e%2e/x", "users/me?x=1", "users/me#frag",
    "@127.0.0.1", "http://elsewhere.example/x", "\\\\elsewhere.example", "users/ me", "users/\u00e9",
]), ANY_TEXT, 2)
api_requests = st.builds(ApiRequest, methods, endpoints, st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=3), json_values)


# --- 2. the reference in process, on a fake network ----------------------------------------

SERVERS = ("refuse", "tls-fail", "401", "302", "200", "500")
_RESPONSES = {
    "401": (401, "application/json",
            b'{"id":"api.context.session_expired.app_error","message":"Invalid or expired session","status_code":401}'),
    "302": (302, "text/html", b""),
    "200": (200, "application/json", b'{"id":"u1","username":"alice"}'),
    "500": (500, "text/plain", b"oops"),
}
_EXPECTED_KIND = {"refuse": ErrorKind.NETWORK, "tls-fail": ErrorKind.TLS, "401": ErrorKind.AUTH,
                  "302": ErrorKind.HTTP, "200": None, "500": ErrorKind.HTTP}


@dataclass
class Connection:
    host: str
    port: int
    tls_server_name: str | None = None
    sent: bytearray = field(default_factory=bytearray)


class FakeStream(httpcore.NetworkStream):
    """One connection to the fake server: records what is written, answers with a canned response."""

    def __init__(self, network: FakeNetwork, connection: Connection) -> None:
        self.network, self.connection, self.answered = network, connection, False

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.connection.sent += buffer

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self.answered or self.network.server not in _RESPONSES:
            return b""
        self.answered = True
        status, content_type, body = _RESPONSES[self.network.server]
        head = f"HTTP/1.1 {status} Canned\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        if status == 302:
            head += "Location: http://elsewhere.example/login\r\n"
        return head.encode() + b"\r\n" + body

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        self.connection.tls_server_name = server_hostname
        if self.network.server == "tls-fail":
            failure = ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate (fake)")
            failure.verify_code, failure.verify_message = 18, "self-signed certificate (fake)"  # as ssl sets them
            try:  # as httpcore does it: the ssl error is the context (its pool drops the cause)
                raise failure
            except ssl.SSLError as error:
                raise httpcore.ConnectError(str(error)) from error
        return self

    def close(self) -> None:
        pass

    def get_extra_info(self, info: str) -> object:
        return None  # no ssl_object: HTTP/1.1


class FakeNetwork:
    """httpcore's only way to the network (``SyncBackend.connect_*``), replaced, and every socket entry point guarded.

    httpx (through httpcore) opens connections only via its network backend;
    ``trust_env=False`` and no ``proxy=`` mean no proxy either. Replacing
    ``SyncBackend.connect_tcp``/``connect_unix_socket`` therefore records every
    connection attempt and opens none; the guards on ``socket.getaddrinfo``,
    ``create_connection`` and ``socket.connect`` catch (and fail the test on)
    any other path to a socket or a DNS lookup.
    """

    def __init__(self, server: str) -> None:
        self.server = server
        self.connections: list[Connection] = []
        self.socket_calls: list[str] = []

    @contextlib.contextmanager
    def installed(self) -> Iterator[FakeNetwork]:
        def connect_tcp(_backend, host, port, timeout=None, local_address=None, socket_options=None):
            connection = Connection(host, port)
            self.connections.append(connection)
            if self.server == "refuse":
                raise httpcore.ConnectError("[Errno 111] Connection refused (fake)")
            return FakeStream(self, connection)

        def connect_unix_socket(_backend, path, timeout=None, socket_options=None):
            self.socket_calls.append(f"unix socket {path!r}")
            raise httpcore.ConnectError("no unix sockets in this test")

        def guard(name: str):
            def refuse(*args: object, **kwargs: object) -> None:
                self.socket_calls.append(f"{name}{args!r}")
                raise OSError(f"test_fuzz: {name} is forbidden here")
            return refuse

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(httpcore.SyncBackend, "connect_tcp", connect_tcp)
            patch.setattr(httpcore.SyncBackend, "connect_unix_socket", connect_unix_socket)
            patch.setattr(socket, "getaddrinfo", guard("getaddrinfo"))
            patch.setattr(socket, "create_connection", guard("create_connection"))
            patch.setattr(socket.socket, "connect", guard("socket.connect"))
            patch.setattr(socket.socket, "connect_ex", guard("socket.connect_ex"))
            yield self


def _token_in(text: str, token: object, *inputs: object) -> bool:
    """Whether ``token`` (8+ characters) is in ``text`` other than as part of the inputs it was given with."""
    if not isinstance(token, str) or len(token) < 8 or token not in text:
        return False
    return not any(isinstance(i, str) and token in i for i in inputs) and token not in _FIXED_TEXT


#: Text that reaches error messages from the reference, httpx and the fake server, whatever the input.
_FIXED_TEXT = "\n".join([
    open(reference.__file__, encoding="utf-8").read(), json.dumps({k: v[2].decode() for k, v in _RESPONSES.items()}),
    "Connection refused (fake)", "certificate verify failed: self-signed certificate (fake)",
    "http://elsewhere.example/login",
])


def _headers(sent: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    head = sent.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    pairs = [tuple(part.strip() for part in line.split(b":", 1)) for line in head[1:]]
    return head[0], [(name.lower(), value) for name, value in pairs]  # type: ignore[misc]


def check_call(operation: str, credential: Credential, api_request: ApiRequest | None, server: str) -> Outcome:
    """Run ``reference.call`` on a :class:`FakeNetwork` and check every property; the outcome, for more checks."""
    with FakeNetwork(server).installed() as network:
        outcome = reference.call(operation, credential, None, api_request)

    kind = outcome.error_kind.value if outcome.error_kind else "ok"
    if currently_in_test_context():  # event() only means something inside a hypothesis test
        event(f"outcome: {kind}, connected: {bool(network.connections)}")
    assert network.socket_calls == [], "something bypassed httpcore's network backend"
    assert isinstance(outcome, Outcome)
    assert outcome.error_kind is None or isinstance(outcome.error_kind, ErrorKind)
    if outcome.error_kind is ErrorKind.CONFIG:
        assert network.connections == [], f"a config error after connecting: {outcome.error_message}"
    if outcome.error_message is not None:
        assert "\n" not in outcome.error_message and len(outcome.error_message) <= 300
        inputs = [credential.base_url]
        if api_request is not None:
            inputs += [api_request.method, api_request.endpoint, json.dumps(api_request.query)]
        assert not _token_in(outcome.error_message, credential.access_token, *inputs), "the token is in the message"
    if not network.connections:
        return outcome

    # A request went out: once (no redirect followed), to the base URL's host and port, token as bearer token.
    assert len(network.connections) == 1, "a redirect was followed"
    connection = network.connections[0]
    parts = urlsplit(credential.base_url)
    scheme = parts.scheme.lower()
    assert scheme in ("http", "https")
    expected_host = parts.hostname or ""
    if expected_host.isascii():
        assert connection.host.lower() == expected_host, f"connected to {connection.host}, not {expected_host}"
    else:
        assert connection.host.isascii(), "an IDN host must be dialled as punycode"
    assert connection.port == (parts.port or (443 if scheme == "https" else 80))
    if scheme == "https" and server != "refuse":
        assert connection.tls_server_name == connection.host, "TLS must verify the host connected to"
    if connection.sent:
        _, headers = _headers(bytes(connection.sent))
        authorization = [value for name, value in headers if name == b"authorization"]
        token = credential.access_token
        assert authorization == ([b"Bearer " + token.encode()] if token else [])
    expected = _EXPECTED_KIND[server]
    if server == "tls-fail" and scheme == "http":
        expected = ErrorKind.NETWORK  # no TLS to fail: the fake server hangs up without answering
    assert outcome.error_kind == expected, outcome
    return outcome


@settings(FUZZ, max_examples=350)
@given(operation=st.sampled_from(["test"] * 3 + ["request"] * 3 + ["bogus"]), credential=credentials,
       api_request=api_requests, server=st.sampled_from(SERVERS))
def test_reference_call_in_process(
    operation: str, credential: Credential, api_request: ApiRequest, server: str
) -> None:
    """``reference.call`` on a fake network: an Outcome always, and the token goes only where the base URL says.

    NETWORK: :class:`FakeNetwork` replaces httpcore's network backend (its only
    way to open a connection) and makes every socket and DNS entry point raise,
    so whatever host the fuzzer writes, nothing leaves the process.
    """
    check_call(operation, credential, api_request if operation != "test" else None, server)


TOKEN = "kq4t3ym1mjdwpqkk3bxq5bfp4a"
LOCAL = "http://127.0.0.1:8065"
#: Inputs the fuzzers found that break a property, kept as plain regression cases.
FOUND = {
    "unclosed IPv6 bracket": ("test", Credential(TOKEN, "http://[::1"), None),
    "bracketed non-address": ("test", Credential(TOKEN, "https://[abc]:8065"), None),
    "fullwidth colon in host (NFKC)": ("test", Credential(TOKEN, "https://a\uff1ab:8065"), None),
    "empty punycode label": ("test", Credential(TOKEN, "http://xn--"), None),
    "NaN body": ("request", Credential(TOKEN, LOCAL), ApiRequest("POST", "posts", {}, float("nan"))),
    "Infinity in body": ("request", Credential(TOKEN, LOCAL), ApiRequest("POST", "posts", {}, {"n": float("inf")})),
    "lone surrogate in body": ("request", Credential(TOKEN, LOCAL), ApiRequest("POST", "posts", {}, {"k": "\ud800"})),
    "lone surrogate in query": ("request", Credential(TOKEN, LOCAL), ApiRequest("GET", "users", {"q": "\ud800"})),
    "lone surrogate in endpoint": ("request", Credential(TOKEN, LOCAL), ApiRequest("GET", "users/\ud800")),
    "non-ASCII method": ("request", Credential(TOKEN, LOCAL), ApiRequest("G\u00c9T", "users/me")),
    "config error after connecting": ("request", Credential(TOKEN, LOCAL), ApiRequest("G ET", "users/me")),
}


@pytest.mark.parametrize(("operation", "credential", "api_request"), FOUND.values(), ids=FOUND.keys())
def test_reference_call_on_inputs_the_fuzzers_found(
    operation: str, credential: Credential, api_request: ApiRequest | None
) -> None:
    """The fuzzer's findings, as fixed cases: each is a ``config`` error, refused before connecting.

    NETWORK: as in :func:`test_reference_call_in_process`, on a :class:`FakeNetwork` (whose
    server would answer 200, so a request that does go out is seen).
    """
    outcome = check_call(operation, credential, api_request, "200")
    assert outcome.error_kind is ErrorKind.CONFIG, outcome


# --- 3. the reference over the real protocol, as a subprocess --------------------------------

LOOPBACK_HOSTS = ["127.0.0.1", "[::1]"]  # literals only: resolving them needs no DNS


@pytest.fixture(scope="module")
def closed_ports() -> Iterator[list[int]]:
    """Ports bound on 127.0.0.1 and ::1 (when it exists) but not listening, so connecting is refused."""
    held, ports = [], []
    for _ in range(3):
        v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        v4.bind(("127.0.0.1", 0))
        port = v4.getsockname()[1]
        v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            v6.bind(("::1", port))
        except OSError as error:
            v6.close()
            if error.errno == errno.EADDRINUSE:  # [::1]:port is someone else's
                v4.close()
                continue
            # no ::1 on this machine: connecting to it fails anyway
        else:
            held.append(v6)
        held.append(v4)
        ports.append(port)
    assert ports, "no closed port could be reserved on 127.0.0.1"
    yield ports
    for sock in held:
        sock.close()


def _network_namespace_prefix() -> list[str]:
    """``unshare -rn`` when it works here: the adapter then has only a loopback device (belt and braces)."""
    if shutil.which("unshare") is None:
        return []
    try:
        ok = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return ["unshare", "-rn"] if ok else []


@pytest.fixture(scope="module")
def reference_adapter() -> Iterator[Implementation]:
    command = shlex.join(_network_namespace_prefix()) + " " + reference_command()
    with Implementation("reference", command.strip(), timeout_s=10) as impl:
        yield impl


#: Paths safe after a loopback authority: no "@" or "\\" (a lenient parser could read a host out of those).
safe_segments = st.sampled_from(["", "api", "v4", "API", "V4", "..", ".", "%2e%2e", "%", "%zz", "a b", "\t", "ü",
                                 "mattermost", "?x=1", "#f"])


@st.composite
def loopback_urls(draw: st.DrawFn, closed: list[int]) -> str:
    port = draw(st.sampled_from(closed).map(str) | st.sampled_from(["", "0", "65536", "99999", "x"]))
    segments = draw(st.lists(safe_segments, max_size=4))
    return (draw(spaces) + draw(st.builds(_random_case, st.sampled_from(["http", "https"]),
                                          st.lists(st.booleans(), max_size=5)))
            + "://" + draw(st.sampled_from(["", "", "", "user:pass@"])) + draw(st.sampled_from(LOOPBACK_HOSTS))
            + ":" + port + "".join("/" + s for s in segments) + draw(spaces))


#: Text that cannot be a URL: the reference refuses anything without "scheme://" before parsing it.
not_urls = st.text(ANY_CHAR, max_size=40).filter(lambda s: "://" not in s and "." not in s)


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_reference_over_the_protocol_answers_every_credential(
    reference_adapter: Implementation, closed_ports: list[int], data: st.DataObject
) -> None:
    """Every exchange with the real reference process is an Observation: no crash, hang or protocol break.

    NETWORK: a base URL is either (a) ``scheme://[user:pass@]<127.0.0.1 or [::1]>:<port>/<path>``
    with a port that is bound and not listening (or invalid), and a path without
    "@" or "\\", so any URL parser finds a loopback host, named by an IP literal
    (no DNS); or (b) text without "://", which the reference refuses before
    parsing it, and without ".", so not even a lenient implementation that
    guessed a scheme could make a fully qualified name of another host out of it.
    Endpoints come after "<base>/api/v4/", where the authority has ended.
    When ``unshare -rn`` works, the adapter also runs in a network namespace with
    nothing but a loopback device.
    """
    base_url = data.draw(loopback_urls(closed_ports) | not_urls, label="base_url")
    token = data.draw(tokens.filter(lambda t: not isinstance(t, str) or len(t) <= 20_000), label="token")
    credential = Credential(token, base_url, data.draw(st.booleans(), label="ignore_ssl_issues"))
    api_request = data.draw(st.none() | api_requests, label="api_request")
    if api_request is None:
        observation = reference_adapter.check(credential)
    else:
        observation = reference_adapter.request(credential, api_request)
    outcome = observation.outcome
    event(f"outcome: {outcome.error_kind.value if outcome.error_kind else 'ok'}")
    assert not outcome.ok and outcome.status is None
    assert outcome.error_kind in (ErrorKind.CONFIG, ErrorKind.NETWORK), observation.describe()
    inputs = [base_url] if api_request is None else [base_url, api_request.endpoint, json.dumps(api_request.query)]
    assert not _token_in(outcome.error_message or "", token, *inputs), "the reference echoed the token"


#: The findings that travel over the protocol with a loopback base URL (hosts that are IP literals only).
PROTOCOL_FOUND = {name: FOUND[name] for name in (
    "unclosed IPv6 bracket", "NaN body", "Infinity in body", "lone surrogate in body", "lone surrogate in query",
    "lone surrogate in endpoint", "non-ASCII method",
)}


@pytest.mark.parametrize(("operation", "credential", "api_request"), PROTOCOL_FOUND.values(), ids=PROTOCOL_FOUND.keys())
def test_reference_over_the_protocol_on_inputs_the_fuzzers_found(
    reference_adapter: Implementation, closed_ports: list[int], operation: str, credential: Credential,
    api_request: ApiRequest | None,
) -> None:
    """The reference process answers each finding with a ``config`` error instead of crashing.

    NETWORK: the base URLs are ``http://[::1`` and ``http://127.0.0.1:<closed port>``: IP
    literals of loopback, so no name is resolved and nothing but loopback can be reached.
    """
    base_url = credential.base_url.replace(LOCAL, f"http://127.0.0.1:{closed_ports[0]}")
    assert urlsplit(base_url.replace("[::1", "[::1]")).hostname in ("127.0.0.1", "::1")
    credential = Credential(credential.access_token, base_url)
    if api_request is None:
        observation = reference_adapter.check(credential)
    else:
        observation = reference_adapter.request(credential, api_request)
    assert observation.outcome.error_kind is ErrorKind.CONFIG, observation.describe()
