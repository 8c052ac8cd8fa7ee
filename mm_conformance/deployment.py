"""A running Mattermost deployment: PostgreSQL + Mattermost on a private network.

:class:`MattermostDeployment` brings one server image up and tears it down again,
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
from .containers import (OWNER_LABEL, RUN_ID, RUN_LABEL, SUITE_LABEL, MattermostContainer, PostgresContainer,
                         owner_running, suite_labels, suite_network)
from .errors import InfrastructureError
from .images import POSTGRES_IMAGE, ImageBuilder, docker_available
from .proxy import TLSProxyContainer
from .redirects import RedirectEndpoints
from .servers import LOCAL_REPOSITORY, MattermostServer

#: Where external-server mode takes the admin's token: an environment variable, never an
#: argument (arguments show in process lists and CI logs).
ADMIN_TOKEN_ENV = "MM_CONFORMANCE_ADMIN_TOKEN"
#: The server's name on the deployment's private network (the TLS proxy forwards to it).
SERVER_ALIAS = "mattermost"


@dataclass
class Deployment:
    """What a scenario sees of a running server."""

    base_url: str
    admin: ApiClient
    version: ServerVersion
    container: MattermostContainer | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The version the server reports (``11.0.3``): what results and reports call it."""
        return self.version.version

    @property
    def external(self) -> bool:
        """True for a server the suite did not start (external-server mode)."""
        return self.container is None

    def alive(self) -> bool:
        """False when the server stopped answering: a failed call is then not a verdict."""
        if self.container is not None:
            return self.container.ping()
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
    return Deployment(base_url, admin, version)


def require_image(image: str) -> None:
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
        if image.startswith(f"{LOCAL_REPOSITORY}:"):
            raise InfrastructureError(f"image {image} is not on this machine (package a release tarball: "
                                      "mm-conformance images build --from PATH)")
        if image.startswith("mm-conformance/"):
            raise InfrastructureError(f"image {image} is not built (build it: mm-conformance images build)")
        try:
            client.images.pull(image)
        except DockerException as error:
            raise InfrastructureError(f"image {image} is not on this machine and could not be pulled: "
                                      f"{' '.join(str(error).split())}") from None
    except DockerException as error:
        raise InfrastructureError(f"the Docker engine is not reachable: {error}") from None


class MattermostDeployment:
    """Starts PostgreSQL and Mattermost for one server image; a context manager.

    >>> with MattermostDeployment(MattermostServer("mm-conformance/mattermost:11.0.3", "11.0.3")) as deployment:
    ...     deployment.admin.create_user("alice")
    """

    def __init__(self, server: MattermostServer, *, postgres_image: str = POSTGRES_IMAGE,
                 premigrated: bool = True) -> None:
        self.server = server
        self.image = server.image
        self.postgres_image = postgres_image
        self.premigrated = premigrated  # start from a database this image migrated before, made on first use
        self._network: Network | None = None
        self._database: PostgresContainer | None = None
        #: Every container of the deployment and its role in words ("PostgreSQL", "the TLS proxy").
        self._containers: dict[object, str] = {}
        self._config_volume: str | None = None
        self.deployment: Deployment | None = None

    def start(self) -> Deployment:
        docker_available()
        require_image(self.image)
        require_image(self.postgres_image)
        try:
            if self.premigrated and self.postgres_image == POSTGRES_IMAGE:
                self.postgres_image = ImageBuilder().ensure_premigrated(self.image)
            return self._start()
        except InfrastructureError:
            self.stop()
            raise
        except (DockerException, TimeoutError, OSError, subprocess.SubprocessError, httpx.HTTPError, MattermostApiError) as error:
            self.stop()
            raise InfrastructureError(f"{self.server} did not start: {' '.join(str(error).split())}") from None
        except BaseException:
            self.stop()  # also on KeyboardInterrupt: no container is left behind
            raise

    def _start(self) -> Deployment:
        self._network = suite_network()
        self._database = PostgresContainer(self.postgres_image).with_network(self._network)
        self._containers[self._database] = "PostgreSQL"
        self._database.start()
        self._config_volume = docker.from_env().volumes.create(
            f"mm-conformance-config-{uuid.uuid4().hex[:12]}", labels=suite_labels("config")).name
        server = (MattermostContainer(self.image).with_network(self._network).with_network_aliases(SERVER_ALIAS)
                  .with_database(self._database.dsn_on_network()).with_config_volume(self._config_volume))
        self._containers[server] = "the Mattermost server"
        server.start()
        base_url = server.base_url()
        admin = ApiClient.bootstrap(base_url)
        self.deployment = Deployment(base_url, admin, admin.server_version(), server)
        self._containers[server] = f"Mattermost {self.deployment.name}"
        return self.deployment

    def upgrade(self, target: MattermostServer) -> Deployment:
        """Replace the server by ``target`` on the same database: an in-place upgrade.

        The old server is stopped first (as an admin does), then the new one runs its
        migrations on the data the old one left, with the old one's config directory.
        The admin logs in again with the same password; the new Deployment is returned
        (its URL changes with the port).
        """
        old = self.deployment
        if old is None or old.container is None or self._database is None or self._config_volume is None:
            raise InfrastructureError("only a running deployment the suite started can be upgraded")
        require_image(target.image)
        old.container.stop()
        del self._containers[old.container]
        old.admin.close()
        server = (MattermostContainer(target.image).with_network(self._require_network())
                  .with_network_aliases(SERVER_ALIAS).with_database(self._database.dsn_on_network())
                  .with_config_volume(self._config_volume))
        self._start_extra(server, f"{target} (the upgrade)")
        admin = ApiClient.login(server.base_url(), old.admin.user.username, old.admin.user.password)
        self.server, self.image = target, target.image
        self.deployment = Deployment(server.base_url(), admin, admin.server_version(), server)
        self._containers[server] = f"Mattermost {self.deployment.name} (the upgrade)"
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
        self._start_extra(server, "the TLS-terminating Mattermost server")
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
        self._start_extra(server, "the subpath server")
        return f"{server.base_url()}{subpath}"

    def _start_extra(self, container, role: str):
        self._containers[container] = role  # listed first: an interrupt while it starts still removes it
        try:
            container.start()
        except (InfrastructureError, DockerException, TimeoutError, OSError) as error:
            del self._containers[container]
            with contextlib.suppress(DockerException):  # a half-started server must not linger on the database
                container.stop()
            if isinstance(error, InfrastructureError):
                raise
            raise InfrastructureError(f"{role} for {self.server} did not start: {error}") from None
        return container

    def stopped_containers(self) -> list[str]:
        """This deployment's containers that are no longer running, by role and state ("PostgreSQL exited")."""
        stopped = []
        for container, role in self._containers.items():
            try:
                wrapped = container.get_wrapped_container()
                wrapped.reload()
                if wrapped.status != "running":
                    stopped.append(f"{role} {wrapped.status}")
            except DockerException:
                stopped.append(f"{role} removed")
        return stopped

    def health(self) -> str | None:
        """What is wrong with the running deployment (a container stopped, the server silent), or None."""
        stopped = self.stopped_containers()
        if stopped:
            return ", ".join(stopped)
        if self.deployment is not None and not self.deployment.alive():
            return f"Mattermost {self.deployment.name} stopped answering"
        return None

    def _require_network(self) -> Network:
        if self._network is None:
            raise InfrastructureError("the deployment is not running")
        return self._network

    def stop(self) -> None:
        """Remove every container and the network, whatever state they are in."""
        if self.deployment is not None:
            self.deployment.admin.close()
        for container in reversed(list(self._containers)):
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


