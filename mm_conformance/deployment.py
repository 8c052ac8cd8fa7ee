"""A running Mattermost deployment: PostgreSQL + Mattermost on a private network.

:class:`MattermostDeployment` brings one release line up and tears it down again,
also when anything fails half-way. Every problem on the way is an
:class:`InfrastructureError` with a one-line message, never a verdict.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

import docker
import httpx
from docker.errors import DockerException
from testcontainers.core.network import Network

from .admin import ApiClient, MattermostApiError, ServerVersion
from .containers import SUITE_LABEL, MattermostContainer, PostgresContainer
from .errors import InfrastructureError
from .images import POSTGRES_IMAGE, ReleaseLine, docker_available

LOCAL_IMAGE_PREFIX = "mm-conformance/"


@dataclass
class Deployment:
    """What a scenario sees of a running server."""

    line: str
    base_url: str
    admin: ApiClient
    version: ServerVersion
    server: MattermostContainer | None = field(default=None, repr=False)

    def alive(self) -> bool:
        """False when the server stopped answering: a failed call is then not a verdict."""
        return self.server.ping() if self.server is not None else True


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


class MattermostDeployment:
    """Starts PostgreSQL and Mattermost for one release line; a context manager.

    >>> with MattermostDeployment(line, image=line.image) as deployment:
    ...     deployment.admin.create_user("alice")
    """

    def __init__(self, line: ReleaseLine, *, image: str, postgres_image: str = POSTGRES_IMAGE) -> None:
        self.line = line
        self.image = image
        self.postgres_image = postgres_image
        self._network: Network | None = None
        self._containers: list = []
        self.deployment: Deployment | None = None

    def start(self) -> Deployment:
        docker_available()
        why = self.line.blocked_note.read_text().strip() if self.line.blocked_note.exists() else ""
        require_image(self.image, why)
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
        self._network = Network(docker_network_kw={"labels": {SUITE_LABEL: "network"}}).create()
        database = PostgresContainer(self.postgres_image).with_network(self._network)
        self._containers.append(database)
        database.start()
        server = MattermostContainer(self.image).with_network(self._network).with_database(database.dsn_on_network())
        self._containers.append(server)
        server.start()
        base_url = server.base_url()
        admin = ApiClient.bootstrap(base_url)
        self.deployment = Deployment(self.line.name, base_url, admin, admin.server_version(), server)
        return self.deployment

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

    def __enter__(self) -> Deployment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def leftover_containers() -> list[str]:
    """Names of suite containers still present (a test asserts there are none after a run)."""
    client = docker.from_env()
    return [c.name for c in client.containers.list(all=True, filters={"label": SUITE_LABEL})]
