"""A TLS front door for Mattermost: nginx with one HTTPS listener per certificate case.

Each case of :mod:`mm_conformance.infra.certificates` gets its own listener (its own
container port, published on a random port of 127.0.0.1) that terminates TLS
with the case's certificate chain and forwards to one upstream::

    cases = make_cases(tmp_path)
    proxy = TLSProxyContainer(cases).with_network(network).with_upstream("http://mattermost:8065")
    with proxy:
        base_url = proxy.url("expired")            # https://127.0.0.1:<port>/
        ...                                        # a strict credential must fail with "tls"
        assert proxy.credentials_passed("expired") == 0   # the token never got through

**Proof that a token never got through.** Every listener writes its own access
log, and each line says only *whether* the request carried a credential in any
way Mattermost accepts one (``Authorization`` header, ``access_token`` query
parameter, ``MMAUTHTOKEN`` cookie), never its value: nginx maps the three to
``present`` or ``absent`` before logging, and the line holds the path without
the query string. A client that refuses the certificate aborts the handshake
before sending any HTTP, so its listener logs nothing at all. The suite reads
the logs over HTTP (:class:`AccessLogs`), only once nginx counts no request in
progress: every request that reached a listener is in its log by then, also
one whose client answered before the response's last byte.

**Forwarding** follows Mattermost's documented nginx configuration ("Set up an
NGINX proxy"): ``Host`` as the client sent it (port included), ``X-Real-IP``, ``X-Forwarded-For``, ``X-Forwarded-Proto``,
HTTP/1.1 with keep-alive to the upstream, and the WebSocket upgrade headers on
``/api/v4/websocket``. The upstream name must resolve when the proxy starts (nginx
resolves it once), so start Mattermost first, on the same network.

**Machinery-test mode.** :meth:`TLSProxyContainer.with_static_upstream` replaces
the upstream with a fixed answer inside nginx: ``200`` and a small JSON user for
any ``/api/v4/`` path, ``404`` elsewhere. It exists only so the suite can test
this class and its certificates without a Mattermost server; scenarios use
:meth:`~TLSProxyContainer.with_upstream`.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpx
from testcontainers.core.container import DockerContainer
from testcontainers.core.waiting_utils import WaitStrategy

from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.certificates import CertificateCase
from mm_conformance.infra.containers import PublishedPorts, raise_if_exited, suite_labels
from mm_conformance.infra.images import NGINX_IMAGE

#: Where listeners are published and reached. Not get_container_host_ip(): inside a
#: container testcontainers picks the bridge gateway, but the certificates are for
#: 127.0.0.1 and nothing but this machine may connect.
HOST = "127.0.0.1"
#: The first listener's container port; the others follow in the order of the cases.
FIRST_PORT = 8443
#: The JSON user the static upstream answers with.
STATIC_USER = {"id": "static-upstream-user", "username": "tls-proxy-static"}

_CONFIG_DIR = "/etc/nginx/mm-conformance"
_LOG_DIR = "/var/log/nginx"
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class TLSProxyContainer(DockerContainer):
    """nginx terminating TLS with one listener per certificate case, in front of one upstream.

    Ready when every listener completes a TLS handshake (without verifying: the
    point of most cases is a bad certificate). Call :meth:`with_upstream` or
    :meth:`with_static_upstream` before starting it.
    """

    def __init__(self, cases: Iterable[CertificateCase], image: str = NGINX_IMAGE, *,
                 startup_timeout_s: float = 30, **kwargs: Any) -> None:
        super().__init__(image, labels=suite_labels("tls-proxy"), **kwargs)
        self.cases: dict[str, CertificateCase] = {case.name: case for case in cases}
        if not self.cases:
            raise ValueError("TLSProxyContainer needs at least one certificate case")
        self.ports_by_case = {name: FIRST_PORT + i for i, name in enumerate(self.cases)}
        self._upstream: str | None = None  # "host:port", or "" for the static upstream
        self._upstream_scheme = "http"
        self.logs = AccessLogs(self, "TLS proxy")
        self.published = PublishedPorts(self)
        for name, case in self.cases.items():
            if not _SAFE_NAME.match(name):
                raise ValueError(f"certificate case name {name!r} is not lower-case letters, digits and dashes")
            # docker-py's (address, port) form; port None means a random free one.
            self.ports[f"{self.ports_by_case[name]}/tcp"] = (HOST, None)  # type: ignore[assignment]
            self.with_copy_into_container(case.chain_pem, f"{_CONFIG_DIR}/{name}.crt")
            self.with_copy_into_container(case.key_pem, f"{_CONFIG_DIR}/{name}.key", mode=0o600)
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

    def stop(self, force: bool = True, delete_volume: bool = True) -> None:
        self.logs.close()
        self.published.forget()
        super().stop(force, delete_volume)

    # --- what tests read ---------------------------------------------------------

    @property
    def case_names(self) -> list[str]:
        return list(self.cases)

    def url(self, case_name: str) -> str:
        """The base URL of one case's listener: ``https://127.0.0.1:<port>/``."""
        return f"https://{HOST}:{self.published[self._port(case_name)]}/"

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

    def _configure(self) -> None:
        # Called by start() just before the container is created: the upstream is known by now.
        self.with_copy_into_container(self.nginx_conf().encode(), "/etc/nginx/nginx.conf")

    def nginx_conf(self) -> str:
        """The complete nginx.conf this container runs (for reading and for failure reports)."""
        if self._upstream is None:
            raise ValueError("call with_upstream(...) or with_static_upstream() before starting the proxy")
        servers = "\n".join(_SERVER.format(port=self.ports_by_case[name], name=name, dir=_CONFIG_DIR,
                                           log_dir=_LOG_DIR, locations=self._locations())
                            for name in self.cases)
        upstream = _UPSTREAM.format(server=self._upstream) if self._upstream else ""
        return nginx_conf(servers, "    default_type application/octet-stream;\n" + upstream)

    def _locations(self) -> str:
        if not self._upstream:
            return _STATIC_LOCATIONS.replace("@USER@", json.dumps(STATIC_USER))
        locations = _PROXY_LOCATIONS.replace("@SCHEME@", self._upstream_scheme)
        if self._upstream_scheme == "https":
            locations = "        proxy_ssl_verify off;  # nginx's default, said out loud\n" + locations
        return locations


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
        while pending:
            raise_if_exited(container, "TLS proxy")
            port = int(container.get_exposed_port(pending[0]))
            try:
                with socket.create_connection((HOST, port), timeout=2) as raw, \
                        context.wrap_socket(raw, server_hostname=HOST):
                    pending.pop(0)
                    continue
            except OSError:  # ssl.SSLError is an OSError: nginx not listening yet
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"nginx listener {pending[0]} did not accept TLS within "
                                   f"{self._startup_timeout:.0f} s")
            time.sleep(self._poll_interval)  # polling interval, not a fixed wait

