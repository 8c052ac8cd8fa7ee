"""The Base URLs that never answer: silent as promised, bounded, and on 127.0.0.1 only.

The upstream here is a small HTTP server of the test's own (these listeners stand
in front of the real Mattermost in the scenarios).
"""

import http.server
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from mm_conformance.infra.certificates import make_cases
from mm_conformance.infra.silent import ACCEPTS, HEADERS, SILENCES, TLS, SilentEndpoints


class _Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"id": "the-user"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Upstream", "answered")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def silent(tmp_path) -> Iterator[tuple[SilentEndpoints, ssl.SSLContext]]:
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    cases = make_cases(tmp_path)
    try:
        with SilentEndpoints(upstream=f"http://127.0.0.1:{upstream.server_address[1]}",
                             certificate=cases["trusted"], hold_s=5) as endpoints:
            yield endpoints, ssl.create_default_context(cafile=str(cases.ca_file))
    finally:
        upstream.shutdown()


@pytest.mark.parametrize("silence", SILENCES)
def test_each_listener_never_answers_a_request(silent, silence) -> None:
    endpoints, trust = silent
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):  # connected (and handshaken): only the answer never comes
        httpx.get(f"{endpoints.url(silence)}/api/v4/users/me", verify=trust, timeout=1.0)
    assert time.monotonic() - started < 3


def test_the_stalling_proxy_passes_on_the_upstreams_status_and_headers_only(silent) -> None:
    endpoints, _ = silent
    port = int(endpoints.url(HEADERS).rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
        connection.sendall(b"GET /api/v4/users/me HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received:
            received += connection.recv(4096)
        assert received.startswith(b"HTTP/1.0 200") and b"X-Upstream: answered" in received
        assert received.endswith(b"\r\n\r\n"), "not a byte of the body"
        connection.settimeout(0.5)
        with pytest.raises(TimeoutError):
            connection.recv(4096)


def test_listeners_are_on_loopback_and_tls_only_where_said(silent) -> None:
    endpoints, _ = silent
    for silence in SILENCES:
        assert endpoints.url(silence).split("//")[1].startswith("127.0.0.1:")
    assert endpoints.url(TLS).startswith("https://") and endpoints.url(ACCEPTS).startswith("http://")


def test_a_held_connection_is_closed_when_the_hold_runs_out(tmp_path) -> None:
    cases = make_cases(tmp_path)
    with SilentEndpoints(upstream="http://127.0.0.1:9", certificate=cases["trusted"], hold_s=0.5) as endpoints:
        port = int(endpoints.url(ACCEPTS).rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=3) as connection:
            started = time.monotonic()
            assert connection.recv(1) == b""  # closed by the listener, not by the test's timeout
            assert time.monotonic() - started < 2.5


def test_only_loopback_upstreams_are_accepted(tmp_path) -> None:
    with pytest.raises(ValueError, match="plain http server on 127.0.0.1"):
        SilentEndpoints(upstream="http://example.com", certificate=make_cases(tmp_path)["trusted"])
