"""The extra endpoints of a deployment, each started the first time a scenario asks for it.

HTTPS endpoints, one per certificate case; Base URLs that answer with a redirect;
a second server that serves Mattermost under a subpath; and Base URLs that never
answer (:mod:`~mm_conformance.infra.silent`).

Certificates are made per run in a temporary directory that is removed with the
endpoints; on a deployment several processes use (a warm one, or the one a run's CLI
starts for its workers), the extras and their certificates are the deployment's, started
once (:mod:`~mm_conformance.infra.shared_extras`). The silent listeners are always the
process's own (threads). Every case but one is served by the TLS proxy in front of the
server; ``mattermost-tls`` is Mattermost terminating TLS itself (the ``trusted``
certificate), started only when a scenario asks for it. So are the Base URLs
that answer with a redirect (:meth:`Endpoints.redirects`), which serve the
``trusted`` certificate too, so the same ``caFile`` accepts them.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Generic, TypeVar

from testcontainers.core.container import DockerContainer

from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.certificates import CertificateCases, make_cases
from mm_conformance.infra.containers import MattermostContainer
from mm_conformance.infra.deployment import MattermostDeployment
from mm_conformance.infra.proxy import TLSProxyContainer
from mm_conformance.infra.redirects import RedirectEndpoints
from mm_conformance.infra.shared_extras import Record, SharedExtras
from mm_conformance.infra.silent import SilentEndpoints

#: The case served by Mattermost itself rather than by the proxy.
SERVER_TERMINATED = "mattermost-tls"


K = TypeVar("K")
V = TypeVar("V")
#: What starting an extra gives: the extra, the containers it is made of, and what others need to adopt it.
Started = tuple[V, list[DockerContainer], Record]

#: Where the subpath server serves Mattermost (its SiteURL's path).
SUBPATH = "/mattermost"


#: The extras a scenario may declare it needs (``@needs:<extra>`` in its feature): started ahead of
#: it, in the background, while the scenarios before it run. A scenario that uses one it did not
#: declare fails (see ScenarioWorld.endpoints), so the declaration stays true.
EXTRA_NAMES = ("tls-proxy", SERVER_TERMINATED, "redirects", "subpath")
#: The extras that are Mattermost servers of their own (seconds to start, each): the rest are nginx.
SECOND_SERVERS = frozenset({SERVER_TERMINATED, "subpath"})


def with_what_they_need(extras: Iterable[str]) -> set[str]:
    """These extras, with the TLS proxy added where any is wanted: every extra sits behind it."""
    wanted = set(extras)
    return wanted | {"tls-proxy"} if wanted else wanted


class StartedOnce(Generic[K, V]):
    """Things started once each, on first use: later the same thing or, at once, the same failure
    (an InfrastructureError is not retried by every scenario that asks). One asked for while
    another thread (the background) is starting it waits for it; one asked for while another
    thing is starting does not.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the dicts; each key has its own lock while it starts
        self._starting: dict[K, threading.Lock] = {}
        self._started: dict[K, V] = {}
        self._failed: dict[K, str] = {}

    def get(self, key: K, start: Callable[[], V]) -> V:
        """``start()`` the first time ``key`` is asked for; its result, or its failure, ever after."""
        with self._lock:
            starting = self._starting.setdefault(key, threading.Lock())
        with starting:
            if key in self._failed:
                raise InfrastructureError(self._failed[key])
            if key not in self._started:
                try:
                    value = start()
                except InfrastructureError as error:
                    with self._lock:
                        self._failed[key] = str(error)
                    raise
                with self._lock:
                    self._started[key] = value
            return self._started[key]

    def started(self) -> dict[K, V]:
        """What has been started so far, by key."""
        with self._lock:
            return dict(self._started)