# --- nginx configuration ---------------------------------------------------------------

#: http-level nginx directives: the log format ``mmc_case``, which says only *whether* a
#: request carried a credential (shared with mm_conformance/redirects.py, whose recorder
#: must prove the same thing the same way). A line ends ``credentials=present|absent upstream=…
#: query=…``: the query string as it arrived (``-`` for none), ``withheld`` when it holds a token.
CREDENTIAL_LOG = """\
    # Whether a request carried a credential, in any way Mattermost accepts one;
    # only this word is logged, never the value.
    map "$http_authorization$arg_access_token$cookie_MMAUTHTOKEN" $mmc_credentials {
        ""      absent;
        default present;
    }
    # The query string as it arrived, unless it holds access_token (then only that it was withheld).
    map $args $mmc_query {
        "~(^|&)access_token="  withheld;
        ""                     -;
        default                $args;
    }
    # $uri is the path without the query string, which may hold access_token.
    log_format mmc_case '$time_iso8601 $request_method $uri $status '
                        'credentials=$mmc_credentials upstream=$upstream_addr query=$mmc_query';
"""
#: What a log line of ``mmc_case`` holds when the request carried a credential.
CREDENTIAL_PRESENT = "credentials=present"

_NGINX_CONF = """\
# Written by mm-conformance for one run; replaces Debian's nginx.conf.
user www-data;
worker_processes 1;
pid /run/nginx.pid;
error_log stderr notice;

events {{
    worker_connections 256;
}}

http {{
    server_tokens off;
    ssl_protocols TLSv1.2 TLSv1.3;
    # No TLS session resumption: every connection shows the certificate again.
    ssl_session_cache off;
    ssl_session_tickets off;
{directives}
{credential_log}
{servers}
}}
"""


