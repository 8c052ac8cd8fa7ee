"""The third-party adapters (n8n's own credential code, mattermostdriver) speak protocol v1.

No Mattermost here, and no fake Mattermost either: these tests check each
adapter's *plumbing* through :class:`~mm_conformance.protocol.runner.Implementation`
(the real subprocess, the real protocol) against things that are not Mattermost:

* a base URL without a scheme: whatever the implementation does with it is a
  finding, recorded (``record_property``) but not judged; the adapter must answer;
* a closed port on 127.0.0.1: a ``network`` error;
* a generic HTTPS endpoint on 127.0.0.1 (an ``ssl``-wrapped ``http.server`` whose
  certificate comes from a trustme CA): without that CA the handshake fails
  (``tls``); with "Ignore SSL Issues", or with the CA handed over as ``caFile``, the
  request reaches the server, which answers every path with Mattermost's 401
  "session expired" JSON, and the test checks the path and the ``Authorization:
  Bearer`` header it received. It says nothing about Mattermost's behaviour;
* a plain web page (200 ``text/html``) where the API should be: what each reports;
* one HTTPS endpoint per certificate case of :mod:`mm_conformance.infra.certificates`, with
  the suite's root CA as ``caFile``: ``trusted`` connects, every other case is ``tls``
  (Node reports some of them, e.g. ``issued-by-leaf``, with code ``UNSPECIFIED``);
* a listener on 127.0.0.1 that accepts the connection and never answers: the adapter
  has no deadline of its own (the implementation's timeouts are its own: 300 s for n8n,
  none for mattermostdriver), so it is still waiting when the suite's deadline passes,
  and the suite's kill leaves nothing behind; with the adapter's timeout variable set
  (what a user who configures a timeout gets) the client itself answers ``timeout``, and
  a 200 whose body never comes is no success.

The n8n tests are skipped (as ``infrastructure: …``) until
``mm-conformance adapters install`` has installed n8n.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme

from mm_conformance.protocol.adapters import KNOWN_IMPLEMENTATIONS, AdapterNotInstalled, declared_environment
from mm_conformance.infra.certificates import CertificateCases, make_cases
from mm_conformance.protocol.environment import adapter_environment
from mm_conformance.protocol.runner import AdapterTimedOut, Implementation
from mm_conformance.protocol.wire import ApiRequest, Credential, ErrorKind

TOKEN = "adaptertesttoken0123456789"  # 26 characters, like a real token (and registered as a secret)

SESSION_EXPIRED = {
    "id": "api.context.session_expired.app_error",
    "message": "Invalid or expired session, please login again.",
    "status_code": 401,
}

#: Each adapter's "test" request path (n8n's credential test is GET /users, the driver's is /users/me).
TEST_PATHS = {"n8n": "/api/v4/users", "mattermostdriver": "/api/v4/users/me"}

#: How many times each sends a request that is answered 401. n8n-core's
#: httpRequestWithAuthentication retries once after any 401 (its "token expired,
#: run preAuthentication and try again" path, taken even by credentials that have
#: no preAuthentication), with the same token: an observed behaviour, pinned here.
ATTEMPTS_ON_401 = {"n8n": 2, "mattermostdriver": 1}


# --- the adapters -------------------------------------------------------------------------


def adapter_command(name: str) -> str:
    """A shipped adapter's command line; the test is skipped (infrastructure) until it is installed."""
    try:
        return KNOWN_IMPLEMENTATIONS[name]()
    except AdapterNotInstalled as error:
        pytest.skip(f"infrastructure: {error}")


@pytest.fixture(scope="module", params=["n8n", "mattermostdriver"])
def adapter(request: pytest.FixtureRequest) -> Iterator[Implementation]:
    """One running adapter per implementation for the whole module (n8n takes ~3 s to load)."""
    name = request.param
    with Implementation(name, adapter_command(name), timeout_s=30.0) as impl:
        yield impl


