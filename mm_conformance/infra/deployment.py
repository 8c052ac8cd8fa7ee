"""A running Mattermost deployment: PostgreSQL + Mattermost on a private network.

:class:`MattermostDeployment` brings one server image up and tears it down again,
also when anything fails half-way. Every problem on the way is an
:class:`InfrastructureError` with a one-line message, never a verdict.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import functools
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from docker.errors import DockerException
from testcontainers.core.network import Network

import docker
from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.certificates import CertificateCase, CertificateCases
from mm_conformance.infra.containers import (
    OWNER_LABEL,
    RUN_ID,
    RUN_LABEL,
    SUITE_LABEL,
    MattermostContainer,
    PostgresContainer,
    answers_ping,
    database_problem,
    labelled_as,
    owner_running,
    remove_network,
    suite_labels,
    suite_network,
)
from mm_conformance.infra.images import (
    CACHE_DIR,
    POSTGRES_IMAGE,
    ImageBuilder,
    docker_available,
    image_id,
    is_current_snapshot,
    premigrated_image_name,
)
from mm_conformance.infra.proxy import TLSProxyContainer
from mm_conformance.infra.redirects import RedirectEndpoints
from mm_conformance.mattermost.admin import ApiClient, MattermostApiError, ServerVersion
from mm_conformance.mattermost.background import CleanUp, UserPool
from mm_conformance.mattermost.servers import LOCAL_REPOSITORY, MattermostServer
from mm_conformance.redact import register_secret

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


#: The world the documentation assumes, set on every deployment as it starts: personal access
#: tokens on (scenarios that switch them off put them back).
TOKENS_ON = {"ServiceSettings": {"EnableUserAccessTokens": True}}


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
        self._owns_network = True  # False for a warm deployment a run attached to
        self._database: PostgresContainer | None = None
        self._dsn = ""  # how a server on the deployment's network reaches the database
        #: Every container of the deployment and its role in words ("PostgreSQL", "the TLS proxy").
        self._containers: dict[object, str] = {}
        self._config_volume: str | None = None
        self.deployment: Deployment | None = None
        #: Set when other runs may use the same server at once (a warm deployment).
        self.server_wide_lock: ServerWideLock | None = None
        self._removing = False  # stop() has begun: no extra may start any more
        #: The containers of a deployment this run attached to (by id: role), watched but never removed.
        self._attached: dict[str, str] = {}
        #: False for a deployment the run's CLI started for its workers: removed with the run.
        self.kept_after_run = False

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
        self._dsn = self._database.dsn_on_network()
        self._config_volume = docker.from_env().volumes.create(
            f"mm-conformance-config-{uuid.uuid4().hex[:12]}", labels=suite_labels("config")).name
        server = (MattermostContainer(self.image).with_network(self._network).with_network_aliases(SERVER_ALIAS)
                  .with_database(self._dsn).with_config_volume(self._config_volume))
        if self._removing:  # stop() was called from another thread (a run's end) while the database started
            raise InfrastructureError(f"{self.server} was being removed as it started")
        self._containers[server] = "the Mattermost server"
        server.start()
        base_url = server.base_url()
        admin = ApiClient.bootstrap(base_url).watched_by(self.health)
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
                  .with_database(self._dsn).with_tls(case.chain_pem, case.key_pem)
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
                  .with_database(self._dsn)
                  .with_site_url(f"http://localhost{subpath}")
                  .with_env("MM_SERVICESETTINGS_ENABLEUSERACCESSTOKENS", "true"))
        self._start_extra(server, "the subpath server")
        return f"{server.base_url()}{subpath}"

    def _start_extra(self, container, role: str):
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
        try:  # one question for all of them (sparse: the list's own states, no inspect of each)
            states = {c.id: c.status for c in _engine().containers.list(all=True, sparse=True,
                                                                        filters={"id": list(created)})}
        except DockerException as error:
            return [f"the Docker engine ({error.__class__.__name__})"]
        # "created": an extra still starting in the background
        return [f"{role} {states.get(cid, 'removed')}" for cid, role in created.items()
                if states.get(cid) not in ("running", "created")]

    def container_roles(self) -> dict[str, str]:
        """The deployment's own containers created so far, by id: their roles."""
        return {container._container.id: role  # type: ignore[attr-defined]
                for container, role in list(self._containers.items())  # extras may be added meanwhile
                if container._container is not None}  # type: ignore[attr-defined]  (None: not created yet)

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
        def remove(container: object) -> None:
            with contextlib.suppress(DockerException):
                container.stop()  # type: ignore[attr-defined]  (testcontainers: kill and remove)

        with concurrent.futures.ThreadPoolExecutor(max(1, len(self._containers))) as removing:
            list(removing.map(remove, list(self._containers)))  # at once: each waits on the engine
        self._containers.clear()
        if self._network is not None and self._owns_network:
            remove_network(self._network)
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