class AccessLogs:
    """The access logs of one of the suite's nginx containers, read over its log listener.

    nginx here runs one worker, which writes a request's log line when it finishes
    the request, and counts the request as *reading* or *writing* until then
    (``stub_status``). So :meth:`lines` first waits until nginx reports no request
    in progress but its own question, then reads the log: every request that
    reached the container is in it, also one whose client answered before the
    response's last byte (an earlier read right after the answer could miss it).
    A request still in progress after ``settle_timeout_s`` is an error, never a
    count that may be short. The listener is published on 127.0.0.1 only and logs
    nothing itself; what it serves holds no secret (see :data:`CREDENTIAL_LOG`).
    """

    def __init__(self, container: DockerContainer, role: str, *, settle_timeout_s: float = 5.0) -> None:
        self._container = container
        self._role = role
        self._settle_timeout_s = settle_timeout_s
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()  # one question at a time: ours must be the only one in progress
        container.ports[f"{LOG_LISTENER_PORT}/tcp"] = (HOST, None)  # type: ignore[assignment]

    def lines(self, name: str) -> list[str]:
        """The lines of log ``name`` (a listener's), once every request nginx was serving is in it."""
        with self._lock:
            try:
                client = self._connected()
                self._wait_until_nothing_in_progress(client)
                answer = client.get(f"/mmc/logs/{name}.log")
            except httpx.HTTPError as error:
                raise InfrastructureError(f"cannot read the {self._role}'s access log {name!r}: {error}") from None
        if answer.status_code != 200:
            raise InfrastructureError(f"cannot read the {self._role}'s access log {name!r}: "
                                      f"status {answer.status_code}")
        return answer.text.splitlines()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _connected(self) -> httpx.Client:
        if self._client is None:  # kept open: a read is then a round trip on loopback, ~1 ms
            port = self._container.get_exposed_port(LOG_LISTENER_PORT)
            self._client = httpx.Client(base_url=f"http://{HOST}:{port}", timeout=5, trust_env=False)
        return self._client

    def _wait_until_nothing_in_progress(self, client: httpx.Client) -> None:
        deadline = time.monotonic() + self._settle_timeout_s
        while True:
            status = client.get("/mmc/in-progress").text
            counts = dict(re.findall(r"(Reading|Writing): (\d+)", status))
            if len(counts) != 2:
                raise InfrastructureError(f"the {self._role} answered no request counts: {status[:80]!r}")
            in_progress = int(counts["Reading"]) + int(counts["Writing"]) - 1  # less our own question
            if in_progress <= 0:
                return
            if time.monotonic() > deadline:
                raise InfrastructureError(
                    f"the {self._role} was still serving {in_progress} request(s) {self._settle_timeout_s:.0f} s "
                    "after the implementation answered: what reached it cannot be counted")
            time.sleep(0.005)  # polling interval while nginx finishes a request


def nginx_conf(servers: str, directives: str = "") -> str:
    """A complete nginx.conf for the suite's nginx containers: one worker, TLS 1.2+, no
    session resumption, the credential-only access log and the log listener, around ``servers``."""
    return _NGINX_CONF.format(directives=directives, credential_log=CREDENTIAL_LOG,
                              servers=servers + _LOG_LISTENER)


#: The container port of the listener the suite reads access logs through (:class:`AccessLogs`).
LOG_LISTENER_PORT = 8399

_LOG_LISTENER = f"""
    # Where the suite reads the access logs, and how many requests are in progress; never logged.
    server {{
        listen {LOG_LISTENER_PORT};
        access_log off;
        location = /mmc/in-progress {{
            stub_status;
        }}
        location /mmc/logs/ {{
            alias {_LOG_DIR}/;
            types {{ }}
            default_type text/plain;
        }}
    }}
"""

_UPSTREAM = """
    upstream mattermost {{
        server {server};
        keepalive 32;
    }}
"""

_SERVER = """\
    server {{
        listen {port} ssl;
        ssl_certificate {dir}/{name}.crt;
        ssl_certificate_key {dir}/{name}.key;
        access_log {log_dir}/{name}.log mmc_case;
{locations}
    }}
"""

# Mattermost's documented proxy locations (docs.mattermost.com, "Set up an NGINX proxy").
_PROXY_LOCATIONS = """\
        location ~ /api/v[0-9]+/(users/)?websocket$ {
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            client_max_body_size 50M;
            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Frame-Options SAMEORIGIN;
            proxy_buffers 256 16k;
            proxy_buffer_size 16k;
            client_body_timeout 60;
            send_timeout 300;
            lingering_timeout 5;
            proxy_connect_timeout 90;
            proxy_send_timeout 300;
            proxy_read_timeout 90s;
            proxy_http_version 1.1;
            proxy_pass @SCHEME@://mattermost;
        }

        location / {
            client_max_body_size 100M;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Frame-Options SAMEORIGIN;
            proxy_buffers 256 16k;
            proxy_buffer_size 16k;
            proxy_read_timeout 600s;
            proxy_http_version 1.1;
            proxy_pass @SCHEME@://mattermost;
        }"""

# Machinery-test mode only: nginx answers itself, there is no Mattermost behind it.
_STATIC_LOCATIONS = """\
        types { }
        default_type application/json;
        location /api/v4/ {
            return 200 '@USER@';
        }
        location / {
            return 404 '{"id":"tls_proxy.static.not_found","message":"static upstream: only /api/v4/ answers","status_code":404}';
        }"""