# --- things to talk to ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def closed_port() -> Iterator[int]:
    """A port bound on 127.0.0.1 but not listening (held for the module, so nobody else takes it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@dataclass
class Seen:
    method: str
    path: str  #: the request-target as sent (path and query)
    authorization: str | None
    body: bytes = b""
    content_type: str | None = None


@dataclass
class HttpsEndpoint:
    """A generic HTTPS server on 127.0.0.1; ``ca_file`` is the PEM of the CA that signed its certificate."""

    url: str
    ca_file: str
    seen: list[Seen] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        # The request-target as sent: http.server collapses a leading "//" in self.path.
        target = self.requestline.split(" ")[1]
        self.server.endpoint.seen.append(
            Seen(self.command, target, self.headers.get("Authorization"), body, self.headers.get("Content-Type"))
        )
        body = json.dumps(SESSION_EXPIRED).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    endpoint: HttpsEndpoint

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # failed handshakes are what some tests are about


@contextlib.contextmanager
def serve_https(context: ssl.SSLContext, ca_file: str, name: str = "https-endpoint") -> Iterator[HttpsEndpoint]:
    """Serve :class:`_Handler` over TLS with ``context`` on 127.0.0.1 while the block runs."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.endpoint = HttpsEndpoint(f"https://127.0.0.1:{server.server_address[1]}", ca_file)
    # A short poll interval: shutdown() waits for it, once per endpoint (nine of them for the cases).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True)
    thread.start()
    try:
        yield server.endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def https_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsEndpoint]:
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("https-endpoint") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with serve_https(context, str(ca_file)) as endpoint:
        yield endpoint


@dataclass
class CertificateEndpoints:
    """One HTTPS endpoint per certificate case (by case name), all made by one :func:`make_cases`."""

    cases: CertificateCases
    endpoints: dict[str, HttpsEndpoint]

    def __getitem__(self, name: str) -> HttpsEndpoint:
        endpoint = self.endpoints[name]
        endpoint.seen.clear()
        return endpoint


#: Every case of :mod:`mm_conformance.infra.certificates` a strict credential refuses
#: (``test_the_failing_cases_are_all_of_them`` keeps this list complete).
FAILING_CERTIFICATE_CASES = ["self-signed", "expired", "not-yet-valid", "wrong-host", "untrusted-root",
                             "incomplete-chain", "expired-intermediate", "issued-by-leaf"]


@pytest.fixture(scope="module")
def certificate_endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CertificateEndpoints]:
    """Every certificate case served by its own HTTPS endpoint on 127.0.0.1, ``caFile`` = the suite root."""
    cases = make_cases(tmp_path_factory.mktemp("certificate-cases"))
    with contextlib.ExitStack() as stack:
        endpoints: dict[str, HttpsEndpoint] = {}
        for case in cases:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(case.cert_file, case.key_file)  # the leaf and what the case sends after it
            endpoints[case.name] = stack.enter_context(serve_https(context, str(cases.ca_file), f"https-{case.name}"))
        yield CertificateEndpoints(cases, endpoints)


@pytest.fixture()
def endpoint(https_endpoint: HttpsEndpoint) -> HttpsEndpoint:
    https_endpoint.seen.clear()
    return https_endpoint


# --- (a) a base URL without scheme: a finding, not a verdict ----------------------------------


@pytest.mark.parametrize("operation", ["test", "request"])
def test_base_url_without_scheme_gets_an_answer(
    adapter: Implementation, operation: str, record_property: pytest.RecordProperty
) -> None:
    credential = Credential(TOKEN, "mattermost.example.com")
    if operation == "test":
        observation = adapter.check(credential)
    else:
        observation = adapter.request(credential, ApiRequest("GET", "users/me"))
    outcome = observation.outcome
    # Implementation raised AdapterFailure if the answer was not valid protocol v1; the kind is recorded.
    record_property(f"{adapter.name}_{operation}_no_scheme", observation.describe())
    print(f"{adapter.name} {operation} with baseUrl 'mattermost.example.com': {observation.describe()}")
    assert outcome.ok or outcome.error_kind in ErrorKind
    assert adapter.process is not None and adapter.process.poll() is None, "the adapter exited"


# --- (b) nobody listening ------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["test", "request"])
def test_closed_port_is_a_network_error(adapter: Implementation, closed_port: int, operation: str) -> None:
    credential = Credential(TOKEN, f"http://127.0.0.1:{closed_port}")
    if operation == "test":
        outcome = adapter.check(credential).outcome
    else:
        outcome = adapter.request(credential, ApiRequest("GET", "users/me")).outcome
    assert outcome.error_kind is ErrorKind.NETWORK, outcome
    assert outcome.status is None and outcome.body is None
    assert TOKEN not in (outcome.error_message or "")


# --- (c) TLS against a generic HTTPS endpoint ---------------------------------------------------


def test_untrusted_certificate_is_a_tls_error(adapter: Implementation, endpoint: HttpsEndpoint) -> None:
    outcome = adapter.check(Credential(TOKEN, endpoint.url)).outcome
    assert outcome.error_kind is ErrorKind.TLS, outcome
    assert outcome.status is None
    assert endpoint.seen == [], "no HTTP request may pass a failed handshake"


