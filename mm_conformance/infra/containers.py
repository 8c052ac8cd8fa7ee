"""The Mattermost server as a testcontainers class, and what every container of the suite shares.

Each service is a testcontainers class, configured with ``with_*`` builders and started
with an explicit wait strategy (never a sleep); PostgreSQL's is in
:mod:`~mm_conformance.infra.database`, nginx's in :mod:`~mm_conformance.infra.nginx`::

    with Network() as network:
        with PostgresContainer("postgres:15").with_network(network) as db:
            server = (MattermostContainer(image).with_network(network)
                      .with_database(db.dsn_on_network()))
            with server:
                print(server.base_url())      # http://127.0.0.1:<port> on a local engine

Here too: the labels every container, network and volume carries (its role, the run, the
process that made it), how testcontainers reaches containers (where the suite publishes
them: :mod:`~mm_conformance.infra.docker_host`), and a private network's removal.

Settings that scenarios toggle (EnableUserAccessTokens and the like) are *not*
set here through ``MM_*`` variables: Mattermost re-applies environment overrides
on every save, so ``PUT /api/v4/config`` would answer 200 and change nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from docker.errors import DockerException
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.wait_strategies import HttpWaitStrategy

from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.docker_host import docker_host, reach_containers_where_published
from mm_conformance.infra.engine import engine

#: Every container, network and volume the suite starts carries this label (its value: the role).
SUITE_LABEL = "io.github.mm-conformance"
#: ... and this one, the run that made it: a run judges only its own leftovers, never an earlier one's.
RUN_LABEL = "io.github.mm-conformance.run"
#: This run's id, inherited by the processes it starts (a CI job sets it once for all its runs).
RUN_ID_ENV = "MM_CONFORMANCE_RUN_ID"
RUN_ID = os.environ.setdefault(RUN_ID_ENV, secrets.token_hex(6))
#: ... and this one, the process that made it (``<boot id>:<pid>:<start time>``): while that
#: process runs, what it made is in use, not left behind, even if another run looks at it.
OWNER_LABEL = "io.github.mm-conformance.owner"


def process_identity(pid: int) -> str:
    """A name for process ``pid`` that no later process on this machine will have (pids are reused)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        started = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]  # field 22: start time
    except (OSError, IndexError):
        return ""
    return f"{boot}:{pid}:{started}"


OWNER = process_identity(os.getpid())


def owner_running(owner: str) -> bool:
    """True while the process that made a thing with this owner label still runs on this machine."""
    try:
        pid = int(owner.split(":")[1])
    except (IndexError, ValueError):
        return False  # no owner label: made by a suite that did not record one
    return process_identity(pid) == owner


_labelling = threading.local()  # .stack: (run id, owner) while labelled_as() is in force, in this thread


def suite_labels(role: str) -> dict[str, str]:
    """The labels of everything the suite creates: its role, the run and the process that made it."""
    stack = getattr(_labelling, "stack", [])
    run_id, owner = stack[-1] if stack else (RUN_ID, OWNER)
    return {SUITE_LABEL: role, RUN_LABEL: run_id, OWNER_LABEL: owner}


@contextlib.contextmanager
def labelled_as(run_id: str, owner: str | None = None) -> Iterator[None]:
    """What this thread creates meanwhile belongs to ``run_id`` and to ``owner`` (None: to no process,
    as a warm deployment, kept on purpose); an extra shared by several processes belongs to the
    deployment's owner, who removes it (see infra.shared_extras)."""
    stack = _labelling.__dict__.setdefault("stack", [])
    stack.append((run_id, run_id if owner is None else owner))
    try:
        yield
    finally:
        stack.pop()


def container_states(ids: list[str]) -> dict[str, str]:
    """The state of each of these containers ("running", "exited", …) by id, in one question to the
    engine (the list's own states, no inspect of each); a container that is gone is not in it.
    Raises the engine's DockerException."""
    return {c.id: c.status for c in engine().containers.list(all=True, sparse=True, filters={"id": ids})}


def labels_of(container: DockerContainer) -> tuple[str, str]:
    """The run and owner a started container of the suite belongs to."""
    labels = container.get_wrapped_container().labels
    return labels.get(RUN_LABEL, RUN_ID), labels.get(OWNER_LABEL, OWNER)


reach_containers_where_published()

