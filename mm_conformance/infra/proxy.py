"""A TLS front door for Mattermost: nginx with one HTTPS listener per certificate case.

Each case of :mod:`mm_conformance.infra.certificates` gets its own listener (its own
container port, published on a free port of the Docker host: 127.0.0.1 on a local engine) that terminates TLS
with the case's certificate chain and forwards to one upstream::

    cases = make_cases(tmp_path)
    proxy = TLSProxyContainer(cases).with_network(network).with_upstream("http://mattermost:8065")
    with proxy:
        base_url = proxy.url("expired")            # https://127.0.0.1:<port>/
        ...                                        # a strict credential must fail with "tls"
        assert proxy.credentials_passed("expired") == 0   # the token never got through

**Proof that a token never got through.** Every listener writes its own access
log, which says only *whether* a request carried a credential, never its value
(see :mod:`~mm_conformance.infra.nginx`), with the path without the query string.
A client that refuses the certificate aborts the handshake before sending any
HTTP, so its listener logs nothing at all. The suite reads the logs over HTTP
(:class:`~mm_conformance.infra.nginx.AccessLogs`), only once nginx counts no
request in progress.

**Forwarding** follows Mattermost's documented nginx configuration ("Set up an
NGINX proxy"): ``Host`` as the client sent it (port included), ``X-Real-IP``,
``X-Forwarded-For``, ``X-Forwarded-Proto``, HTTP/1.1 with keep-alive to the upstream, and the
WebSocket upgrade headers on ``/api/v4/websocket``. The upstream name must resolve when the proxy starts (nginx
resolves it once), so start Mattermost first, on the same network. The configuration
is ``templates/tls-proxy.conf.j2``.

**Machinery-test mode.** :meth:`TLSProxyContainer.with_static_upstream` replaces
the upstream with a fixed answer inside nginx: ``200`` and a small JSON user for
any ``/api/v4/`` path, ``404`` elsewhere. It exists only so the suite can test
this class and its certificates without a Mattermost server; scenarios use
:meth:`~TLSProxyContainer.with_upstream`.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from testcontainers.core.waiting_utils import WaitStrategy

from mm_conformance.infra.certificates import CertificateCase
from mm_conformance.infra.containers import raise_if_exited
from mm_conformance.infra.docker_host import docker_host
from mm_conformance.infra.images import NGINX_IMAGE
from mm_conformance.infra.nginx import CONFIG_DIR, CREDENTIAL_PRESENT, SAFE_NAME, NginxContainer, render

#: The first listener's container port; the others follow in the order of the cases.
FIRST_PORT = 8443
#: The JSON user the static upstream answers with.
STATIC_USER = {"id": "static-upstream-user", "username": "tls-proxy-static"}


class TLSProxyContainer(NginxContainer):
    """nginx terminating TLS with one listener per certificate case, in front of one upstream.

    Ready when every listener completes a TLS handshake (without verifying: the
    point of most cases is a bad certificate). Call :meth:`with_upstream` or
    :meth:`with_static_upstream` before starting it.
    """

    def __init__(self, cases: Iterable[CertificateCase], image: str = NGINX_IMAGE, *,
                 startup_timeout_s: int = 30, **kwargs: Any) -> None:
        super().__init__("tls-proxy", "TLS proxy", image, **kwargs)
        self.cases: dict[str, CertificateCase] = {case.name: case for case in cases}
        if not self.cases:
            raise ValueError("TLSProxyContainer needs at least one certificate case")
        self.ports_by_case = {name: FIRST_PORT + i for i, name in enumerate(self.cases)}
        self._upstream: str | None = None  # "host:port", or "" for the static upstream
        self._upstream_scheme = "http"
        for name, case in self.cases.items():
            if not SAFE_NAME.match(name):
                raise ValueError(f"certificate case name {name!r} is not lower-case letters, digits and dashes")
            self.publish(self.ports_by_case[name])
            self.with_copy_into_container(case.chain_pem, f"{CONFIG_DIR}/{name}.crt")
            self.with_copy_into_container(case.key_pem, f"{CONFIG_DIR}/{name}.key", mode=0o600)
        self.waiting_for(_EveryListenerAcceptsTLS(list(self.ports_by_case.values()))
                         .with_startup_timeout(startup_timeout_s).with_poll_interval(0.1))

    # --- builders ----------------------------------------------------------------

    def with_upstream(self, url: str) -> TLSProxyContainer:
        """Forward to ``url``, e.g. ``http://mattermost:8065`` (a name on the proxy's network).

        ``https://`` works too, for a Mattermost that terminates TLS itself: one
        server can then be reached both directly and through every listener.
        nginx does not verify that hop (it stays inside the suite's network; what
        is under test is the client's verification, not nginx's).
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
                or parts.query:
            raise ValueError(f"upstream {url!r} is not http(s)://<host>[:<port>]")
        self._upstream_scheme = parts.scheme
        self._upstream = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        return self

    def with_static_upstream(self) -> TLSProxyContainer:
        """Machinery-test mode: answer ``/api/v4/…`` with ``200`` and :data:`STATIC_USER` from nginx itself."""
        self._upstream = ""
        return self

    # --- what tests read ---------------------------------------------------------

    @property
    def case_names(self) -> list[str]:
        return list(self.cases)

    def url(self, case_name: str) -> str:
        """The base URL of one case's listener: ``https://127.0.0.1:<port>/`` on a local engine."""
        return docker_host().url("https", self.published[self._port(case_name)]) + "/"

    def access_log(self, case_name: str) -> list[str]:
        """The listener's access log, one line per HTTP request: time, method, path, status,
        ``credentials=present|absent``, upstream address, query string. Never a token."""
        self._port(case_name)
        return self.logs.lines(case_name)

    def queries(self, case_name: str, path: str) -> list[str]:
        """The query string of each request to ``path`` that reached this listener, as it arrived
        (``""`` for none; ``withheld`` when it carried a token)."""
        found = []
        for line in self.access_log(case_name):
            words = line.split()
            if len(words) > 2 and words[2] == path:
                query = next((w.removeprefix("query=") for w in words if w.startswith("query=")), "-")
                found.append("" if query == "-" else query)
        return found

    def requests(self, case_name: str) -> int:
        """How many HTTP requests reached this listener (a refused handshake sends none)."""
        return len(self.access_log(case_name))

    def credentials_passed(self, case_name: str) -> int:
        """How many requests reached this listener carrying a credential (header, query or cookie)."""
        return sum(CREDENTIAL_PRESENT in line.split() for line in self.access_log(case_name))

    # --- configuration -----------------------------------------------------------

    def _port(self, case_name: str) -> int:
        try:
            return self.ports_by_case[case_name]
        except KeyError:
            raise KeyError(f"no certificate case {case_name!r}; the proxy has {', '.join(self.cases)}") from None

    def nginx_conf(self) -> str:
        """The complete nginx.conf this container runs (for reading and for failure reports)."""
        if self._upstream is None:
            raise ValueError("call with_upstream(...) or with_static_upstream() before starting the proxy")
        return render("tls-proxy.conf.j2", listeners=self.ports_by_case, upstream=self._upstream,
                      scheme=self._upstream_scheme, static_user=json.dumps(STATIC_USER))


class _EveryListenerAcceptsTLS(WaitStrategy):
    """Ready when a TLS handshake completes on every listener; fails at once if nginx exits.

    A bare TCP connect is not enough: Docker's port publisher accepts connections
    before nginx listens. The handshake does not verify the certificate, and sends
    no HTTP request, so it never shows up in an access log.
    """

    def __init__(self, ports: list[int]) -> None:
        super().__init__()
        self._ports = ports

    def wait_until_ready(self, container: Any) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + self._startup_timeout
        pending = list(self._ports)
        host = docker_host().address
        while pending:
            raise_if_exited(container, "TLS proxy")
            port = int(container.get_exposed_port(pending[0]))
            try:
                with socket.create_connection((host, port), timeout=2) as raw, \
                        context.wrap_socket(raw, server_hostname=host):
                    pending.pop(0)
                    continue
            except OSError:  # ssl.SSLError is an OSError: nginx not listening yet
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"nginx listener {pending[0]} did not accept TLS within "
                                   f"{self._startup_timeout:.0f} s")
            time.sleep(self._poll_interval)  # polling interval, not a fixed wait