# -- a warm deployment, kept between runs ----------------------------------------------------

#: Where ``mm-conformance up`` records each warm deployment (readable by its owner only: it holds the
#: admin's password and the database's, so a later run can sign in).
WARM_DIR = CACHE_DIR / "warm"
#: The run id of everything a warm deployment is made of: no run's own, kept until ``down``.
WARM_RUN = "warm"


@dataclass
class WarmState:
    """What a run needs to use a warm deployment: where it is and how to sign in to it."""

    image: str
    image_id: str
    base_url: str
    admin_username: str
    admin_password: str
    dsn: str
    network: str
    #: Its containers, by id: their roles (a run watches them: "PostgreSQL exited" is named as such).
    containers: dict[str, str] = field(default_factory=dict)
    #: Where it is recorded: WARM_DIR, or the directory of one run's shared deployments.
    directory: str = str(WARM_DIR)

    @classmethod
    def record(cls, stack: MattermostDeployment, directory: Path = WARM_DIR) -> WarmState:
        """Record ``stack``'s started deployment in ``directory`` for others to attach to."""
        deployment = stack.deployment
        assert deployment is not None, "the deployment has not started"
        state = cls(stack.image, image_id(stack.image) or "", deployment.base_url, deployment.admin.user.username,
                    deployment.admin.user.password, stack._dsn, stack._require_network().name,
                    stack.container_roles(), str(directory))
        state.save()
        return state

    @classmethod
    def read(cls, path: Path) -> WarmState:
        """The state recorded at ``path``; its secrets are registered (redacted wherever they appear)."""
        state = cls(**json.loads(path.read_text()))
        for secret in (state.admin_password, state.dsn):
            register_secret(secret)
        return state

    @property
    def kept(self) -> bool:
        """Kept after the run (``up``), not removed with the run that started it (see SharedDeployments)."""
        return Path(self.directory) == WARM_DIR

    @staticmethod
    def path(image_id: str, directory: Path = WARM_DIR) -> Path:
        return directory / f"{image_id.removeprefix('sha256:')[:12]}.json"

    def save(self) -> None:
        Path(self.directory).mkdir(parents=True, exist_ok=True)
        path = self.path(self.image_id, Path(self.directory))
        path.touch(mode=0o600)
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def of(cls, image: str) -> WarmState | None:
        """The warm deployment of ``image`` if one is up and answering, else None (a dead one is forgotten)."""
        server_id = image_id(image)
        path = cls.path(server_id) if server_id else None
        if path is None or not path.is_file():
            return None
        state = cls.read(path)
        try:
            state.sign_in().close()
        except (InfrastructureError, MattermostApiError):
            path.unlink(missing_ok=True)
            return None
        return state

    def sign_in(self) -> ApiClient:
        return ApiClient.login(self.base_url, self.admin_username, self.admin_password)

    def server_wide_lock(self) -> ServerWideLock:
        return ServerWideLock(self.path(self.image_id, Path(self.directory)).with_suffix(".lock"))


