"""The @mattermost/client and mattermostautodriver adapters speak protocol v1 and run the real clients.

Like ``tests/test_adapters.py`` (whose endpoints and helpers this module imports): no
Mattermost and no fake Mattermost. Each adapter runs as a real subprocess through
:class:`~mm_conformance.protocol.runner.Implementation` against things on 127.0.0.1 that
are not Mattermost — the generic HTTPS endpoint (answers every request with Mattermost's
401 "session expired" JSON and records what it received), one HTTPS endpoint per
certificate case, a 200 web page, a redirect — and the tests pin what each client does:

* ``mattermost-client``: ``@mattermost/client``'s ``Client4`` on Node's global fetch
  (``mm_conformance/protocol/adapters/mattermost_client/``), skipped until ``mm-conformance adapters install`` ran;
* ``mattermostautodriver``: ``mattermostautodriver.TypedDriver`` (httpx), skipped until the
  package is installed.

Several assertions are observations, not rules of the protocol; each says so.

Neither adapter has a deadline of its own: against a listener that accepts the connection
and never answers, each is still waiting when a 3 s deadline passes (Client4 on undici's
defaults waits 300 s for the headers; mattermostautodriver has no timeout at all), and with
the adapter's timeout variable set the client itself answers ``timeout``.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from mm_conformance.protocol.runner import Implementation
from mm_conformance.protocol.wire import ApiRequest, Credential, ErrorKind
from tests.test_adapters import (  # noqa: F401 - fixtures are used by name
    adapter_command,
    assert_configured_timeout_is_the_clients,
    assert_no_deadline_of_its_own,
    FAILING_CERTIFICATE_CASES,
    SESSION_EXPIRED,
    TOKEN,
    CertificateEndpoints,
    HttpsEndpoint,
    SilentListener,
    certificate_endpoints,
    closed_port,
    endpoint,
    https_endpoint,
    silent_listener,
    stalling_listener,
)

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["mattermost-client", "mattermostautodriver"]


# --- the adapters -------------------------------------------------------------------------


@pytest.fixture(scope="module", params=NAMES)
def adapter(request: pytest.FixtureRequest) -> Iterator[Implementation]:
    name = request.param
    with Implementation(name, adapter_command(name), timeout_s=30.0) as impl:
        yield impl


def _via(adapter: Implementation, operation: str, credential: Credential, ca_file: str | None = None):
    if operation == "test":
        return adapter.check(credential, ca_file=ca_file).outcome
    return adapter.request(credential, ApiRequest("GET", "users/me"), ca_file=ca_file).outcome


# --- the token, and what a 401 is ---------------------------------------------------------------

#: How each spells the scheme of the Authorization header (observed): Client4 writes
#: ``BEARER`` (its HEADER_BEARER constant), the driver ``Bearer``. Mattermost reads
#: the scheme case-insensitively.
BEARER = {"mattermost-client": "BEARER", "mattermostautodriver": "Bearer"}
TEST_PATH = "/api/v4/users/me"  # both check a login with GET users/me (getMe(), users.get_user('me'))


@pytest.mark.parametrize("operation", ["test", "request"])
def test_the_token_is_sent_as_bearer_and_a_401_is_auth(
    adapter: Implementation, endpoint: HttpsEndpoint, operation: str
) -> None:
    outcome = _via(adapter, operation, Credential(TOKEN, endpoint.url, allow_unauthorized_certs=True))
    assert outcome.error_kind is ErrorKind.AUTH, outcome
    assert outcome.status == 401 and outcome.body == SESSION_EXPIRED
    assert "Invalid or expired session" in (outcome.error_message or "")
    assert TOKEN not in (outcome.error_message or "")
    # Sent once (neither retries a 401), to <base>/api/v4/users/me, with the token as a bearer token.
    assert [(s.method, s.path) for s in endpoint.seen] == [("GET", TEST_PATH)]
    scheme, _, credentials = (endpoint.seen[0].authorization or "").partition(" ")
    assert scheme.lower() == "bearer" and credentials == TOKEN
    assert scheme == BEARER[adapter.name]


def test_an_empty_token_sends_no_authorization_header(adapter: Implementation, endpoint: HttpsEndpoint) -> None:
    """Observed: both leave the header out for an empty token (n8n sends ``Authorization: Bearer``)."""
    outcome = adapter.check(Credential("", endpoint.url, allow_unauthorized_certs=True)).outcome
    assert outcome.error_kind is ErrorKind.AUTH and outcome.status == 401, outcome
    assert [(s.path, s.authorization) for s in endpoint.seen] == [(TEST_PATH, None)]


def test_closed_port_is_a_network_error(adapter: Implementation, closed_port: int) -> None:
    outcome = adapter.check(Credential(TOKEN, f"http://127.0.0.1:{closed_port}")).outcome
    assert outcome.error_kind is ErrorKind.NETWORK, outcome
    assert outcome.status is None and outcome.body is None


# --- TLS: Ignore SSL Issues and caFile ---------------------------------------------------------


@pytest.mark.parametrize("operation", ["test", "request"])
def test_a_self_signed_certificate_is_tls_unless_ssl_issues_are_ignored(
    adapter: Implementation, certificate_endpoints: CertificateEndpoints, operation: str
) -> None:
    endpoint = certificate_endpoints["self-signed"]
    refused = _via(adapter, operation, Credential(TOKEN, endpoint.url), ca_file=endpoint.ca_file)
    assert refused.error_kind is ErrorKind.TLS and refused.status is None, refused
    assert endpoint.seen == [], "no HTTP request may pass a failed handshake"

    connected = _via(adapter, operation, Credential(TOKEN, endpoint.url, allow_unauthorized_certs=True))
    assert connected.error_kind is ErrorKind.AUTH and connected.status == 401, connected
    assert [s.path for s in endpoint.seen] == [TEST_PATH]


def test_the_ca_file_is_honoured_and_only_where_given(adapter: Implementation, endpoint: HttpsEndpoint) -> None:
    trusted = adapter.check(Credential(TOKEN, endpoint.url), ca_file=endpoint.ca_file).outcome
    assert trusted.error_kind is ErrorKind.AUTH and trusted.status == 401, trusted
    assert [s.path for s in endpoint.seen] == [TEST_PATH]
    endpoint.seen.clear()
    untrusted = adapter.check(Credential(TOKEN, endpoint.url)).outcome
    assert untrusted.error_kind is ErrorKind.TLS, untrusted
    assert endpoint.seen == []


def test_an_unreadable_ca_file_is_config(adapter: Implementation, endpoint: HttpsEndpoint, tmp_path: Path) -> None:
    outcome = adapter.check(Credential(TOKEN, endpoint.url), ca_file=str(tmp_path / "missing.pem")).outcome
    assert outcome.error_kind is ErrorKind.CONFIG, outcome
    assert endpoint.seen == []


@pytest.mark.parametrize("case", FAILING_CERTIFICATE_CASES)
def test_every_failing_certificate_case_is_tls(
    adapter: Implementation, certificate_endpoints: CertificateEndpoints, case: str
) -> None:
    """POST, so that mattermostautodriver does not retry (it retries GETs without a response 3 times)."""
    endpoint = certificate_endpoints[case]
    outcome = adapter.request(Credential(TOKEN, endpoint.url), ApiRequest("POST", "users/logout"),
                              ca_file=endpoint.ca_file).outcome
    assert outcome.error_kind is ErrorKind.TLS, outcome
    assert outcome.status is None and endpoint.seen == []


# --- a request arrives as sent ---------------------------------------------------------------------


POST_BODY = {"channel_id": "4xp9fdt77pncbef59f4k1qe83o", "message": "hello, wörld & all", "props": {"n": [1, 2.5, True]}}
POST_QUERY = {"set_online": "false", "note": "a b&c=d/é"}


def test_method_query_and_body_of_a_post_arrive_as_sent(adapter: Implementation, endpoint: HttpsEndpoint) -> None:
    outcome = adapter.request(Credential(TOKEN, endpoint.url, allow_unauthorized_certs=True),
                              ApiRequest("POST", "posts", POST_QUERY, POST_BODY)).outcome
    assert outcome.error_kind is ErrorKind.AUTH and outcome.status == 401, outcome
    (seen,) = endpoint.seen
    target = urlsplit(seen.path)
    assert (seen.method, target.path) == ("POST", "/api/v4/posts")
    assert {k: v for k, (v,) in parse_qs(target.query, strict_parsing=True).items()} == POST_QUERY
    assert json.loads(seen.body) == POST_BODY
    assert (seen.content_type or "").split(";")[0] == "application/json"
    assert seen.authorization == f"{BEARER[adapter.name]} {TOKEN}"


# --- base URLs as users paste them (observed) ---------------------------------------------------

#: Client4 appends ``/api/v4/…`` to the URL as given (even one trailing slash doubles:
#: ``https://host/`` asks ``//api/v4/users/me``); the driver has no option for a path
#: at all (11.x removed ``basepath``), so its mapping answers ``config`` for one.
ODD_BASE_URLS = {
    ("mattermost-client", "/"): "//api/v4/users/me",
    ("mattermost-client", "//"): "///api/v4/users/me",
    ("mattermost-client", "/api/v4"): "/api/v4/api/v4/users/me",
    ("mattermost-client", "/sub/"): "/sub//api/v4/users/me",
    ("mattermostautodriver", "/"): "/api/v4/users/me",
    ("mattermostautodriver", "//"): "/api/v4/users/me",
    ("mattermostautodriver", "/api/v4"): None,
    ("mattermostautodriver", "/sub/"): None,
}


@pytest.mark.parametrize("suffix", ["/", "//", "/api/v4", "/sub/"])
def test_paths_for_odd_base_urls(adapter: Implementation, endpoint: HttpsEndpoint, suffix: str) -> None:
    outcome = adapter.check(Credential(TOKEN, endpoint.url + suffix, allow_unauthorized_certs=True)).outcome
    expected = ODD_BASE_URLS[adapter.name, suffix]
    if expected is None:
        assert outcome.error_kind is ErrorKind.CONFIG and endpoint.seen == [], outcome
    else:
        assert outcome.status == 401, outcome
        assert [s.path for s in endpoint.seen] == [expected]


def test_a_base_url_without_scheme_is_config(adapter: Implementation) -> None:
    """Client4 hands ``mattermost.example.com/api/v4/users/me`` to fetch, which cannot parse it."""
    outcome = adapter.check(Credential(TOKEN, "mattermost.example.com")).outcome
    assert outcome.error_kind is ErrorKind.CONFIG, outcome


# --- a web page where the API should be ----------------------------------------------------------

#: Observed, and pinned: both report a 200 web page as success. Client4 resolves with the
#: page's text (it parses JSON only for Content-Type ``application/json``, and treats any
#: 2xx as success); the driver's ``Client.get`` returns the raw ``httpx.Response`` for any
#: other Content-Type. So with either, a wrong Base URL passes the login check with any token.
WEB_PAGE_IS_OK = {"mattermost-client": True, "mattermostautodriver": True}


def test_a_web_page_where_the_api_should_be(adapter: Implementation, web_page_site: str) -> None:
    site_root = web_page_site.rsplit("/", 1)[0]  # the driver cannot take the fixture's /chat path
    outcome = adapter.check(Credential(TOKEN, site_root)).outcome
    assert outcome.status == 200 and outcome.body is None, outcome
    assert outcome.ok is WEB_PAGE_IS_OK[adapter.name], outcome


# --- a redirect to another host (observed) --------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers 302 to ``server.location`` when set, else 401 JSON; records (path, Authorization)."""

    server: _RecordingServer

    def do_GET(self) -> None:
        self.server.seen.append((self.requestline.split(" ")[1], self.headers.get("Authorization")))
        if self.server.location:
            self.send_response(302)
            self.send_header("Location", self.server.location + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps(SESSION_EXPIRED).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _RecordingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, location: str | None) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.location = location
        self.seen: list[tuple[str, str | None]] = []


