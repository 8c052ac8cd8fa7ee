"""Base URLs that lead to a server that never answers, in front of the real Mattermost.

Three listeners on 127.0.0.1 (the suite's own, beside the implementation: wherever the Docker
host is), one per way a server can fall silent (the
phrases are the scenario's words, in ``features/unresponsive.feature``):

``accepts the connection and never answers``
    TCP: the connection is accepted, the request read, nothing ever sent back.
``completes the TLS handshake and never answers``
    The same after a TLS handshake with the suite's ``trusted`` certificate.
``sends its status line and headers, then never the body``
    The request is forwarded to Mattermost; its status line and headers are
    passed back, its body never is: a proxy that stalls mid-response.

And one Base URL where nothing listens at all (:func:`nothing_listening`): every connection is
refused at once.

Bounded, as every fault the suite makes: each connection is held at most
``hold_s`` seconds (then closed), at most :data:`MAX_CONNECTIONS` are held at
once (more are closed at once), and nothing listens anywhere but 127.0.0.1.
Nothing here records a token: the listeners do not look at what they are sent.

>>> import tempfile, pathlib
>>> from mm_conformance.infra.certificates import make_cases
>>> cases = make_cases(pathlib.Path(tempfile.mkdtemp()))
>>> with SilentEndpoints(upstream="http://127.0.0.1:8065", certificate=cases["trusted"]) as silent:
...     silent.url("accepts the connection and never answers").startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

from mm_conformance.infra.certificates import CertificateCase
from mm_conformance.infra.docker_host import LOOPBACK, LOOPBACK_NAME, docker_host

ACCEPTS = "accepts the connection and never answers"
TLS = "completes the TLS handshake and never answers"
HEADERS = "sends its status line and headers, then never the body"
SILENCES = (ACCEPTS, TLS, HEADERS)
#: Connections held open at once; a client that opens more gets them closed at once.
MAX_CONNECTIONS = 32


class SilentEndpoints:
    """The three silent listeners; a context manager (``close`` stops them and drops every connection)."""

    def __init__(self, *, upstream: str, certificate: CertificateCase, hold_s: float = 60.0) -> None:
        parts = urlsplit(upstream)
        where = docker_host()
        if parts.scheme != "http" or parts.hostname not in (LOOPBACK, LOOPBACK_NAME, where.address, where.other_name):
            raise ValueError(f"the silent endpoints forward to a plain http server on 127.0.0.1 or the Docker host "
                             f"({where.address}), not {upstream!r}")
        self._upstream = (parts.hostname, parts.port or 80)
        self._hold_s = hold_s
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(certificate.cert_file, certificate.key_file)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._closed = threading.Event()
        self._listeners: dict[str, socket.socket] = {}
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        serve: dict[str, Callable[[socket.socket], socket.socket]] = {
            ACCEPTS: self._say_nothing, TLS: self._handshake_then_say_nothing, HEADERS: self._headers_then_stall}
        for silence, handler in serve.items():
            listener = socket.create_server(("127.0.0.1", 0))
            self._listeners[silence] = listener
            threading.Thread(target=self._accept, args=(listener, handler), daemon=True,
                             name=f"silent-{len(self._listeners)}").start()

    def url(self, silence: str) -> str:
        """The Base URL of the listener that falls silent in the way ``silence`` says."""
        port = self._listeners[silence].getsockname()[1]
        return f"{'https' if silence == TLS else 'http'}://127.0.0.1:{port}"

    def close(self) -> None:
        self._closed.set()
        for listener in self._listeners.values():
            listener.close()
        with self._lock:
            for connection in self._open:
                _close(connection)
            self._open.clear()

    def __enter__(self) -> SilentEndpoints:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- serving -------------------------------------------------------------------

    def _accept(self, listener: socket.socket, handler: Callable[[socket.socket], socket.socket]) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:  # closed
                return
            if not self._slots.acquire(blocking=False):
                _close(connection)
                continue
            threading.Thread(target=self._serve, args=(connection, handler), daemon=True).start()

    def _serve(self, connection: socket.socket, handler: Callable[[socket.socket], socket.socket]) -> None:
        """Run ``handler``, then hold the connection it returns open, saying nothing more."""
        with self._lock:
            self._open.add(connection)
        deadline = time.monotonic() + self._hold_s
        connection.settimeout(self._hold_s)
        held = connection
        try:
            held = handler(connection)
            with self._lock:
                self._open.add(held)
            _hold(held, deadline, self._closed)
        except OSError:
            pass  # the client gave up, or the hold ran out
        finally:
            with self._lock:
                self._open.discard(connection)
                self._open.discard(held)
            _close(held)
            _close(connection)
            self._slots.release()

    def _say_nothing(self, connection: socket.socket) -> socket.socket:
        return connection

    def _handshake_then_say_nothing(self, connection: socket.socket) -> socket.socket:
        # wrap_socket takes the connection over (the plain socket object is detached).
        return self._tls.wrap_socket(connection, server_side=True)

    def _headers_then_stall(self, connection: socket.socket) -> socket.socket:
        request = _read_request(connection)
        with socket.create_connection(self._upstream, timeout=10) as upstream:
            upstream.sendall(request)
            answer = _read_until(upstream, b"\r\n\r\n")
        head = answer[:answer.index(b"\r\n\r\n") + 4]
        connection.sendall(head)  # Mattermost's status line and headers; its body never follows
        return connection


@contextlib.contextmanager
def nothing_listening() -> Iterator[str]:
    """An https Base URL on 127.0.0.1 whose port is taken and where nothing listens: every connection
    is refused at once (a socket bound without ``listen``: the port cannot be reused meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as reserved:
        reserved.bind(("127.0.0.1", 0))
        yield f"https://127.0.0.1:{reserved.getsockname()[1]}"


def _read_request(connection: socket.socket) -> bytes:
    """One HTTP/1.1 request: its head and as much body as Content-Length says."""
    head = _read_until(connection, b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or 0)
    body = head.split(b"\r\n\r\n", 1)[1]
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    # One request per connection: the upstream must close, so it never waits for a next one.
    head = head.split(b"\r\n\r\n", 1)[0]
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join(lines + [b"Connection: close"]) + b"\r\n\r\n" + body


def _read_until(connection: socket.socket, marker: bytes, limit: int = 1 << 20) -> bytes:
    data = b""
    while marker not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the end of the HTTP head")
        data += chunk
        if len(data) > limit:
            raise ConnectionError("HTTP head too long")
    return data  # with whatever followed the marker in the last chunk


def _hold(connection: socket.socket, deadline: float, closed: threading.Event) -> None:
    """Read and drop whatever the client sends, until it closes, the hold runs out or the endpoints close."""
    while not closed.is_set() and time.monotonic() < deadline:
        connection.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
        try:
            if not connection.recv(65536):
                return
        except TimeoutError:
            continue


def _close(connection: socket.socket) -> None:
    try:
        connection.close()
    except OSError:
        pass