#: Everything that makes Mattermost reach out on its own, switched off: the suite talks only to
#: its own containers, where the Docker host publishes them. On by default are the security-update check and the
#: product notices, both fetched at startup; telemetry (production builds) and Sentry follow
#: EnableDiagnostics; the marketplace and feature-flag plugin installs are fetched on demand;
#: emails go to an SMTP server nobody runs.
NO_OUTGOING_TRAFFIC = {
    "MM_SERVICESETTINGS_ENABLESECURITYFIXALERT": "false",
    "MM_ANNOUNCEMENTSETTINGS_ADMINNOTICESENABLED": "false",
    "MM_ANNOUNCEMENTSETTINGS_USERNOTICESENABLED": "false",
    "MM_LOGSETTINGS_ENABLEDIAGNOSTICS": "false",
    "MM_PLUGINSETTINGS_ENABLEMARKETPLACE": "false",
    "MM_PLUGINSETTINGS_ENABLEREMOTEMARKETPLACE": "false",
    "MM_PLUGINSETTINGS_AUTOMATICPREPACKAGEDPLUGINS": "false",
    "MM_EMAILSETTINGS_SENDEMAILNOTIFICATIONS": "false",
    "MM_EMAILSETTINGS_SENDPUSHNOTIFICATIONS": "false",
}


class ContainerExited(InfrastructureError):
    """A container stopped while the suite waited for it to become ready."""


class _ReadyWhileRunning(HttpWaitStrategy):
    """Waits for an HTTP endpoint, but gives up at once if the container exits.

    Plain polling would wait out the whole timeout on a server that crashed at start;
    this names the crash and shows its last log lines instead.
    """

    def wait_until_ready(self, container: Any) -> None:
        self._container = container
        try:
            super().wait_until_ready(container)
        except Exception:  # a timeout, or the published port gone with a container that exited
            self._raise_if_exited()
            raise

    def _try_http_request(self, url: str, headers: dict[str, str], ssl_context: Any) -> bool:
        self._raise_if_exited()
        # testcontainers' own probe would go through a proxy named in the environment.
        request = urllib.request.Request(url, headers=headers, method=self._method)
        try:
            with open_direct(request, timeout=1, context=ssl_context) as response:
                return self._check_response(response, url)
        except urllib.error.HTTPError as error:
            return self._handle_http_error(error)
        except OSError:  # refused, reset, not answering yet
            return False

    def _raise_if_exited(self) -> None:
        raise_if_exited(self._container, "container")


def open_direct(request: urllib.request.Request | str, *, timeout: float, context: ssl.SSLContext | None = None) -> Any:
    """``urlopen`` that ignores the environment's proxies: the suite's servers are its own, on the Docker host."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    return urllib.request.build_opener(*handlers).open(request, timeout=timeout)


def raise_if_exited(container: Any, role: str) -> None:
    """ContainerExited, naming the container and its last log lines, if it stopped while starting.

    Every wait strategy of the suite calls this between polls, so a crash at start
    is reported at once instead of after the whole startup timeout.
    """
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    if wrapped.status in ("exited", "dead"):
        tail = wrapped.logs(tail=5).decode(errors="replace").strip().replace("\n", " | ")
        raise ContainerExited(f"{role} {wrapped.name} ({', '.join(wrapped.image.tags)}) exited "
                              f"while starting: {tail}")


class MattermostContainer(DockerContainer):
    """A Mattermost server, published on the Docker host's address only (127.0.0.1 on a local engine),
    ready when ``/api/v4/system/ping`` answers OK."""

    port = 8065

    # A first start migrates an empty database: allow for 2 slow cores.
    def __init__(self, image: str, *, tls: bool = False, subpath: str = "", startup_timeout_s: int = 300,
                 **kwargs: Any) -> None:
        super().__init__(image, labels=suite_labels("mattermost"), **kwargs)
        self.tls = tls
        # Published on the Docker host's one address (loopback on a local engine), never on every
        # interface: until the suite makes the first user, whoever makes it becomes the server's system admin.
        self.ports[f"{self.port}/tcp"] = docker_host().port_binding()  # type: ignore[assignment]  # docker-py takes (address, port); typed as int
        self.with_env("MM_SQLSETTINGS_DRIVERNAME", "postgres")
        # Logs to the console only: the container's log is what the suite reads on a crash.
        self.with_env("MM_LOGSETTINGS_ENABLEFILE", "false")
        self.with_env("MM_LOGSETTINGS_CONSOLELEVEL", "INFO")
        for key, value in NO_OUTGOING_TRAFFIC.items():
            self.with_env(key, value)
        self.subpath = subpath  # a SiteURL with a path moves the API under it
        ready = (_ReadyWhileRunning(self.port, f"{subpath}/api/v4/system/ping")
                 .for_response_predicate(lambda body: '"status":"OK"' in body.replace(" ", ""))
                 .with_startup_timeout(startup_timeout_s)
                 .with_poll_interval(0.25))
        # The readiness probe is the suite's, not the implementation's: it need not verify.
        self.waiting_for(ready.using_tls(insecure=True) if tls else ready)

    def with_tls(self, chain_pem: bytes, key_pem: bytes) -> MattermostContainer:
        """Terminate TLS in Mattermost itself (``ConnectionSecurity=TLS``) with this certificate."""
        # Readable by the server's user (uid 2000): the copied files belong to root.
        self.with_copy_into_container(chain_pem, "/mattermost/config/tls.crt", mode=0o644)
        self.with_copy_into_container(key_pem, "/mattermost/config/tls.key", mode=0o644)
        self.with_env("MM_SERVICESETTINGS_CONNECTIONSECURITY", "TLS")
        self.with_env("MM_SERVICESETTINGS_TLSCERTFILE", "/mattermost/config/tls.crt")
        return self.with_env("MM_SERVICESETTINGS_TLSKEYFILE", "/mattermost/config/tls.key")

    def with_database(self, dsn: str) -> MattermostContainer:
        return self.with_env("MM_SQLSETTINGS_DATASOURCE", dsn)

    def with_site_url(self, site_url: str) -> MattermostContainer:
        return self.with_env("MM_SERVICESETTINGS_SITEURL", site_url)

    def with_config_volume(self, volume: str) -> MattermostContainer:
        """Keep ``config/config.json`` in a named volume, as an admin's server keeps its config directory.

        Settings changed through the System Console live in that file; a server
        upgraded in place must find them there (a fresh container would start
        from the defaults, and every setting would look lost in the upgrade).
        """
        return self.with_volume_mapping(volume, "/mattermost/config", mode="rw")

    def base_url(self) -> str:
        """Where the suite and implementations reach the server: the Docker host's address (the
        certificates are for it), ``http://127.0.0.1:<port>`` on a local engine."""
        return docker_host().url("https" if self.tls else "http", self.get_exposed_port(self.port))

    def ping(self) -> bool:
        """True while the server still answers its health check (used to tell a crash from a verdict)."""
        return answers_ping(f"{self.base_url()}{self.subpath}")


