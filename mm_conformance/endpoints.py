"""The extra endpoints of a deployment, each started the first time a scenario asks for it.

HTTPS endpoints, one per certificate case; Base URLs that answer with a redirect;
and a second server that serves Mattermost under a subpath.

Certificates are made per run in a temporary directory that is removed with the
endpoints. Every case but one is served by the TLS proxy in front of the
server; ``mattermost-tls`` is Mattermost terminating TLS itself (the ``trusted``
certificate), started only when a scenario asks for it. So are the Base URLs
that answer with a redirect (:meth:`Endpoints.redirects`), which serve the
``trusted`` certificate too, so the same ``caFile`` accepts them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .certificates import CertificateCases, make_cases
from .deployment import MattermostDeployment
from .proxy import TLSProxyContainer
from .redirects import RedirectEndpoints

#: The case served by Mattermost itself rather than by the proxy.
SERVER_TERMINATED = "mattermost-tls"


#: Where the subpath server serves Mattermost (its SiteURL's path).
SUBPATH = "/mattermost"


class Endpoints:
    def __init__(self, deployment: MattermostDeployment) -> None:
        self._deployment = deployment
        self._directory = tempfile.TemporaryDirectory(prefix="mm-conformance-certs-")
        self.cases: CertificateCases = make_cases(Path(self._directory.name))
        self.proxy: TLSProxyContainer = deployment.start_tls_proxy(self.cases)
        self._server_url: str | None = None
        self._redirects: RedirectEndpoints | None = None
        self._subpath_site: str | None = None

    @property
    def ca_file(self) -> str:
        """The suite's root CA, handed to implementations as ``caFile``."""
        return str(self.cases.ca_file)

    def url(self, case: str) -> str:
        """The base URL of the endpoint serving ``case``."""
        if case == SERVER_TERMINATED:
            if self._server_url is None:
                self._server_url = self._deployment.start_tls_server(self.cases["trusted"])
            return self._server_url
        return self.proxy.url(case)

    def credentials_seen(self, case: str) -> int | None:
        """Requests carrying a credential that got through ``case``'s listener (None: not observable)."""
        return None if case == SERVER_TERMINATED else self.proxy.authorized_requests(case)

    def redirects(self) -> RedirectEndpoints:
        """The Base URLs that answer with a redirect, and the recorder of what followed; started on first use."""
        if self._redirects is None:
            self._redirects = self._deployment.start_redirects(self.cases["trusted"])
        return self._redirects

    def subpath_site(self) -> str:
        """The site URL of a server whose SiteURL has the path ``/mattermost`` (same users and tokens)."""
        if self._subpath_site is None:
            self._subpath_site = self._deployment.start_subpath_server(SUBPATH)
        return self._subpath_site

    def close(self) -> None:
        """Remove the certificates; the containers go with the deployment."""
        self._directory.cleanup()
