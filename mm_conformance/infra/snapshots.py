"""Pre-migrated databases: the database a server image migrated once, kept as an image.

A Mattermost server on an empty database runs every migration first (7–9 s on 2 cores,
a minute for old versions). So the first deployment of a server image on a PostgreSQL
image lets it migrate an empty database, stops both, and commits the database's
container as an image; every later deployment of that pair starts from it. One
snapshot per pair of image IDs, on any PostgreSQL image that keeps the contract of
:mod:`~mm_conformance.infra.database`:

``mm-conformance/postgres:15-premigrated-<server image id>-with-users``
    on the suite's own PostgreSQL image;
``mm-conformance/postgres-premigrated:<server image id>-on-<postgres image id>-with-users``
    on any other (``postgres:15``, an image named with ``--postgres-image``).

(``-with-users``: the snapshots made before they held users made ahead are named without it,
and stay usable by the versions of the suite that made them.)

Its labels say which server image migrated it and on which PostgreSQL image: a rebuilt
or re-pulled image (another ID) gets a snapshot of its own on first use. The snapshot
holds a system admin and users made ahead for scenarios (:mod:`~mm_conformance.infra.premade`):
the admin's password is kept outside the image, on this machine, under the id its label names.
A snapshot made before it held them, or whose admin's password this machine does not keep,
is not current: it is made again on first use.

A committed image holds the container's file system, never its volumes, and the
official image declares its data directory a ``VOLUME``. So the database that becomes a
snapshot keeps its cluster at :data:`SNAPSHOT_PGDATA` (``PGDATA``, part 2 of the
contract), outside any volume the image declares; the snapshot keeps that ``PGDATA``.
"""

from __future__ import annotations

import contextlib
import time

from docker.errors import DockerException
from requests.exceptions import RequestException

from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.containers import MattermostContainer, remove_network, suite_network
from mm_conformance.infra.database import PostgresContainer
from mm_conformance.infra.engine import engine
from mm_conformance.infra.images import POSTGRES_IMAGE, ImageBuilder, ImageBuildError, image_id, image_labels
from mm_conformance.infra.premade import (
    PREMADE_USERS,
    SNAPSHOT_ADMIN,
    admin_password,
    make_users,
    new_admin_secret,
)
from mm_conformance.mattermost.admin import ApiClient

#: On a pre-migrated database: the ID of the server image that migrated it.
SERVER_IMAGE_LABEL = "io.github.mm-conformance.server-image-id"
#: ... and of the PostgreSQL image it is a container of (its entrypoint comes with it).
POSTGRES_IMAGE_LABEL = "io.github.mm-conformance.postgres-image-id"
#: ... how many users were made ahead in it (premade-0000 and on), and the id of its admin's kept password.
PREMADE_LABEL = "io.github.mm-conformance.premade-users"
ADMIN_SECRET_LABEL = "io.github.mm-conformance.admin-secret-id"
#: Where a snapshot's cluster lives: outside the volumes of the official images (``/var/lib/postgresql/data``
#: up to PostgreSQL 17, ``/var/lib/postgresql`` from 18), and of any image that declares none there.
SNAPSHOT_PGDATA = "/var/lib/mm-conformance/pgdata"
#: Where the snapshots on PostgreSQL images other than the suite's own are kept.
SNAPSHOT_REPOSITORY = "mm-conformance/postgres-premigrated"


def _short(an_id: str) -> str:
    return an_id.removeprefix("sha256:")[:12]


def snapshot_name(server_image_id: str, postgres_image_id: str) -> str:
    """Where the database a server image migrated on a PostgreSQL image is kept (the module docstring)."""
    if postgres_image_id == image_id(POSTGRES_IMAGE):
        return f"{POSTGRES_IMAGE}-premigrated-{_short(server_image_id)}-with-users"
    return f"{SNAPSHOT_REPOSITORY}:{_short(server_image_id)}-on-{_short(postgres_image_id)}-with-users"


def snapshot_labels(server_image_id: str, postgres_image_id: str) -> dict[str, str]:
    """The labels of a current snapshot: the server image that migrated it, and the PostgreSQL image under it."""
    return {SERVER_IMAGE_LABEL: server_image_id, POSTGRES_IMAGE_LABEL: postgres_image_id}


def current_snapshot(server_image: str, postgres_image: str) -> str | None:
    """The snapshot of these two images when there is one made by them as they are now, else None
    (also when either image is not here)."""
    server_id, postgres_id = image_id(server_image), image_id(postgres_image)
    if server_id is None or postgres_id is None:
        return None
    snapshot = snapshot_name(server_id, postgres_id)
    labels = image_labels(snapshot) or {}
    wanted = snapshot_labels(server_id, postgres_id)
    premade = premade_in(snapshot)
    current = (all(labels.get(key) == value for key, value in wanted.items())
               and premade is not None and premade[2] >= PREMADE_USERS)  # fewer: an earlier size, made again
    return snapshot if current else None