class ServerWideLock:
    """Scenarios on a server several runs (or workers) share at once: any number of them side by
    side, but one that changes server-wide settings runs alone.

    Every scenario holds the lock shared; the first change of a setting turns it exclusive,
    which waits until every other scenario on the server has ended, and holds the others'
    next scenarios until this one has put the settings back and ended. (``flock``: released
    by the kernel if a run dies.)

    Each change also leaves a new mark in the lock file, so a process can keep what it knows of
    the settings between its scenarios and forget it only when another process has changed them
    since it last looked (:meth:`when_others_change_settings`).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a+")
        self.exclusive = False
        self._mark_seen: str | None = None  # None: never looked
        self._forget: Callable[[], None] | None = None

    def when_others_change_settings(self, forget: Callable[[], None]) -> None:
        """Call ``forget`` as a scenario starts (or turns exclusive) if another process's scenario
        changed server-wide settings since this process last looked, and at its first scenario."""
        self._forget = forget

    def scenario_starts(self) -> None:
        fcntl.flock(self._file, fcntl.LOCK_SH)
        self._look()

    def before_settings_change(self) -> None:
        if not self.exclusive:
            fcntl.flock(self._file, fcntl.LOCK_EX)  # drops the shared lock first: two of these never deadlock
            self.exclusive = True
            self._look()  # another may have changed (and put back) settings while this one waited
            self._mark_seen = secrets.token_hex(8)
            self._file.truncate(0)
            self._file.write(self._mark_seen)
            self._file.flush()

    def settings_no_longer_read(self) -> None:
        """The scenario reads no server-wide setting from now on (it waits on a server that never
        answers): others may change settings meanwhile. Not if it changed one: it puts it back alone."""
        if not self.exclusive:
            fcntl.flock(self._file, fcntl.LOCK_UN)

    def scenario_ends(self) -> None:
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self.exclusive = False

    def close(self) -> None:
        self._file.close()

    def _look(self) -> None:
        self._file.seek(0)
        mark = self._file.read()
        if mark != self._mark_seen and self._forget is not None:
            self._forget()
        self._mark_seen = mark


class _NetworkByName:
    """The warm deployment's network, as the suite's containers need it: by its name."""

    def __init__(self, name: str) -> None:
        self.name = name


def warm_up(server: MattermostServer) -> WarmState:
    """Start ``server``'s deployment and keep it running for later runs (``mm-conformance up``)."""
    known = WarmState.of(server.image)
    if known is not None:
        return known
    with labelled_as(WARM_RUN):
        stack = MattermostDeployment(server)
        deployment = stack.start()
    deployment.admin.patch_config(TOKENS_ON)
    return WarmState.record(stack)


def attach(server: MattermostServer, state: WarmState) -> MattermostDeployment:
    """A run's view of a warm deployment: its server and database stay when the run ends, its extras go."""
    stack = MattermostDeployment(server)
    stack.server_wide_lock = state.server_wide_lock()
    stack._network, stack._owns_network, stack._dsn = _NetworkByName(state.network), False, state.dsn
    stack._attached, stack.kept_after_run = dict(state.containers), state.kept
    admin = state.sign_in().watched_by(stack.health)  # a frozen server is named in seconds (see ApiClient)
    stack.deployment = Deployment(state.base_url, admin, admin.server_version())
    return stack


#: Set by the CLI for its pytest-xdist workers: the directory of the deployments it starts for them to share.
SHARED_DIR_ENV = "MM_CONFORMANCE_SHARED_DEPLOYMENTS"


