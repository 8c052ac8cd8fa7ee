"""A running Mattermost deployment: PostgreSQL + Mattermost on a private network.

:class:`MattermostDeployment` brings one server image up and tears it down again,
also when anything fails half-way. Every problem on the way is an
:class:`InfrastructureError` with a one-line message, never a verdict. Its PostgreSQL
and nginx images are the official ones where a registry answers, or the suite's own
(:mod:`~mm_conformance.infra.support`); its database starts from the one its server image
migrated before on that PostgreSQL image (:mod:`~mm_conformance.infra.snapshots`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from docker.errors import DockerException
from requests.exceptions import RequestException
from testcontainers.core.container import DockerContainer
from testcontainers.core.exceptions import ContainerStartException
from testcontainers.core.network import Network

from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.certificates import CertificateCase, CertificateCases
from mm_conformance.infra.containers import (
    MattermostContainer,
    answers_ping,
    container_states,
    database_problem,
    remove_network,
    suite_labels,
    suite_network,
)
from mm_conformance.infra.database import PostgresContainer
from mm_conformance.infra.engine import docker_available, engine
from mm_conformance.infra.images import require_image
from mm_conformance.infra.proxy import TLSProxyContainer
from mm_conformance.infra.redirects import RedirectEndpoints
from mm_conformance.infra.snapshots import ensure_premigrated, premade_in
from mm_conformance.infra.support import NGINX, POSTGRES, choose
from mm_conformance.infra.warm import ServerWideLock, WarmState
from mm_conformance.mattermost.admin import ApiClient, MattermostApiError, ServerVersion
from mm_conformance.mattermost.background import CleanUp, UserPool
from mm_conformance.mattermost.servers import MattermostServer

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
    #: A server the suite did not start (external-server mode): its settings are not the suite's to change.
    external: bool = False
    #: Users made ahead of time for its scenarios (None: each scenario makes its own, named after it).
    user_pool: UserPool | None = field(default=None, repr=False)
    #: Removes what scenarios made, behind them (None: each scenario removes its own before it ends).
    clean_up: CleanUp | None = field(default=None, repr=False)
    #: How many users its database holds made ahead (``premade-0000`` and on; see infra.premade).
    premade_users: int = 0

    @property
    def name(self) -> str:
        """The version the server reports (``11.0.3``): what results and reports call it."""
        return self.version.version

    def alive(self) -> bool:
        """False when the server stopped answering: a failed call is then not a verdict."""
        if self.container is not None:
            return self.container.ping()
        if not self.external:  # a deployment the suite started, shared with this process
            return answers_ping(self.base_url)
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
    return Deployment(base_url, admin, version, external=True)


#: An extra container of a deployment (the TLS proxy, a second server, the redirects).
Extra = TypeVar("Extra", bound=DockerContainer)

#: The world the documentation assumes, set on every deployment as it starts: personal access
#: tokens on (scenarios that switch them off put them back).
TOKENS_ON = {"ServiceSettings": {"EnableUserAccessTokens": True}}


class MattermostDeployment:
    """Starts PostgreSQL and Mattermost for one server image; a context manager::

        with MattermostDeployment(MattermostServer("mm-conformance/mattermost:11.0.3", "11.0.3")) as deployment:
            deployment.admin.create_user("alice")
    """

    def __init__(self, server: MattermostServer, *, postgres_image: str | None = None,
                 nginx_image: str | None = None, premigrated: bool = True) -> None:
        self.server = server
        self.image = server.image
        #: None until start(): the official image where a registry answers, else the suite's own (support.py).
        self.postgres_image = postgres_image
        #: Likewise, chosen when the first nginx extra starts (a run may need none).
        self.nginx_image = nginx_image
        self.premigrated = premigrated  # start from a database this image migrated before, made on first use
        self._network: Network | None = None
        self._owns_network = True  # False for a warm deployment a run attached to
        self._database: PostgresContainer | None = None
        self._dsn = ""  # how a server on the deployment's network reaches the database
        #: Every container of the deployment and its role in words ("PostgreSQL", "the TLS proxy").
        self._containers: dict[DockerContainer, str] = {}
        self._config_volume: str | None = None
        self.deployment: Deployment | None = None
        #: Set when other runs may use the same server at once (a warm deployment).
        self.server_wide_lock: ServerWideLock | None = None
        self._removing = False  # stop() has begun: no extra may start any more
        #: The containers of a deployment this run attached to (by id: role), watched but never removed.
        self._attached: dict[str, str] = {}
        #: False for a deployment the run's CLI started for its workers: removed with the run.
        self.kept_after_run = False
        #: The recorded state of a deployment other processes use too (a warm one, or one the run's
        #: CLI started for its workers): its extras are shared (infra.shared_extras). None: this
        #: process's own deployment, whose extras are its own.
        self.shared_state: WarmState | None = None

    def start(self) -> Deployment:
        docker_available()
        require_image(self.image)
        self.postgres_image = choose(POSTGRES, self.postgres_image).image
        try:
            database = ensure_premigrated(self.image, self.postgres_image) if self.premigrated else self.postgres_image
            return self._start(database)
        except InfrastructureError:
            self.stop()
            raise
        except (DockerException, RequestException, TimeoutError, OSError, httpx.HTTPError,
                MattermostApiError) as error:
            self.stop()
            raise InfrastructureError(f"{self.server} did not start: {' '.join(str(error).split())}") from None
        except BaseException:
            self.stop()  # also on KeyboardInterrupt: no container is left behind
            raise

    def _start(self, database_image: str) -> Deployment:
        self._network = suite_network()
        self._database = PostgresContainer(database_image).with_network(self._network)
        self._containers[self._database] = "PostgreSQL"
        self._database.start()
        self._dsn = self._database.dsn_on_network()
        self._config_volume = engine().volumes.create(
            f"mm-conformance-config-{uuid.uuid4().hex[:12]}", labels=suite_labels("config")).name
        server = (MattermostContainer(self.image).with_network(self._network).with_network_aliases(SERVER_ALIAS)
                  .with_database(self._dsn).with_config_volume(self._config_volume))
        if self._removing:  # stop() was called from another thread (a run's end) while the database started
            raise InfrastructureError(f"{self.server} was being removed as it started")
        self._containers[server] = "the Mattermost server"
        server.start()
        base_url = server.base_url()
        premade = premade_in(database_image)  # a snapshot made with its admin and users: sign in as that admin
        admin = (ApiClient.login(base_url, premade[0], premade[1]) if premade else ApiClient.bootstrap(base_url))
        admin.watched_by(self.health)
        self.deployment = Deployment(base_url, admin, admin.server_version(), server,
                                     premade_users=premade[2] if premade else 0)
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
                  .with_network_aliases(SERVER_ALIAS).with_database(self._dsn)
                  .with_config_volume(self._config_volume))
        self._start_extra(server, f"{target} (the upgrade)")
        admin = ApiClient.login(server.base_url(), old.admin.user.username, old.admin.user.password)
        admin.watched_by(self.health)
        self.server, self.image = target, target.image
        self.deployment = Deployment(server.base_url(), admin, admin.server_version(), server)
        self._containers[server] = f"Mattermost {self.deployment.name} (the upgrade)"
        return self.deployment

    def start_tls_proxy(self, cases: CertificateCases) -> TLSProxyContainer:
        """nginx in front of the server, one HTTPS listener per certificate case."""
        proxy = TLSProxyContainer(cases, self._nginx()).with_network(self._require_network()).with_upstream(
            f"http://{SERVER_ALIAS}:{MattermostContainer.port}")
        return self._start_extra(proxy, "the TLS proxy")

    def start_tls_server(self, case: CertificateCase) -> MattermostContainer:
        """A second server on the same database that terminates TLS itself.

        It shares users and tokens with the first (same database). Its own config
        file enables personal access tokens through the environment: no scenario
        toggles settings on this server.
        """
        server = (MattermostContainer(self.image, tls=True).with_network(self._require_network())
                  .with_database(self._dsn).with_tls(case.chain_pem, case.key_pem)
                  .with_env("MM_SERVICESETTINGS_ENABLEUSERACCESSTOKENS", "true"))
        return self._start_extra(server, "the TLS-terminating Mattermost server")

    def start_redirects(self, certificate: CertificateCase) -> RedirectEndpoints:
        """Base URLs that redirect elsewhere, and the recorder they point at (see redirects.py).

        They need no server behind them (a redirect is answered before anything
        would be forwarded), so they stay off the deployment's network; they are
        removed with the deployment like every other extra container.
        """
        return self._start_extra(RedirectEndpoints(certificate, image=self._nginx()), "the redirecting endpoints")

    def _nginx(self) -> str:
        """The nginx image of this deployment's extras, chosen on first use (support.py)."""
        self.nginx_image = choose(NGINX, self.nginx_image).image
        return self.nginx_image

    def start_subpath_server(self, subpath: str) -> MattermostContainer:
        """A second server on the same database whose SiteURL has ``subpath`` (its site URL:
        its base URL followed by ``subpath``).

        Mattermost then serves its API under ``<subpath>/api/v4`` and redirects (302)
        requests outside the subpath into it. Only the SiteURL's path matters for that.
        """
        server = (MattermostContainer(self.image, subpath=subpath).with_network(self._require_network())
                  .with_database(self._dsn)
                  .with_site_url(f"http://localhost{subpath}")
                  .with_env("MM_SERVICESETTINGS_ENABLEUSERACCESSTOKENS", "true"))
        return self._start_extra(server, "the subpath server")

    def attach_to(self, state: WarmState) -> Deployment:
        """Use the running deployment ``state`` records instead of starting one: its server and database
        stay when this deployment stops, the extras started through it go."""
        self.server_wide_lock = state.server_wide_lock()
        self._network = Network()  # by name only: the suite's containers join it, it is never created or removed
        self._network.name = state.network
        self._owns_network, self._dsn = False, state.dsn
        self._attached, self.kept_after_run = dict(state.containers), state.kept
        # Its extras are shared by every process that uses it; not those of one recorded before
        # deployments carried their owner (nobody would know whose they are).
        self.shared_state = state if state.run_id else None
        admin = state.sign_in().watched_by(self.health)  # a frozen server is named in seconds (see ApiClient)
        self.deployment = Deployment(state.base_url, admin, admin.server_version(), premade_users=state.premade_users)
        return self.deployment

    def keep_for_the_deployment(self, containers: list[DockerContainer]) -> None:
        """These extras now belong to the deployment, which other processes share: watched as its
        containers are, never removed by :meth:`stop` (whoever removes the deployment removes them)."""
        for container in containers:
            role = self._containers.pop(container, None)
            if role is not None:
                self._attached[container.get_wrapped_container().id] = role

    def adopt_extras(self, roles: dict[str, str]) -> None:
        """Watch these containers (by id: role), extras another process started for the deployment."""
        self._attached.update(roles)

    @property
    def dsn(self) -> str:
        """How a server on the deployment's network reaches its database."""
        return self._dsn

    @property
    def network_name(self) -> str:
        return self._require_network().name

    def _start_extra(self, container: Extra, role: str) -> Extra:
        # Extras may start in a background thread (see fixtures' DeploymentPool) while the run
        # ends: one that finishes starting after stop() is removed at once, not left behind.
        if self._removing:
            raise InfrastructureError(f"{role} for {self.server} was not started: the deployment is being removed")
        self._containers[container] = role  # listed first: an interrupt while it starts still removes it
        try:
            container.start()
        # RuntimeError: testcontainers' wait strategy on a container removed meanwhile (the run ending)
        except (InfrastructureError, DockerException, TimeoutError, OSError, RuntimeError) as error:
            self._containers.pop(container, None)
            with contextlib.suppress(DockerException):  # a half-started server must not linger on the database
                container.stop()
            if isinstance(error, InfrastructureError):
                raise
            raise InfrastructureError(f"{role} for {self.server} did not start: {error}") from None
        if self._removing:
            with contextlib.suppress(DockerException):
                container.stop()
            raise InfrastructureError(f"{role} for {self.server} started as the deployment was being removed")
        return container

    @property
    def warm(self) -> bool:
        """A warm deployment (``mm-conformance up``) this run attached to: it goes on running after the run."""
        return not self._owns_network

    def stopped_containers(self) -> list[str]:
        """This deployment's containers that are no longer running, by role and state ("PostgreSQL exited")."""
        created = {**self.container_roles(), **self._attached}
        if not created:
            return []
        try:
            states = container_states(list(created))
        except DockerException as error:
            return [f"the Docker engine ({error.__class__.__name__})"]
        # "created": an extra still starting in the background
        return [f"{role} {states.get(cid, 'removed')}" for cid, role in created.items()
                if states.get(cid) not in ("running", "created")]

    def container_roles(self) -> dict[str, str]:
        """The deployment's own containers created so far, by id: their roles."""
        roles = {}
        for container, role in list(self._containers.items()):  # extras may be added meanwhile
            with contextlib.suppress(ContainerStartException):  # not created yet
                roles[container.get_wrapped_container().id] = role
        return roles

    def health(self, *, settle_s: float | None = None) -> str | None:
        """What is wrong with the running deployment (a container stopped, the server silent), or None.

        ``settle_s`` (None: a routine look): something just failed; give the engine up to that long
        to see a container stop. A killed container's processes die at once, but the engine records
        the exit about 100 ms later (measured; later under load), and a server answers 500 on its
        dead database well before that. Then Mattermost's own database check is asked too, also
        with no time to settle: a server may answer from its caches with its database gone.
        """
        deadline = time.monotonic() + (settle_s or 0.0)
        while True:
            problem = self._health_now()
            if problem is not None or time.monotonic() >= deadline:
                break
            time.sleep(0.05)  # polled: returns as soon as the engine reports the stop
        if problem is None and settle_s is not None and self.deployment is not None:
            # Under load the engine may take longer than settle_s to record the exit: the server's
            # own database check then tells a dead database from a verdict.
            problem = database_problem(self.deployment.base_url)
        return problem

    def _health_now(self) -> str | None:
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
        self._removing = True
        if self.deployment is not None:
            self.deployment.admin.close()
        if self.server_wide_lock is not None:
            self.server_wide_lock.close()
        def remove(container: DockerContainer) -> None:
            with contextlib.suppress(DockerException):
                container.stop()  # testcontainers: kill and remove

        with concurrent.futures.ThreadPoolExecutor(max(1, len(self._containers))) as removing:
            list(removing.map(remove, list(self._containers)))  # at once: each waits on the engine
        self._containers.clear()
        if self._network is not None and self._owns_network:
            remove_network(self._network)
        self._network = None
        if self._config_volume is not None:
            try:
                engine().volumes.get(self._config_volume).remove(force=True)
            except DockerException:
                pass
            self._config_volume = None

    def __enter__(self) -> Deployment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