def premade_in(database_image: str) -> tuple[str, str, int] | None:
    """The admin a snapshot was made with (username, password) and how many users it holds made ahead;
    None for any other database image, and for a snapshot whose admin's password this machine does not keep."""
    labels = image_labels(database_image) or {}
    if PREMADE_LABEL not in labels or ADMIN_SECRET_LABEL not in labels:
        return None
    password = admin_password(labels[ADMIN_SECRET_LABEL])
    return (SNAPSHOT_ADMIN, password, int(labels[PREMADE_LABEL])) if password is not None else None


def premigrated_database(server_image: str, postgres_image: str) -> str:
    """The pre-migrated database of ``server_image`` on ``postgres_image`` when there is one, else
    ``postgres_image`` itself (an empty database: the server migrates it)."""
    return current_snapshot(server_image, postgres_image) or postgres_image


def ensure_premigrated(server_image: str, postgres_image: str, builder: ImageBuilder | None = None) -> str:
    """The snapshot of these two images, made now when there is none (the module docstring).

    Concurrent runs and workers make it once: the second waits for the first.
    """
    builder = builder or ImageBuilder()
    server_id, postgres_id = image_id(server_image), image_id(postgres_image)
    if server_id is None or postgres_id is None:
        raise ImageBuildError(f"image {server_image if server_id is None else postgres_image} is not present")
    snapshot = snapshot_name(server_id, postgres_id)
    with builder.lock(f"premigrated-{_short(server_id)}-{_short(postgres_id)}"):
        if current_snapshot(server_image, postgres_image):
            return snapshot
        started = time.monotonic()
        with builder.status(f"migrating an empty database with {server_image} on {postgres_image} "
                            "(once per pair of images)"):
            try:
                migrate_and_snapshot(server_image, postgres_image, snapshot, snapshot_labels(server_id, postgres_id))
            except InfrastructureError:
                raise
            except Exception as error:  # Docker's, testcontainers' or a timeout: one line, with its cause
                raise ImageBuildError(f"snapshotting a database migrated by {server_image} on {postgres_image} "
                                      f"failed: {type(error).__name__}: {' '.join(str(error).split())}") from None
    builder.say(f"{snapshot}: migrated by {server_image} in {time.monotonic() - started:.0f} s")
    return snapshot


def migrate_and_snapshot(server_image: str, postgres_image: str, snapshot_image: str, labels: dict[str, str]) -> None:
    """Let ``server_image`` migrate an empty database on ``postgres_image``, then keep that database as
    ``snapshot_image``.

    The server is ready (``/system/ping`` OK) only after every migration ran; then its
    first user, the system admin, and :data:`PREMADE_USERS` users are made, and the snapshot
    is taken with the server stopped first.
    """
    _refuse_a_volume_over(postgres_image, SNAPSHOT_PGDATA)
    network = suite_network()
    database = PostgresContainer(postgres_image).with_network(network).with_env("PGDATA", SNAPSHOT_PGDATA)
    server = MattermostContainer(server_image).with_network(network)
    try:
        database.start()
        server.with_database(database.dsn_on_network()).start()
        secret_id, password = new_admin_secret()
        admin = ApiClient.bootstrap(server.base_url(), SNAPSHOT_ADMIN, password)
        try:
            make_users(admin, 0, PREMADE_USERS)
        finally:
            admin.close()
        server.stop()
        database.snapshot(snapshot_image, {**labels, PREMADE_LABEL: str(PREMADE_USERS),
                                           ADMIN_SECRET_LABEL: secret_id})
    finally:
        for container in (server, database):
            with contextlib.suppress(Exception):
                container.stop()
        remove_network(network)


def _refuse_a_volume_over(postgres_image: str, path: str) -> None:
    """ImageBuildError, in one line, when the image declares a volume at ``path`` or above it: the
    snapshot would commit an empty directory."""
    try:
        volumes = engine().images.get(postgres_image).attrs["Config"].get("Volumes") or {}
    except (DockerException, RequestException) as error:
        raise ImageBuildError(f"image {postgres_image} cannot be inspected: {error}") from None
    for volume in volumes:
        if path == volume.rstrip("/") or path.startswith(volume.rstrip("/") + "/"):
            raise ImageBuildError(f"{postgres_image} declares a volume at {volume}, where a pre-migrated "
                                  f"database keeps its data ({path}): no snapshot can be made of it")