class SharedDeployments:
    """The deployments a run's CLI starts for its workers to share, removed with the run.

    They start in threads while the workers boot (seconds saved on each server), and one
    deployment serves every worker of a server: the one that runs its silent-server
    scenarios starts none of its own. A worker asks :meth:`state_for`, which waits until
    the start has ended; a start that failed leaves no state, and the worker then starts
    the server itself (and reports what fails, as any run would).

    >>> with SharedDeployments(directory, servers):   # os.environ[SHARED_DIR_ENV] = str(directory)
    ...     pytest.main([...])                         # workers: SharedDeployments.state_for(image)
    """

    def __init__(self, directory: Path, servers: list[MattermostServer]) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._stacks: list[MattermostDeployment] = []
        self._threads: list[threading.Thread] = []
        started: set[str] = set()
        for server in servers:
            server_id = image_id(server.image)
            # By image ID: two names of one image share one state file and one lock; a second start
            # would wait for the first, then start a deployment no worker uses and overwrite its state.
            if not server_id or server_id in started:
                continue
            if not is_current_snapshot(premigrated_image_name(server_id), server_id):
                # The first run of an image migrates a database (a minute): in a worker, where an
                # interrupt reaches it, not in a thread here. Each worker then starts its own.
                continue
            starting = self._starting_lock(directory, server_id).open("w")
            fcntl.flock(starting, fcntl.LOCK_EX)  # held until the start has ended: a worker asking waits
            started.add(server_id)
            stack = MattermostDeployment(server)
            self._stacks.append(stack)
            thread = threading.Thread(target=self._start, args=(stack, starting),
                                      name=f"shared deployment of {server}", daemon=True)
            self._threads.append(thread)
            thread.start()

    @staticmethod
    def _starting_lock(directory: Path, server_id: str) -> Path:
        return WarmState.path(server_id, directory).with_suffix(".starting")

    def _start(self, stack: MattermostDeployment, starting: Any) -> None:
        try:
            deployment = stack.start()
            deployment.admin.patch_config(TOKENS_ON)
            WarmState.record(stack, self.directory)
        except Exception:  # noqa: BLE001  (the workers start it themselves, and report what fails)
            stack.stop()
        finally:
            fcntl.flock(starting, fcntl.LOCK_UN)
            starting.close()

    @classmethod
    def state_for(cls, image: str) -> WarmState | None:
        """In a worker: the run's shared deployment of ``image``, once started; None if there is none."""
        directory = os.environ.get(SHARED_DIR_ENV)
        server_id = image_id(image)
        if not directory or not server_id:
            return None
        lock = cls._starting_lock(Path(directory), server_id)
        if not lock.is_file():
            return None
        with lock.open() as starting:
            fcntl.flock(starting, fcntl.LOCK_SH)  # until the CLI's start has ended
        path = WarmState.path(server_id, Path(directory))
        return WarmState.read(path) if path.is_file() else None

    def close(self) -> None:
        """Remove every shared deployment (at once), also one still starting (an interrupted run):
        its containers go, so its start fails at once; then once more, for one it made meanwhile."""
        for _ in range(2):
            with concurrent.futures.ThreadPoolExecutor(max(1, len(self._stacks))) as removing:
                list(removing.map(MattermostDeployment.stop, self._stacks))
            for thread in self._threads:
                thread.join(timeout=60)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> SharedDeployments:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@functools.cache
def _engine() -> docker.DockerClient:
    """One Docker client for the health checks (made once: each makes a connection pool)."""
    return docker.from_env()


def warm_down() -> list[str]:
    """Remove every warm deployment (``mm-conformance down``); what was removed."""
    removed = [f"{kind} {thing.name}" for kind, thing in _suite_things(f"{RUN_LABEL}={WARM_RUN}")]  # type: ignore[attr-defined]
    _remove(_suite_things(f"{RUN_LABEL}={WARM_RUN}"))
    for path in WARM_DIR.glob("*.json") if WARM_DIR.is_dir() else []:
        path.unlink()
    return removed


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

    Another run still in progress on this machine is not an earlier run: its things are in
    use; nor is a warm deployment (``mm-conformance up``), kept on purpose.
    """
    return [f"{kind} {thing.name}" for kind, thing in _suite_things(SUITE_LABEL)  # type: ignore[attr-defined]
            if _left_behind(thing) and _labels(thing).get(RUN_LABEL) != WARM_RUN]


def clean() -> tuple[list[str], int]:
    """Remove every container, network and volume carrying the suite's label that a run left behind.

    Returns what was removed, and how many things were kept because the run that made
    them is still in progress on this machine (removing them would break it). Nothing
    without the suite's label is touched. Containers go first (they hold networks and
    volumes), then networks, then volumes.
    """
    removable, kept = [], 0
    for kind, thing in _suite_things(SUITE_LABEL):
        if not _left_behind(thing) and _labels(thing).get(RUN_LABEL) != RUN_ID:
            kept += 1
        else:
            removable.append((kind, thing))
    _remove(removable)
    for path in WARM_DIR.glob("*.json") if WARM_DIR.is_dir() else []:
        if WarmState.of(json.loads(path.read_text())["image"]) is None:
            path.unlink(missing_ok=True)  # its deployment is gone
    return [f"{kind} {thing.name}" for kind, thing in removable], kept  # type: ignore[attr-defined]


def _remove(things: list[tuple[str, object]]) -> None:
    """Containers first (they hold the networks and volumes), then networks, then volumes."""
    order = {"container": 0, "network": 1, "volume": 2}
    for kind, thing in sorted(things, key=lambda pair: order[pair[0]]):
        try:
            if kind == "container":
                thing.remove(force=True, v=True)  # type: ignore[attr-defined]
            elif kind == "volume":
                thing.remove(force=True)  # type: ignore[attr-defined]
            else:
                thing.remove()  # type: ignore[attr-defined]
        except docker.errors.NotFound:
            pass
