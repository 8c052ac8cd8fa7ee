"""Loopback endpoints the adapter check points an adapter at: never a Mattermost, never a network.

Each :class:`FixedAnswer` is a small HTTP server on 127.0.0.1 that answers every request,
whatever its method or path, with one status and one JSON body, shaped as Mattermost's
(``{"id": …, "message": …, "status_code": …}`` for an error); it counts the requests it got.
:func:`refused_port` holds a port on 127.0.0.1 that is bound but not listening, so a connection
to it is refused at once, and no other program can take it while it is held.

>>> with FixedAnswer(401, MATTERMOST_ERRORS[401]) as server:
...     server.base_url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: What Mattermost answers, status by status, to a call the check asks for.
MATTERMOST_ERRORS: dict[int, dict[str, object]] = {
    401: {"id": "api.context.session_expired.app_error",
          "message": "Invalid or expired session, please login again.", "status_code": 401},
    403: {"id": "api.context.permissions.app_error",
          "message": "You do not have the appropriate permissions.", "status_code": 403},
    404: {"id": "api.context.404.app_error", "message": "Sorry, we could not find the page.", "status_code": 404},
}

#: What the check's server answers with 200 (a user, as ``GET /users/me`` would).
A_USER: dict[str, object] = {"id": "adaptercheckuser000000000u", "username": "adapter-check"}


class FixedAnswer:
    """An HTTP server on 127.0.0.1 answering ``status`` and ``body`` (JSON) to every request.

    Use it as a context manager: it serves from a daemon thread from ``__enter__`` until
    ``__exit__``. ``base_url`` is its site URL (``http://127.0.0.1:<port>``, no path: some
    clients take no base path), ``requests`` the number of requests it answered.
    """

    def __init__(self, status: int, body: object) -> None:
        self.status = status
        self.body = body
        self.requests = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # Polling every 50 ms rather than serve_forever's 500: shutdown() waits for the next poll.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=f"loopback-{status}",
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FixedAnswer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Answer(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Mattermost: a client may reuse its connection

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)  # read the body out, so the connection stays usable
                data = json.dumps(endpoint.body).encode()
                with endpoint._lock:
                    endpoint.requests += 1
                self.send_response(endpoint.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = answer

            def log_message(self, format: str, *args: object) -> None:
                pass  # the check prints its own lines; a request line would carry nothing useful

        return Answer


@contextlib.contextmanager
def refused_port() -> Iterator[str]:
    """A site URL on 127.0.0.1 whose port refuses connections, for as long as the context lasts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))  # bound, never listening: a SYN to it is answered with a reset
        yield f"http://127.0.0.1:{held.getsockname()[1]}"