def test_ignore_ssl_issues_reaches_the_server_with_the_token(adapter: Implementation, endpoint: HttpsEndpoint) -> None:
    outcome = adapter.check(Credential(TOKEN, endpoint.url, allow_unauthorized_certs=True)).outcome
    assert outcome.error_kind is ErrorKind.AUTH, outcome
    assert outcome.status == 401 and outcome.body == SESSION_EXPIRED
    expected = (TEST_PATHS[adapter.name], f"Bearer {TOKEN}")
    assert [(s.path, s.authorization) for s in endpoint.seen] == [expected] * ATTEMPTS_ON_401[adapter.name]
    assert TOKEN not in (outcome.error_message or "")


def test_request_goes_to_base_api_v4_endpoint(adapter: Implementation, endpoint: HttpsEndpoint) -> None:
    credential = Credential(TOKEN, endpoint.url, allow_unauthorized_certs=True)
    outcome = adapter.request(credential, ApiRequest("GET", "users/me")).outcome
    assert outcome.error_kind is ErrorKind.AUTH and outcome.status == 401, outcome
    expected = ("GET", "/api/v4/users/me", f"Bearer {TOKEN}")
    assert [(s.method, s.path, s.authorization) for s in endpoint.seen] == [expected] * ATTEMPTS_ON_401[adapter.name]


#: The path each one requests for odd base URLs (the mapping of mattermostdriver strips
#: trailing slashes; n8n's `.replace(/\/$/, "")` strips one).
ODD_BASE_PATHS = {
    ("n8n", "//"): "//api/v4/users",
    ("n8n", "/api/v4"): "/api/v4/api/v4/users",
    ("n8n", "/sub/"): "/sub/api/v4/users",
    ("mattermostdriver", "//"): "/api/v4/users/me",
    ("mattermostdriver", "/api/v4"): "/api/v4/api/v4/users/me",
    ("mattermostdriver", "/sub/"): "/sub/api/v4/users/me",
}


@pytest.mark.parametrize("suffix", ["//", "/api/v4", "/sub/"])
def test_paths_for_odd_base_urls(adapter: Implementation, endpoint: HttpsEndpoint, suffix: str) -> None:
    outcome = adapter.check(Credential(TOKEN, endpoint.url + suffix, allow_unauthorized_certs=True)).outcome
    assert outcome.status == 401, outcome
    assert {s.path for s in endpoint.seen} == {ODD_BASE_PATHS[adapter.name, suffix]}


def test_ca_file_is_trusted(adapter: Implementation, endpoint: HttpsEndpoint) -> None:
    outcome = adapter.check(Credential(TOKEN, endpoint.url), ca_file=endpoint.ca_file).outcome
    assert outcome.error_kind is ErrorKind.AUTH and outcome.status == 401, outcome
    assert [s.path for s in endpoint.seen] == [TEST_PATHS[adapter.name]] * ATTEMPTS_ON_401[adapter.name]
    # …and only for the request that names it.
    endpoint.seen.clear()
    assert adapter.check(Credential(TOKEN, endpoint.url)).outcome.error_kind is ErrorKind.TLS
    assert endpoint.seen == []


def test_unreadable_ca_file_is_answered(adapter: Implementation, endpoint: HttpsEndpoint, tmp_path: Path) -> None:
    outcome = adapter.check(Credential(TOKEN, endpoint.url), ca_file=str(tmp_path / "missing.pem")).outcome
    assert outcome.error_kind is ErrorKind.CONFIG, outcome
    assert endpoint.seen == []


# --- (c') every way a certificate goes wrong, with the right caFile ---------------------------


def test_the_failing_cases_are_all_of_them(certificate_endpoints: CertificateEndpoints) -> None:
    assert [c.name for c in certificate_endpoints.cases if not c.expect_strict_ok] == FAILING_CERTIFICATE_CASES


def test_the_trusted_case_connects(adapter: Implementation, certificate_endpoints: CertificateEndpoints) -> None:
    endpoint = certificate_endpoints["trusted"]
    outcome = adapter.check(Credential(TOKEN, endpoint.url), ca_file=endpoint.ca_file).outcome
    assert outcome.error_kind is ErrorKind.AUTH and outcome.status == 401, outcome
    assert [s.path for s in endpoint.seen] == [TEST_PATHS[adapter.name]] * ATTEMPTS_ON_401[adapter.name]


