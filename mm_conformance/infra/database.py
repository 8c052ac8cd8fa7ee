"""PostgreSQL for Mattermost: the container, when it is ready, and what the suite relies on in its image.

Any image that keeps the official ``postgres`` image's contract runs the database: the
official one where a registry answers, the suite's own Debian-built
``mm-conformance/postgres:15`` where none does, or whichever ``--postgres-image`` names
(:mod:`~mm_conformance.infra.support` chooses). The suite relies on these parts of that
contract, and on nothing else (``tests/test_official_images.py`` checks each, on an image
made to keep exactly these parts and to differ from the suite's own everywhere else):

1. **Environment.** On an empty data directory, ``POSTGRES_USER``, ``POSTGRES_PASSWORD``
   and ``POSTGRES_DB`` make the cluster's superuser, with that password, and that
   database, in UTF-8.
2. **Data.** ``PGDATA`` names the data directory; the entrypoint creates it where it is
   missing and gives it to the server's user. A data directory that holds a cluster is
   used as it is: no initialisation, and the ``POSTGRES_*`` variables are ignored — the
   password stays the one the cluster was made with (the official image's behaviour; the
   suite's own re-sets it, which changes nothing here).
3. **Network.** The server listens on port 5432 on every interface and asks other
   containers for the password.
4. **Tools and socket.** ``sh``, ``pg_isready`` and ``psql`` are on the ``PATH``, and psql,
   run in the container, reaches the server on its default socket as ``POSTGRES_USER``
   (the official image trusts the socket, initdb's default; the password is given too, for
   an image that asks).
5. **Entrypoint and command.** The image's own start the server in the foreground; the
   suite gives neither.
6. **Log.** The server logs to the container's output, and says "database system is ready
   to accept connections" once it is (the official image says it twice on a first start:
   first for a server on its socket only, while it makes the role and database).
7. **Stop.** The image's stop signal shuts the server down cleanly (official: SIGINT, a fast
   shutdown; the suite's own: SIGTERM, a smart one), so a stopped container's data
   directory can be kept as an image (:mod:`~mm_conformance.infra.snapshots`).

Not relied on: the server's user name or uid, the image's ``VOLUME`` (a snapshot keeps
its data elsewhere: a volume is not part of a committed image), the default ``PGDATA``,
a health check, ``/docker-entrypoint-initdb.d``, the logging collector.

::

    with Network() as network:
        with PostgresContainer("postgres:15").with_network(network) as db:
            db.dsn_on_network()      # postgres://mmuser:…@db:5432/mattermost?sslmode=disable…
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from testcontainers.core.container import DockerContainer
from testcontainers.core.waiting_utils import WaitStrategy

from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.containers import raise_if_exited, suite_labels

#: What the server logs once it accepts connections (6.).
READY_LINE = "database system is ready to accept connections"
#: The exit code of :data:`_READY_AND_OURS` while the server is not ready on TCP yet.
_NOT_YET = 64
#: Run in the container once the log says ready: the server answers on TCP, on 127.0.0.1, which the
#: socket-only server of a first start never does (3., 6.); then the role takes this container's
#: password, which a cluster from a snapshot does not have (2., 4.). Nothing secret on its command
#: line: psql reads the password from the container's own environment.
_READY_AND_OURS = f"""pg_isready -q -h 127.0.0.1 -p 5432 || exit {_NOT_YET}
PGPASSWORD="$POSTGRES_PASSWORD" psql -q -X -v ON_ERROR_STOP=1 -v user="$POSTGRES_USER" \\
    -v password="$POSTGRES_PASSWORD" -U "$POSTGRES_USER" -d "$POSTGRES_DB" <<'SQL'
ALTER ROLE :"user" PASSWORD :'password';
SQL
"""


class PostgresContainer(DockerContainer):
    """PostgreSQL for Mattermost, from any image that keeps the contract above (the module docstring).

    Ready when :class:`_AcceptsConnections` says so: then the role ``mmuser`` has this
    container's password, whether the cluster was made now or comes from a snapshot.
    """

    port = 5432

    def __init__(self, image: str, *, alias: str = "db", startup_timeout_s: int = 60, **kwargs: Any) -> None:
        super().__init__(image, labels=suite_labels("postgres"), **kwargs)
        self.alias = alias
        self.user = "mmuser"
        self.password = secrets.token_urlsafe(12)
        self.database = "mattermost"
        self.with_env("POSTGRES_USER", self.user).with_env("POSTGRES_PASSWORD", self.password)
        self.with_env("POSTGRES_DB", self.database)
        self.with_network_aliases(alias)
        self.waiting_for(_AcceptsConnections().with_startup_timeout(startup_timeout_s).with_poll_interval(0.1))

    def snapshot(self, image: str, labels: dict[str, str]) -> None:
        """Shut the database down cleanly (7.) and keep its data as ``image`` (the container stays, stopped).

        Only what is in the container's own file system is kept: its ``PGDATA`` must be
        outside the image's volumes (see :func:`~mm_conformance.infra.snapshots.migrate_and_snapshot`).
        A container started from that image has the same databases, and takes its own
        password as it becomes ready.
        """
        container = self.get_wrapped_container()
        container.stop(timeout=60)  # the image's stop signal: a clean shutdown, nothing left to recover
        repository, tag = image.rsplit(":", 1)
        # Docker merges the container's environment into the image's (PGDATA stays); blanking the
        # password keeps it out of the image (a container must bring its own).
        container.commit(repository=repository, tag=tag, conf={"Env": ["POSTGRES_PASSWORD="], "Labels": labels})

    def dsn_on_network(self) -> str:
        """The data source Mattermost uses to reach this database on their shared network."""
        return (f"postgres://{self.user}:{self.password}@{self.alias}:{self.port}/{self.database}"
                "?sslmode=disable&connect_timeout=10")


class _AcceptsConnections(WaitStrategy):
    """Ready when the log says so and, inside the container, the server answers on TCP and the role
    has taken this container's password; fails at once if the container exits, or if the role
    cannot take it (an image that breaks the contract, named with what psql said).

    The log is read first, each poll (one cheap call); the check in the container (an exec,
    ~70 ms) runs only once the log says ready.
    """

    def wait_until_ready(self, container: Any) -> None:
        wrapped = container.get_wrapped_container()
        deadline = time.monotonic() + self._startup_timeout
        while True:
            raise_if_exited(container, "PostgreSQL")
            if READY_LINE in wrapped.logs().decode(errors="replace"):
                code, output = wrapped.exec_run(["sh", "-c", _READY_AND_OURS])
                if code == 0:
                    return
                if code != _NOT_YET:
                    said = " ".join(output.decode(errors="replace").split())[-300:] or f"exit code {code}"
                    raise InfrastructureError(f"PostgreSQL ({container.image}) answers, but its role "
                                              f"{container.env.get('POSTGRES_USER')} could not take this "
                                              f"container's password through psql on its socket: {said}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL ({container.image}) did not accept connections within "
                                   f"{self._startup_timeout:.0f} s")
            time.sleep(self._poll_interval)  # polling interval, not a fixed wait
