"""The reference implementation's rules, checked without Docker, Mattermost or a fake server.

HTTP itself is exercised by the suite's scenarios against a real Mattermost;
here the rules are checked as pure functions, through a recording stand-in for
``httpx.Client``, against closed or silent sockets on 127.0.0.1, and through the
adapter loop over a real subprocess.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from mm_conformance.protocol import reference
from mm_conformance.protocol.runner import Implementation, reference_command
from mm_conformance.protocol.wire import ApiRequest, Credential, ErrorKind, Outcome, decode_response, encode_request
from mm_conformance.protocol.reference import ConfigError, api_url, call, check_token, classify, site_url

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "kq4t3ym1mjdwpqkk3bxq5bfp4a"


# --- base URL rules -------------------------------------------------------------

BAD_BASE_URLS = {
    "no scheme": ("mattermost.example.com", "has no scheme"),
    "no scheme, with port": ("mattermost.example.com:8065", "has no scheme"),
    "leading whitespace": (" https://mattermost.example.com", "whitespace"),
    "trailing newline": ("https://mattermost.example.com\n", "whitespace"),
    "inner space": ("https://matter most.example.com", "whitespace"),
    "empty": ("", "is empty"),
    "blank": ("   ", "is empty"),
    "query": ("https://mattermost.example.com/?team=a", "query string"),
    "fragment": ("https://mattermost.example.com/#/channels", "fragment"),
    "ftp scheme": ("ftp://mattermost.example.com", "scheme 'ftp'"),
    "api/v4 pasted": ("https://mattermost.example.com/api/v4", "without /api/v4"),
    "api/v4/ pasted": ("https://mattermost.example.com/api/v4/", "without /api/v4"),
    "api/v4 under a subpath": ("https://example.com/chat/api/v4", "e.g. https://example.com/chat"),
    "userinfo": ("https://admin:secret@mattermost.example.com", "user name or password"),
    "no host": ("https:///path", "has no host"),
    "bad port": ("https://mattermost.example.com:99999", "invalid port"),
    "not a string": (None, "must be a string, not null"),
}


@pytest.mark.parametrize(("base_url", "expected"), BAD_BASE_URLS.values(), ids=BAD_BASE_URLS.keys())
def test_bad_base_url_is_a_config_error_before_any_request(
    base_url: object, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(httpx, "Client", _forbidden_client)
    outcome = call("test", Credential(TOKEN, base_url), None, None)  # type: ignore[arg-type]
    assert outcome.error_kind is ErrorKind.CONFIG
    assert outcome.status is None and outcome.body is None
    assert expected in (outcome.error_message or "")
    assert "\n" not in (outcome.error_message or "")


def test_userinfo_password_is_not_repeated_in_the_message() -> None:
    with pytest.raises(ConfigError) as caught:
        site_url("https://admin:hunter2hunter2@mattermost.example.com")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("base_url", "endpoint", "expected"),
    [
        ("https://mattermost.example.com", "users/me", "https://mattermost.example.com/api/v4/users/me"),
        ("https://mattermost.example.com/", "users/me", "https://mattermost.example.com/api/v4/users/me"),
        ("https://mattermost.example.com///", "/users/me", "https://mattermost.example.com/api/v4/users/me"),
        ("https://example.com/mattermost", "users", "https://example.com/mattermost/api/v4/users"),
        ("https://example.com/mattermost/", "//users", "https://example.com/mattermost/api/v4/users"),
        ("HTTPS://Mattermost.Example.COM:8065/", "users/me", "https://mattermost.example.com:8065/api/v4/users/me"),
        ("Http://127.0.0.1:8065", "system/ping", "http://127.0.0.1:8065/api/v4/system/ping"),
        ("https://[::1]:8065/", "users/me", "https://[::1]:8065/api/v4/users/me"),
    ],
)
def test_api_url(base_url: str, endpoint: str, expected: str) -> None:
    assert api_url(base_url, endpoint) == expected


# --- token rules ----------------------------------------------------------------


@pytest.mark.parametrize("token", [TOKEN, "", "x", "with inner space"])
def test_sendable_tokens(token: str) -> None:
    assert check_token(token) == token


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (f" {TOKEN}", "leading or trailing whitespace"),
        (f"{TOKEN}\n", "leading or trailing whitespace"),
        ("tök€n", "cannot be sent in an HTTP header"),
        ("a\x00b", "cannot be sent in an HTTP header"),
        (None, "must be a string"),
    ],
)
def test_unsendable_tokens_are_config_errors(token: object, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpx, "Client", _forbidden_client)
    outcome = call("test", Credential(token, "https://mattermost.example.com"), None, None)  # type: ignore[arg-type]
    assert outcome.error_kind is ErrorKind.CONFIG
    assert expected in (outcome.error_message or "")
    assert TOKEN not in (outcome.error_message or "")


# --- how the HTTP call is made (recorded, not sent) -----------------------------


class RecordingClient:
    """Stands in for httpx.Client: records how it was built and called, answers ``answer``."""

    made: list[RecordingClient] = []
    answer: httpx.Response | Exception = httpx.Response(200, json={"id": "u1"})

    def __init__(self, **kwargs: object) -> None:
        self.kwargs = kwargs
        self.calls: list[dict[str, object]] = []
        RecordingClient.made.append(self)

    def __enter__(self) -> RecordingClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        self.calls.append({"method": method, "url": url, **kwargs})
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[RecordingClient]]:
    RecordingClient.made = []
    RecordingClient.answer = httpx.Response(200, json={"id": "u1"})
    monkeypatch.setattr(httpx, "Client", RecordingClient)
    yield RecordingClient


def test_test_operation_is_get_users_me_with_bearer_token(recorder: type[RecordingClient]) -> None:
    outcome = call("test", Credential(TOKEN, "https://mattermost.example.com/"), None, None)
    assert outcome == Outcome.success(200, {"id": "u1"})
    (client,) = recorder.made
    assert client.kwargs["follow_redirects"] is False
    assert client.kwargs["trust_env"] is False
    assert client.calls == [
        {
            "method": "GET",
            "url": "https://mattermost.example.com/api/v4/users/me",
            "params": {},
            "headers": {"Authorization": f"Bearer {TOKEN}"},
            "json": None,
        }
    ]


def test_request_operation_sends_query_and_json_body(recorder: type[RecordingClient]) -> None:
    api = ApiRequest("POST", "/posts", {"set_online": "false"}, {"channel_id": "c1", "message": "hi"})
    call("request", Credential(TOKEN, "https://example.com/mm"), None, api)
    (made,) = recorder.made[0].calls
    assert made["method"] == "POST"
    assert made["url"] == "https://example.com/mm/api/v4/posts"
    assert made["params"] == {"set_online": "false"}
    assert made["json"] == {"channel_id": "c1", "message": "hi"}


def test_empty_token_sends_no_authorization_header(recorder: type[RecordingClient]) -> None:
    call("test", Credential("", "https://mattermost.example.com"), None, None)
    assert recorder.made[0].calls[0]["headers"] == {}


def test_every_call_gets_a_new_client(recorder: type[RecordingClient]) -> None:
    insecure = Credential(TOKEN, "https://mattermost.example.com", allow_unauthorized_certs=True)
    strict = Credential(TOKEN, "https://mattermost.example.com")
    call("test", insecure, None, None)
    call("test", strict, None, None)
    first, second = recorder.made
    assert first is not second
    assert first.kwargs["verify"] is False
    assert isinstance(second.kwargs["verify"], ssl.SSLContext)


def test_strict_tls_verifies_host_and_trusts_ca_file(recorder: type[RecordingClient], tmp_path: Path) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    call("test", Credential(TOKEN, "https://127.0.0.1:1"), str(ca_file), None)
    context = recorder.made[0].kwargs["verify"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname is True and context.verify_mode is ssl.CERT_REQUIRED
    assert len(context.get_ca_certs()) >= 1  # at least the CA from caFile (plus any system roots)


def test_unreadable_ca_file_is_a_config_error(recorder: type[RecordingClient], tmp_path: Path) -> None:
    outcome = call("test", Credential(TOKEN, "https://127.0.0.1:1"), str(tmp_path / "missing.pem"), None)
    assert outcome.error_kind is ErrorKind.CONFIG and "caFile" in (outcome.error_message or "")
    assert recorder.made == []


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ConnectError("handshake failed"), ErrorKind.NETWORK),
        (httpx.ConnectTimeout("timed out"), ErrorKind.TIMEOUT),
        (httpx.ReadTimeout("timed out"), ErrorKind.TIMEOUT),
        (httpx.RemoteProtocolError("Server disconnected"), ErrorKind.NETWORK),
        (httpx.ReadError("reset"), ErrorKind.NETWORK),
    ],
)
def test_transport_errors(recorder: type[RecordingClient], error: Exception, kind: ErrorKind) -> None:
    recorder.answer = error
    outcome = call("test", Credential(TOKEN, "https://mattermost.example.com"), None, None)
    assert outcome.error_kind is kind and outcome.status is None


def test_ssl_error_anywhere_in_the_cause_chain_is_tls(recorder: type[RecordingClient]) -> None:
    verification = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verification.verify_message = "self-signed certificate"
    try:
        try:
            raise verification
        except ssl.SSLError as inner:
            raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]") from inner
    except httpx.ConnectError as outer:
        recorder.answer = outer
    outcome = call("test", Credential(TOKEN, "https://mattermost.example.com"), None, None)
    assert outcome.error_kind is ErrorKind.TLS
    assert "certificate verify failed: self-signed certificate" in (outcome.error_message or "")


# --- classifying responses --------------------------------------------------------

SESSION_EXPIRED = {
    "id": "api.context.session_expired.app_error",
    "message": "Invalid or expired session, please login again.",
    "status_code": 401,
}


@pytest.mark.parametrize(
    ("response", "kind", "message"),
    [
        (httpx.Response(200, json={"id": "u1"}), None, None),
        (httpx.Response(201, json=[1]), None, None),
        (
            httpx.Response(401, json=SESSION_EXPIRED),
            ErrorKind.AUTH,
            "Invalid or expired session, please login again. (api.context.session_expired.app_error)",
        ),
        (httpx.Response(403, json={"id": "api.context.permissions.app_error"}), ErrorKind.AUTH, "permissions"),
        (httpx.Response(404, text="<html>nope</html>"), ErrorKind.HTTP, "HTTP 404 Not Found"),
        (  # Mattermost's web app, served on every path outside the API, whatever the token
            httpx.Response(200, text="<!doctype html><title>Mattermost</title>",
                           headers={"Content-Type": "text/html; charset=utf-8"}),
            ErrorKind.HTTP,
            "answered with a web page, not Mattermost's API",
        ),
        (httpx.Response(500, json={"message": "boom"}), ErrorKind.HTTP, "boom"),
        (
            httpx.Response(301, headers={"Location": "http://mattermost.example.com/"}),
            ErrorKind.HTTP,
            "redirect to http://mattermost.example.com/ not followed",
        ),
    ],
)
def test_classify(response: httpx.Response, kind: ErrorKind | None, message: str | None) -> None:
    outcome = classify(response)
    assert outcome.status == response.status_code
    assert outcome.error_kind is kind
    if message is None:
        assert outcome.ok and outcome.body == response.json()
    else:
        assert message in (outcome.error_message or "")


def test_body_is_null_unless_json() -> None:
    assert classify(httpx.Response(200, text="pong")).body is None
    assert classify(httpx.Response(200, text="{broken", headers={"Content-Type": "application/json"})).body is None
    assert classify(httpx.Response(401, json=SESSION_EXPIRED)).body == SESSION_EXPIRED


# --- real sockets on 127.0.0.1 (no server behind them) ------------------------------


def test_closed_port_is_a_network_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nobody listens
    outcome = call("test", Credential(TOKEN, f"http://127.0.0.1:{port}"), None, None)
    assert outcome.error_kind is ErrorKind.NETWORK and outcome.status is None


def test_silent_server_is_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(reference.TIMEOUT_ENV, "0.3")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()  # the kernel completes the connection; nobody ever answers
        outcome = call("test", Credential(TOKEN, f"http://127.0.0.1:{s.getsockname()[1]}"), None, None)
    assert outcome.error_kind is ErrorKind.TIMEOUT and outcome.status is None


# --- the adapter loop, over a real subprocess ---------------------------------------


def _run_main(stdin: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "mm_conformance.protocol.reference"]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=20, env=env, cwd=ROOT)


def test_main_loop_answers_config_errors_and_skips_lines_without_id() -> None:
    bad = Credential(TOKEN, "mattermost.example.com")
    future = {**json.loads(encode_request(3, "test", bad, None)), "protocol": 2}
    lines = [
        encode_request(1, "test", bad, None),
        "",
        "not json at all",
        '{"id": 2, "protocol": 1, "operation": "test"}',
        json.dumps(future),
        encode_request(4, "request", bad, None, ApiRequest("GET", "users/me")),
    ]
    done = _run_main("\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    answers = [decode_response(line) for line in done.stdout.splitlines()]
    assert [id for id, _ in answers] == [1, 2, 3, 4]
    assert all(outcome.error_kind is ErrorKind.CONFIG for _, outcome in answers)
    assert "has no scheme" in (answers[0][1].error_message or "")
    assert "credential" in (answers[1][1].error_message or "")
    assert "unsupported protocol version" in (answers[2][1].error_message or "")
    assert "not JSON" in done.stderr  # the line without an id is logged, not answered
    assert TOKEN not in done.stderr


def test_reference_through_implementation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    with Implementation("reference", reference_command(), timeout_s=10.0) as impl:
        observation = impl.request(Credential(TOKEN, "https://example.com/api/v4/"), ApiRequest("GET", "users/me"))
        process = impl.process
    assert observation.outcome.error_kind is ErrorKind.CONFIG
    assert observation.describe().startswith("GET users/me -> no response config: baseUrl ")
    assert process is not None and process.poll() == 0


def _forbidden_client(*args: object, **kwargs: object) -> None:
    raise AssertionError("a config error must be found before any HTTP client is made")


def test_a_ca_file_is_loaded_once_and_again_when_it_changes(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))
    first = reference._verify(False, str(ca_file))
    assert reference._verify(False, str(ca_file)) is first  # the same file: the same context
    trustme.CA().cert_pem.write_to_path(str(ca_file))  # another CA in its place
    os.utime(ca_file, ns=(0, 0))  # a different version whatever the clock's resolution
    assert reference._verify(False, str(ca_file)) is not first
    ca_file.write_text("not a certificate")
    with pytest.raises(ConfigError, match="cannot be loaded"):
        reference._verify(False, str(ca_file))
    assert reference._verify(True, str(ca_file)) is False  # Ignore SSL Issues: no context at all