def answers_ping(server_url: str, timeout_s: float = 5.0) -> bool:
    """True while the Mattermost at ``server_url`` still answers ``/api/v4/system/ping`` (the suite's
    own probe, http or https: it need not verify)."""
    try:
        with open_direct(f"{server_url}/api/v4/system/ping", timeout=timeout_s, context=_UNVERIFIED) as answer:
            return answer.status == 200
    except OSError:
        return False


def database_problem(server_url: str, timeout_s: float = 3.0) -> str | None:
    """What Mattermost's own database check says is wrong (None: it wrote to its database, or the
    server does not say): ``/system/ping?get_server_status=true`` writes a row and deletes it.

    Asked when something failed and the engine shows no container stopped: the engine records a
    killed PostgreSQL's exit a little later (later still under load), and Mattermost answers 500
    on its dead database in between. The server's own check of its database is the truth.
    """
    too_long = f"PostgreSQL: Mattermost's database check did not finish within {timeout_s:.0f} s"
    try:
        with open_direct(f"{server_url}/api/v4/system/ping?get_server_status=true", timeout=timeout_s,
                         context=_UNVERIFIED) as answer:
            body = answer.read()
    except urllib.error.HTTPError as error:  # 500 "unhealthy", with the same body
        body = error.read()
    except TimeoutError:
        return too_long
    except OSError as error:  # urllib wraps a connect timeout in a URLError
        return too_long if isinstance(getattr(error, "reason", None), TimeoutError) else None
    try:
        status = json.loads(body).get("database_status")
    except (ValueError, AttributeError):
        return None
    return None if status in (None, "OK") else f"PostgreSQL: Mattermost's database check says {status}"


#: The suite's own probes of its own servers need not verify their certificates.
_UNVERIFIED = ssl._create_unverified_context()


class PublishedPorts:
    """The host ports a container's ports are published on, each asked of the engine once: they do
    not change while the container runs (:meth:`forget` them when it stops)::

        published = PublishedPorts(container)
        published[8443]          # the engine is asked now; later, the answer is remembered
    """

    def __init__(self, container: DockerContainer) -> None:
        self._container = container
        self._known: dict[int, int] = {}

    def __getitem__(self, port: int) -> int:
        if port not in self._known:
            self._known[port] = int(self._container.get_exposed_port(port))
        return self._known[port]

    def forget(self) -> None:
        self._known.clear()


def remove_network(network: Network) -> None:
    """Remove a stack's private network and any container still on it.

    A container can be created in the instant an interruption arrives, before
    testcontainers knows of it; on the stack's own network it is still found. By the
    engine's container list, not the network's own: a container only created (never
    started) is on the network, but not yet in what the network lists as attached.
    """
    with contextlib.suppress(DockerException):
        # By name: a container only created names its network, but is not yet on it by the network's id.
        for container in engine().containers.list(all=True, filters={"network": network.name}):
            with contextlib.suppress(DockerException):
                container.remove(force=True, v=True)
        network.remove()


def suite_network() -> Network:
    """A new private Docker network, labelled so that a leftover one can be found."""
    return Network(docker_network_kw={"labels": suite_labels("network")}).create()