@pytest.mark.parametrize("case", FAILING_CERTIFICATE_CASES)
@pytest.mark.parametrize("operation", ["test", "request"])
def test_every_failing_certificate_case_is_a_tls_error(
    adapter: Implementation, certificate_endpoints: CertificateEndpoints, case: str, operation: str
) -> None:
    """With Ignore SSL Issues off and the suite root as caFile, each case is ``tls`` (never ``network``).

    Node reports ``issued-by-leaf`` ("key usage does not include certificate
    signing") with code ``UNSPECIFIED``: it must still be ``tls``.
    """
    endpoint = certificate_endpoints[case]
    credential = Credential(TOKEN, endpoint.url)
    if operation == "test":
        outcome = adapter.check(credential, ca_file=endpoint.ca_file).outcome
    else:
        outcome = adapter.request(credential, ApiRequest("GET", "users/me"), ca_file=endpoint.ca_file).outcome
    assert outcome.error_kind is ErrorKind.TLS, outcome
    assert outcome.status is None and outcome.body is None
    assert endpoint.seen == [], "no HTTP request may pass a failed handshake"
    assert TOKEN not in (outcome.error_message or "")


# --- (d) a web page where the API should be -----------------------------------------------------


#: Whether each reports a 200 web page as success. Observed and pinned (the README's findings
#: say so): neither looks at what answered, so a wrong Base URL passes with any token.
WEB_PAGE_IS_OK = {"n8n": True, "mattermostdriver": True}


def test_a_web_page_where_the_api_should_be(adapter: Implementation, web_page_site: str) -> None:
    outcome = adapter.check(Credential(TOKEN, web_page_site)).outcome
    assert outcome.status == 200, outcome
    assert outcome.ok is WEB_PAGE_IS_OK[adapter.name], outcome


# --- (e) a server that never answers: no deadline of the adapter's, the client's own timeouts -----


#: What a stalling listener sends before falling silent: a 200 whose JSON body never comes.
STALLED_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"


class SilentListener:
    """A listener on 127.0.0.1 that accepts every connection and never answers.

    With ``stall_after_headers``, it answers each request with :data:`STALLED_ANSWER` (the
    status line, the headers, one byte of the body) and then falls silent. It keeps each
    connection open until the test ends, so only the client can end one: by giving up (a
    timeout of its own) or by going away (the suite killing its adapter).
    """

    def __init__(self, stall_after_headers: bool = False) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self._stall_after_headers = stall_after_headers
        self._thread = threading.Thread(target=self._accept, name="silent-listener", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return  # closed
            self.connections.append(connection)
            if self._stall_after_headers:
                threading.Thread(target=self._stall, args=(connection,), daemon=True).start()

    @staticmethod
    def _stall(connection: socket.socket) -> None:
        received = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in received:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                received += chunk
            connection.sendall(STALLED_ANSWER)

    def all_closed_by_the_client(self, within_s: float) -> bool:
        """True once the other end of every accepted connection has closed it (EOF), within ``within_s``."""
        deadline = time.monotonic() + within_s
        for connection in list(self.connections):
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                connection.settimeout(remaining)
                try:
                    if not connection.recv(65536):
                        break  # EOF: closed by the client's side
                except TimeoutError:
                    return False
                except OSError:
                    break  # reset: closed too
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not, on Linux)
        self._socket.close()
        for connection in self.connections:
            connection.close()
        self._thread.join(timeout=5)


@pytest.fixture()
def silent_listener() -> Iterator[SilentListener]:
    listener = SilentListener()
    try:
        yield listener
    finally:
        listener.close()


@pytest.fixture()
def stalling_listener() -> Iterator[SilentListener]:
    listener = SilentListener(stall_after_headers=True)
    try:
        yield listener
    finally:
        listener.close()


#: Each adapter's environment variable for the client's own timeout option (unset by default).
TIMEOUT_ENV = {
    "n8n": "MM_CONFORMANCE_N8N_TIMEOUT",
    "mattermostdriver": "MM_CONFORMANCE_DRIVER_TIMEOUT",
    "mattermost-client": "MM_CONFORMANCE_CLIENT_TIMEOUT",
    "mattermostautodriver": "MM_CONFORMANCE_AUTODRIVER_TIMEOUT",
}
#: What the client's own timeout says, in the answer's message (observed): axios's
#: "timeout of 1000ms exceeded" (ECONNABORTED), undici's headers timeout, requests' and
#: httpx's ReadTimeout. An answer of the adapter's own would not say it.
CLIENT_TIMEOUT_SAYS = {
    "n8n": "timeout of 1000ms exceeded",
    "mattermostdriver": "ReadTimeout",
    "mattermost-client": "UND_ERR_HEADERS_TIMEOUT",
    "mattermostautodriver": "ReadTimeout",
}
#: A request every adapter answers with ``config`` at once, without the network: it is
#: sent first, with a long deadline, so that the adapter's start-up (n8n: ~3 s) is not
#: counted in the short deadline of the request that follows.
WARM_UP = (Credential(TOKEN, "mattermost.example.com"), ApiRequest("GET", "users/me"))


