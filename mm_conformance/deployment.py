"""A running Mattermost deployment: PostgreSQL + Mattermost on a private network.

:class:`MattermostDeployment` brings one release line up and tears it down again,
also when anything fails half-way. Every problem on the way is an
:class:`InfrastructureError` with a one-line message, never a verdict.
"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from dataclasses import dataclass, field

import docker
import httpx
from docker.errors import DockerException
from testcontainers.core.network import Network

from .admin import ApiClient, MattermostApiError, ServerVersion
from .certificates import CertificateCase, CertificateCases
from .containers import SUITE_LABEL, MattermostContainer, PostgresContainer, suite_network
from .errors import InfrastructureError
from .images import MODULE_VERSION_LABEL, POSTGRES_IMAGE, ReleaseLine, docker_available, image_labels
from .proxy import TLSProxyContainer
from .redirects import RedirectEndpoints

LOCAL_IMAGE_PREFIX = "mm-conformance/"
#: Where external-server mode takes the admin's token: an environment variable, never an
#: argument (arguments show in process lists and CI logs).
ADMIN_TOKEN_ENV = "MM_CONFORMANCE_ADMIN_TOKEN"
#: The server's name on the deployment's private network (the TLS proxy forwards to it).
SERVER_ALIAS = "mattermost"


@dataclass
class Deployment:
    """What a scenario sees of a running server."""

    line: str
    base_url: str
    admin: ApiClient
    version: ServerVersion
    server: MattermostContainer | None = field(default=None, repr=False)

    @property
    def external(self) -> bool:
        """True for a server the suite did not start (external-server mode)."""
        return self.server is None

    def alive(self) -> bool:
        """False when the server stopped answering: a failed call is then not a verdict."""
        if self.server is not None:
            return self.server.ping()
        try:
            self.admin.server_version()
            return True
        except (InfrastructureError, MattermostApiError):
            return False


def external_deployment(base_url: str, admin_token: str) -> Deployment:
    """An existing server (a staging instance), reached with an admin's personal access token.

    No container is started; everything a scenario creates there is removed again
    (see ScenarioWorld.close), and server-wide settings are changed only when allowed.
    """
    base_url = base_url.rstrip("/")
    try:
        admin = ApiClient.with_token(base_url, admin_token)
        version = admin.server_version()
    except MattermostApiError as error:
        raise InfrastructureError(f"the admin token is not accepted by {base_url}: {error}") from None
    if "system_admin" not in admin.user.roles.split():
        raise InfrastructureError(f"the token's owner {admin.user.username!r} is not a system admin of {base_url}")
    return Deployment("external", base_url, admin, version)


def require_image(image: str, why_missing: str = "") -> None:
    """Make sure ``image`` is present locally, pulling it only when it is not one of ours.

    The suite's own images are never pulled: they exist nowhere but on this machine.
    """
    try:
        client = docker.from_env()
        try:
            client.images.get(image)
            return
        except docker.errors.ImageNotFound:
            pass
        if image.startswith(LOCAL_IMAGE_PREFIX):
            hint = f" ({why_missing})" if why_missing else " (build it: mm-conformance images build)"
            raise InfrastructureError(f"image {image} is not built{hint}")
        try:
            client.images.pull(image)
        except DockerException as error:
            raise InfrastructureError(f"image {image} is not present and could not be pulled: {error}") from None
    except DockerException as error:
        raise InfrastructureError(f"the Docker engine is not reachable: {error}") from None


def premigrated_database(line: ReleaseLine, image: str, postgres_image: str) -> str:
    """The line's pre-migrated database image when it fits this server, else ``postgres_image``.

    It fits when the server is the suite's own build of the line at the pinned version
    the snapshot was migrated by, and no other PostgreSQL image was asked for.
    """
    if image != line.image or postgres_image != POSTGRES_IMAGE:
        return postgres_image
    snapshot, server = image_labels(line.premigrated_image), image_labels(image)
    if snapshot is None or server is None:
        return postgres_image
    version = snapshot.get(MODULE_VERSION_LABEL)
    return line.premigrated_image if version and version == server.get(MODULE_VERSION_LABEL) else postgres_image


class MattermostDeployment:
    """Starts PostgreSQL and Mattermost for one release line; a context manager.

    >>> with MattermostDeployment(line, image=line.image) as deployment:
    ...     deployment.admin.create_user("alice")
    """

    def __init__(self, line: ReleaseLine, *, image: str, postgres_image: str = POSTGRES_IMAGE,
                 premigrated: bool = True) -> None:
        self.line = line
        self.image = image
        self.postgres_image = postgres_image
        self.premigrated = premigrated  # start from the line's migrated snapshot where one fits
        self._network: Network | None = None
        self._database: PostgresContainer | None = None
        self._containers: list = []
        self._config_volume: str | None = None
        self.deployment: Deployment | None = None

    def start(self) -> Deployment:
        docker_available()
        if self.premigrated:
            self.postgres_image = premigrated_database(self.line, self.image, self.postgres_image)
        require_image(self.image, self.line.why_unavailable)
        require_image(self.postgres_image)
        try:
            return self._start()
        except InfrastructureError:
            self.stop()
            raise
        except (DockerException, TimeoutError, OSError, subprocess.SubprocessError, httpx.HTTPError, MattermostApiError) as error:
            self.stop()
            raise InfrastructureError(f"Mattermost {self.line.name} did not start: {error}") from None
        except BaseException:
            self.stop()  # also on KeyboardInterrupt: no container is left behind
            raise

    def _start(self) -> Deployment:
        self._network = suite_network()
        self._database = PostgresContainer(self.postgres_image).with_network(self._network)
        self._containers.append(self._database)
        self._database.start()
        self._config_volume = docker.from_env().volumes.create(
            f"mm-conformance-config-{uuid.uuid4().hex[:12]}", labels={SUITE_LABEL: "config"}).name
        server = (MattermostContainer(self.image).with_network(self._network).with_network_aliases(SERVER_ALIAS)
                  .with_database(self._database.dsn_on_network()).with_config_volume(self._config_volume))
        self._containers.append(server)
        server.start()
        base_url = server.base_url()
        admin = ApiClient.bootstrap(base_url)
        self.deployment = Deployment(self.line.name, base_url, admin, admin.server_version(), server)
        return self.deployment

    def upgrade(self, line: ReleaseLine, image: str) -> Deployment:
        """Replace the server by ``image`` of ``line`` on the same database: an in-place upgrade.

        The old server is stopped first (as an admin does), then the new one runs its
        migrations on the data the old one left, with the old one's config directory.
        The admin logs in again with the same password; the new Deployment is returned
        (its URL changes with the port).
        """
        old = self.deployment
        if old is None or old.server is None or self._database is None or self._config_volume is None:
            raise InfrastructureError("only a running deployment the suite started can be upgraded")
        require_image(image, line.why_unavailable)
        old.server.stop()
        self._containers.remove(old.server)
        old.admin.close()
        server = (MattermostContainer(image).with_network(self._require_network())
                  .with_network_aliases(SERVER_ALIAS).with_database(self._database.dsn_on_network())
                  .with_config_volume(self._config_volume))
        self._start_extra(server, f"Mattermost {line.name} (the upgrade)")
        admin = ApiClient.login(server.base_url(), old.admin.user.username, old.admin.user.password)
        self.line, self.image = line, image
        self.deployment = Deployment(line.name, server.base_url(), admin, admin.server_version(), server)
        return self.deployment

    def start_tls_proxy(self, cases: CertificateCases) -> TLSProxyContainer:
        """nginx in front of the server, one HTTPS listener per certificate case."""
        proxy = TLSProxyContainer(cases).with_network(self._require_network()).with_upstream(
            f"http://{SERVER_ALIAS}:{MattermostContainer.port}")
        return self._start_extra(proxy, "the TLS proxy")

    def start_tls_server(self, case: CertificateCase) -> str:
        """A second server on the same database that terminates TLS itself; its base URL.

        It shares users and tokens with the first (same database). Its own config
        file enables personal access tokens through the environment: no scenario
        toggles settings on this server.
        """
        server = (MattermostContainer(self.image, tls=True).with_network(self._require_network())
                  .with_database(self._database.dsn_on_network()).with_tls(case.chain_pem, case.key_pem)
                  .with_env("MM_SERVICESETTINGS_ENABLEUSERACCESSTOKENS", "true"))
        self._start_extra(server, "the TLS-terminating Mattermost")
        return server.base_url()

    def start_redirects(self, certificate: CertificateCase) -> RedirectEndpoints:
        """Base URLs that redirect elsewhere, and the recorder they point at (see redirects.py).

        They need no server behind them (a redirect is answered before anything
        would be forwarded), so they stay off the deployment's network; they are
        removed with the deployment like every other extra container.
        """
        return self._start_extra(RedirectEndpoints(certificate), "the redirecting endpoints")

    def start_subpath_server(self, subpath: str) -> str:
        """A second server on the same database whose SiteURL has ``subpath``; its site URL.

        Mattermost then serves its API under ``<subpath>/api/v4`` and redirects (302)
        requests outside the subpath into it. Only the SiteURL's path matters for that.
        """
        server = (MattermostContainer(self.image, subpath=subpath).with_network(self._require_network())
                  .with_database(self._database.dsn_on_network())
                  .with_site_url(f"http://localhost{subpath}")
                  .with_env("MM_SERVICESETTINGS_ENABLEUSERACCESSTOKENS", "true"))
        self._start_extra(server, "the subpath Mattermost")
        return f"{server.base_url()}{subpath}"

    def _start_extra(self, container, what: str):
        self._containers.append(container)  # listed first: an interrupt while it starts still removes it
        try:
            container.start()
        except (InfrastructureError, DockerException, TimeoutError, OSError) as error:
            self._containers.remove(container)
            with contextlib.suppress(DockerException):  # a half-started server must not linger on the database
                container.stop()
            if isinstance(error, InfrastructureError):
                raise
            raise InfrastructureError(f"{what} for Mattermost {self.line.name} did not start: {error}") from None
        return container

    def stopped_containers(self) -> list[str]:
        """Containers of this deployment that are no longer running, by name."""
        stopped = []
        for container in self._containers:
            try:
                wrapped = container.get_wrapped_container()
                wrapped.reload()
                if wrapped.status != "running":
                    stopped.append(wrapped.name)
            except DockerException:
                stopped.append(getattr(container, "image", "a container"))
        return stopped

    def _require_network(self) -> Network:
        if self._network is None:
            raise InfrastructureError("the deployment is not running")
        return self._network

    def stop(self) -> None:
        """Remove every container and the network, whatever state they are in."""
        if self.deployment is not None:
            self.deployment.admin.close()
        for container in reversed(self._containers):
            try:
                container.stop()
            except DockerException:
                pass
        self._containers.clear()
        if self._network is not None:
            try:
                self._network.remove()
            except DockerException:
                pass
            self._network = None
        if self._config_volume is not None:
            try:
                docker.from_env().volumes.get(self._config_volume).remove(force=True)
            except DockerException:
                pass
            self._config_volume = None

    def __enter__(self) -> Deployment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def leftover_containers() -> list[str]:
    """Suite containers, networks and volumes still present (tests assert there are none after a run)."""
    client = docker.from_env()
    containers = [f"container {c.name}" for c in client.containers.list(all=True, filters={"label": SUITE_LABEL})]
    networks = [f"network {n.name}" for n in client.networks.list(filters={"label": SUITE_LABEL})]
    volumes = [f"volume {v.name}" for v in client.volumes.list(filters={"label": SUITE_LABEL})]
    return containers + networks + volumes