class Endpoints:
    """A deployment's extras as one process's scenarios use them: its own, or (a deployment other
    processes use too: ``shared_state``) the deployment's, started once and adopted by every other
    process (:mod:`~mm_conformance.infra.shared_extras`)."""

    def __init__(self, deployment: MattermostDeployment) -> None:
        self._deployment = deployment
        state = deployment.shared_state
        self._shared = SharedExtras(state) if state is not None else None
        self._directory: tempfile.TemporaryDirectory[str] | None = None
        if self._shared is not None:
            self.cases: CertificateCases = self._shared.certificates()
        else:
            self._directory = tempfile.TemporaryDirectory(prefix="mm-conformance-certs-")
            self.cases = make_cases(Path(self._directory.name))
        self._extras: StartedOnce[str, Any] = StartedOnce()  # a scenario that asks while the background starts it waits

    @property
    def proxy(self) -> TLSProxyContainer:
        """The TLS proxy serving every certificate case; started on first use (a silent-server
        scenario needs only the certificates)."""
        def start() -> Started[TLSProxyContainer]:
            proxy = self._deployment.start_tls_proxy(self.cases)
            return proxy, [proxy], {}

        def adopt(record: Record) -> TLSProxyContainer:
            proxy = TLSProxyContainer(self.cases)
            proxy.adopt(record["ids"][0])
            return proxy

        return self._extras.get("tls-proxy", lambda: self._one_for_all("tls-proxy", start, adopt))

    def start_ahead(self, extras: set[str]) -> None:
        """Start these extras now (the background does, before any scenario asks); a failure waits
        for the scenario that asks, which then gets it at once."""
        starts = {"tls-proxy": lambda: self.proxy,  # in the order they start
                  "subpath": self.subpath_site, "redirects": self.redirects,
                  SERVER_TERMINATED: lambda: self.url(SERVER_TERMINATED)}
        for extra, start in starts.items():
            if extra in extras:
                try:
                    start()
                except InfrastructureError:
                    pass  # remembered: the scenario that asks gets it

    @property
    def ca_file(self) -> str:
        """The suite's root CA, handed to implementations as ``caFile``."""
        return str(self.cases.ca_file)

    def url(self, case: str) -> str:
        """The base URL of the endpoint serving ``case``."""
        if case == SERVER_TERMINATED:
            return self._extras.get(SERVER_TERMINATED, lambda: self._server(
                SERVER_TERMINATED, lambda: self._deployment.start_tls_server(self.cases["trusted"]), ""))
        return self.proxy.url(case)

    def credentials_passed(self, case: str) -> int | None:
        """Requests carrying a credential that got through ``case``'s listener (None: not observable)."""
        return None if case == SERVER_TERMINATED else self.proxy.credentials_passed(case)

    def counting(self, extra: str, listener: str) -> contextlib.AbstractContextManager[None]:
        """Hold ``extra``'s ``listener`` while counting what reaches it around one use: on extras
        other processes share, their scenarios that count there wait (this process's run one at a time)."""
        return self._shared.counting(extra, listener) if self._shared is not None else contextlib.nullcontext()

    def redirects(self) -> RedirectEndpoints:
        """The Base URLs that answer with a redirect, and the recorder of what followed; started on first use."""
        def start() -> Started[RedirectEndpoints]:
            redirects = self._deployment.start_redirects(self.cases["trusted"])
            assert redirects.recorder is not None, "started with its recorder"
            return redirects, [redirects, redirects.recorder], {}

        def adopt(record: Record) -> RedirectEndpoints:
            return RedirectEndpoints(self.cases["trusted"]).adopt_both(*record["ids"])

        return self._extras.get("redirects", lambda: self._one_for_all("redirects", start, adopt))

    def silent(self) -> SilentEndpoints:
        """The listeners in front of the server that never answer (this process's own); started on first use."""
        upstream = self._deployment.deployment.base_url if self._deployment.deployment else ""
        return self._extras.get("silent", lambda: SilentEndpoints(upstream=upstream, certificate=self.cases["trusted"]))

    def subpath_site(self) -> str:
        """The site URL of a server whose SiteURL has the path ``/mattermost`` (same users and tokens)."""
        return self._extras.get("subpath", lambda: self._server(
            "subpath", lambda: self._deployment.start_subpath_server(SUBPATH), SUBPATH))

    def _server(self, extra: str, start: Callable[[], MattermostContainer], path: str) -> str:
        """A second Mattermost server's URL (its base URL, then ``path``)."""
        def started() -> Started[str]:
            server = start()
            url = f"{server.base_url()}{path}"
            return url, [server], {"url": url}

        return self._one_for_all(extra, started, lambda record: str(record["url"]))

    def _one_for_all(self, extra: str, start: Callable[[], Started[V]], adopt: Callable[[Record], V]) -> V:
        """This process's own extra; or, on a shared deployment, the deployment's: started by the
        first process that asks and handed over to the deployment, adopted by the others."""
        if self._shared is None:
            return start()[0]

        def start_and_hand_over() -> tuple[V, Record]:
            value, containers, record = start()
            roles = self._deployment.container_roles()
            ids = [container.get_wrapped_container().id for container in containers]
            self._deployment.keep_for_the_deployment(containers)
            return value, {**record, "ids": ids, "roles": {cid: roles.get(cid, extra) for cid in ids}}

        def adopt_and_watch(record: Record) -> V:
            self._deployment.adopt_extras(record["roles"])
            return adopt(record)

        return self._shared.get(extra, start=start_and_hand_over, adopt=adopt_and_watch)

    def close(self) -> None:
        """Stop the silent listeners and remove this process's certificates; the containers go with
        the deployment (a shared deployment's, and its certificates, with it: infra.shared_extras)."""
        silent = self._extras.started().get("silent")
        if silent is not None:
            silent.close()
        if self._directory is not None:
            self._directory.cleanup()