def started(impl: Implementation) -> int:
    """Start ``impl``'s adapter (one request answered, start-up included); its pid, also its process group."""
    assert impl.request(*WARM_UP, timeout_s=60.0).outcome.error_kind is ErrorKind.CONFIG
    assert impl.process is not None
    return impl.process.pid


def assert_nothing_of_it_runs(process_group: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.killpg(process_group, 0)


def assert_no_deadline_of_its_own(name: str, silent: SilentListener, request: ApiRequest) -> None:
    """Run with the client's default timeouts (all longer than 3 s): still waiting when a 3 s deadline passes.

    The adapter must not answer ``timeout`` on the client's behalf; the suite's kill
    (its process group, SIGKILL) must leave nothing behind that still holds the connection.
    """
    with Implementation(name, adapter_command(name), timeout_s=3.0) as impl:
        group = started(impl)
        with pytest.raises(AdapterTimedOut, match="did not answer request 2 within 3.0 s"):
            impl.request(Credential(TOKEN, silent.url), request)
        assert silent.connections, "the client never connected: it was not waiting on the server"
        assert impl.process is None, "the suite discards an adapter that did not answer"
    assert silent.all_closed_by_the_client(within_s=5.0), "something of the killed adapter still holds the connection"
    assert_nothing_of_it_runs(group)


#: How each reports a 200 whose body stops coming, with a timeout configured (observed):
#: requests raises ``ConnectionError`` for a read timeout in the body, and axios "stream has
#: been aborted" when follow-redirects destroys the idle socket; undici and httpx say timeout.
STALLED_BODY_KIND = {
    "n8n": ErrorKind.NETWORK,
    "mattermostdriver": ErrorKind.NETWORK,
    "mattermost-client": ErrorKind.TIMEOUT,
    "mattermostautodriver": ErrorKind.TIMEOUT,
}


def assert_configured_timeout_is_the_clients(
    name: str, silent: SilentListener, stalling: SilentListener, request: ApiRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the adapter's variable at 1 s (the client's own timeout option), the client gives up by itself.

    Against a server that never answers, and against one that sends a 200's headers and
    never its body: that is no success, and no answer (status ``null``).
    """
    monkeypatch.setenv(TIMEOUT_ENV[name], "1")  # the setting the adapter declares: it gets it, as in a run
    with Implementation(name, adapter_command(name), timeout_s=15.0,
                        env=adapter_environment(declared=declared_environment(name))) as impl:
        group = started(impl)
        observation = impl.request(Credential(TOKEN, silent.url), request)
        outcome = observation.outcome
        # The protocol allows "timeout" or "network" for a client that gave up; all four say timeout.
        assert outcome.error_kind is ErrorKind.TIMEOUT, outcome
        assert CLIENT_TIMEOUT_SAYS[name] in (outcome.error_message or ""), outcome
        assert outcome.status is None and outcome.body is None
        assert 0.9 <= observation.elapsed_s < 5.0, observation.elapsed_s
        assert silent.connections, "the client never connected"
        assert TOKEN not in (outcome.error_message or "")

        observation = impl.request(Credential(TOKEN, stalling.url), request)
        outcome = observation.outcome
        assert outcome.error_kind is STALLED_BODY_KIND[name], outcome
        assert not outcome.ok and outcome.status is None and outcome.body is None, outcome
        assert 0.9 <= observation.elapsed_s < 5.0, observation.elapsed_s
        assert impl.process is not None and impl.process.poll() is None, "the adapter must go on after a timeout"
    assert_nothing_of_it_runs(group)


@pytest.mark.parametrize("name", ["n8n", "mattermostdriver"])
def test_the_adapter_has_no_deadline_of_its_own(name: str, silent_listener: SilentListener) -> None:
    """n8n waits 300 s (axios ``timeout`` n8n sets), mattermostdriver forever (``request_timeout=None``)."""
    assert_no_deadline_of_its_own(name, silent_listener, ApiRequest("GET", "users/me"))


@pytest.mark.parametrize("name", ["n8n", "mattermostdriver"])
def test_a_configured_timeout_is_the_clients_own(
    name: str, silent_listener: SilentListener, stalling_listener: SilentListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_configured_timeout_is_the_clients(
        name, silent_listener, stalling_listener, ApiRequest("GET", "users/me"), monkeypatch)