@pytest.fixture()
def redirect_to_another_host() -> Iterator[tuple[_RecordingServer, _RecordingServer]]:
    """``http://127.0.0.1:A`` redirects every path to ``http://localhost:B`` (another host, same machine)."""
    target = _RecordingServer(None)
    source = _RecordingServer(f"http://localhost:{target.server_address[1]}")
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (source, target)]
    for thread in threads:
        thread.start()
    try:
        yield source, target
    finally:
        for server in (source, target):
            server.shutdown()
            server.server_close()


def test_a_redirect_to_another_host(
    adapter: Implementation, redirect_to_another_host: tuple[_RecordingServer, _RecordingServer]
) -> None:
    """Observed: Client4 (fetch) follows it and drops the token on the way (fetch removes
    Authorization on a cross-origin redirect); the driver (httpx) does not follow: ``http`` 302."""
    source, target = redirect_to_another_host
    outcome = adapter.check(Credential(TOKEN, f"http://127.0.0.1:{source.server_address[1]}")).outcome
    assert source.seen == [(TEST_PATH, f"{BEARER[adapter.name]} {TOKEN}")]
    if adapter.name == "mattermost-client":
        assert outcome.error_kind is ErrorKind.AUTH and outcome.status == 401, outcome
        assert target.seen == [(TEST_PATH, None)], "the token must not follow to another host"
    else:
        assert outcome.error_kind is ErrorKind.HTTP and outcome.status == 302, outcome
        assert target.seen == []


# --- a server that accepts the connection and never answers ----------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_the_adapter_has_no_deadline_of_its_own(name: str, silent_listener: SilentListener) -> None:
    """Client4 waits for undici's headersTimeout (300 s); mattermostautodriver forever (``request_timeout=None``)."""
    assert_no_deadline_of_its_own(name, silent_listener, ApiRequest("GET", "users/me"))


#: mattermostautodriver retries a GET that got no response 3 times (4 timeouts and 3.5–7 s
#: of back-off in all); a POST is not retried, so one timeout is all it takes.
SILENT_REQUEST = {"mattermost-client": ApiRequest("GET", "users/me"),
                  "mattermostautodriver": ApiRequest("POST", "users/logout")}


@pytest.mark.parametrize("name", NAMES)
def test_a_configured_timeout_is_the_clients_own(
    name: str, silent_listener: SilentListener, stalling_listener: SilentListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_configured_timeout_is_the_clients(name, silent_listener, stalling_listener, SILENT_REQUEST[name], monkeypatch)