def _suite_things(label: str) -> list[tuple[str, object]]:
    """Containers, networks and volumes carrying ``label`` (a key, or key=value), each with its kind."""
    client = docker.from_env()
    return ([("container", c) for c in client.containers.list(all=True, filters={"label": label})]
            + [("network", n) for n in client.networks.list(filters={"label": label})]
            + [("volume", v) for v in client.volumes.list(filters={"label": label})])


def _labels(thing: object) -> dict[str, str]:
    attrs = thing.attrs  # type: ignore[attr-defined]
    return (attrs.get("Config", {}).get("Labels") if "Config" in attrs else attrs.get("Labels")) or {}


def _left_behind(thing: object) -> bool:
    """Not of this run, and the process that made it is gone: nobody will remove it."""
    labels = _labels(thing)
    return labels.get(RUN_LABEL) != RUN_ID and not owner_running(labels.get(OWNER_LABEL, ""))


def leftovers() -> list[str]:
    """This run's containers, networks and volumes still present (tests assert there are none)."""
    return [f"{kind} {thing.name}" for kind, thing in _suite_things(f"{RUN_LABEL}={RUN_ID}")]  # type: ignore[attr-defined]


def earlier_runs_leftovers() -> list[str]:
    """What earlier runs left behind (a run stopped hard): the suite's things whose maker is gone.

    Another run still in progress on this machine is not an earlier run: its things are in use.
    """
    return [f"{kind} {thing.name}" for kind, thing in _suite_things(SUITE_LABEL)  # type: ignore[attr-defined]
            if _left_behind(thing)]


def clean() -> tuple[list[str], int]:
    """Remove every container, network and volume carrying the suite's label that a run left behind.

    Returns what was removed, and how many things were kept because the run that made
    them is still in progress on this machine (removing them would break it). Nothing
    without the suite's label is touched. Containers go first (they hold networks and
    volumes), then networks, then volumes.
    """
    removed, kept = [], 0
    for kind, thing in _suite_things(SUITE_LABEL):
        if not _left_behind(thing) and _labels(thing).get(RUN_LABEL) != RUN_ID:
            kept += 1
            continue
        if kind == "container":
            thing.remove(force=True, v=True)  # type: ignore[attr-defined]
        elif kind == "volume":
            thing.remove(force=True)  # type: ignore[attr-defined]
        else:
            thing.remove()  # type: ignore[attr-defined]
        removed.append(f"{kind} {thing.name}")  # type: ignore[attr-defined]
    return removed, kept
