"""The extra endpoints of a deployment, each started the first time a scenario asks for it.

HTTPS endpoints, one per certificate case; Base URLs that answer with a redirect;
a second server that serves Mattermost under a subpath; and Base URLs that never
answer (:mod:`~mm_conformance.infra.silent`).

Certificates are made per run in a temporary directory that is removed with the
endpoints. Every case but one is served by the TLS proxy in front of the
server; ``mattermost-tls`` is Mattermost terminating TLS itself (the ``trusted``
certificate), started only when a scenario asks for it. So are the Base URLs
that answer with a redirect (:meth:`Endpoints.redirects`), which serve the
``trusted`` certificate too, so the same ``caFile`` accepts them.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Generic, TypeVar

from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.certificates import CertificateCases, make_cases
from mm_conformance.infra.deployment import MattermostDeployment
from mm_conformance.infra.proxy import TLSProxyContainer
from mm_conformance.infra.redirects import RedirectEndpoints
from mm_conformance.infra.silent import SilentEndpoints

#: The case served by Mattermost itself rather than by the proxy.
SERVER_TERMINATED = "mattermost-tls"


K = TypeVar("K")
V = TypeVar("V")

#: Where the subpath server serves Mattermost (its SiteURL's path).
SUBPATH = "/mattermost"


#: The extras a scenario may declare it needs (``@needs:<extra>`` in its feature): started ahead of
#: it, in the background, while the scenarios before it run. A scenario that uses one it did not
#: declare fails (see ScenarioWorld.endpoints), so the declaration stays true.
EXTRA_NAMES = ("tls-proxy", SERVER_TERMINATED, "redirects", "subpath")


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
    def __init__(self, deployment: MattermostDeployment) -> None:
        self._deployment = deployment
        self._directory = tempfile.TemporaryDirectory(prefix="mm-conformance-certs-")
        self.cases: CertificateCases = make_cases(Path(self._directory.name))
        self._extras: StartedOnce[str, Any] = StartedOnce()  # a scenario that asks while the background starts it waits

    @property
    def proxy(self) -> TLSProxyContainer:
        """The TLS proxy serving every certificate case; started on first use (a silent-server
        scenario needs only the certificates)."""
        return self._extras.get("tls-proxy", lambda: self._deployment.start_tls_proxy(self.cases))

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
            return self._extras.get(SERVER_TERMINATED, lambda: self._deployment.start_tls_server(self.cases["trusted"]))
        return self.proxy.url(case)

    def credentials_passed(self, case: str) -> int | None:
        """Requests carrying a credential that got through ``case``'s listener (None: not observable)."""
        return None if case == SERVER_TERMINATED else self.proxy.credentials_passed(case)

    def redirects(self) -> RedirectEndpoints:
        """The Base URLs that answer with a redirect, and the recorder of what followed; started on first use."""
        return self._extras.get("redirects", lambda: self._deployment.start_redirects(self.cases["trusted"]))

    def silent(self) -> SilentEndpoints:
        """The listeners in front of the server that never answer; started on first use."""
        upstream = self._deployment.deployment.base_url if self._deployment.deployment else ""
        return self._extras.get("silent", lambda: SilentEndpoints(upstream=upstream, certificate=self.cases["trusted"]))

    def subpath_site(self) -> str:
        """The site URL of a server whose SiteURL has the path ``/mattermost`` (same users and tokens)."""
        return self._extras.get("subpath", lambda: self._deployment.start_subpath_server(SUBPATH))

    def close(self) -> None:
        """Stop the silent listeners and remove the certificates; the containers go with the deployment."""
        silent = self._extras.started().get("silent")
        if silent is not None:
            silent.close()
        self._directory.cleanup()
