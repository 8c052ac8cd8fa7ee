"""A deployment kept running for other runs to use, and the lock its users share.

A warm deployment (``mm-conformance up``), or one a run's CLI starts for its workers,
is recorded as a :class:`WarmState` in a file others read to sign in; every scenario
on such a server holds its :class:`ServerWideLock`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.containers import labels_of
from mm_conformance.infra.docker_host import docker_host
from mm_conformance.infra.images import CACHE_DIR, POSTGRES_IMAGE, image_id
from mm_conformance.infra.premade import UsersLedger
from mm_conformance.mattermost.admin import ApiClient, MattermostApiError
from mm_conformance.redact import register_secret

if TYPE_CHECKING:  # deployment.py uses this module: a run-time import would be circular
    from mm_conformance.infra.deployment import MattermostDeployment

#: Where ``mm-conformance up`` records each warm deployment (readable by its owner only: it holds the
#: admin's password and the database's, so a later run can sign in).
WARM_DIR = CACHE_DIR / "warm"


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
    #: The PostgreSQL image it runs on (a run attaches only on the same; recorded before there was a
    #: choice: the suite's own).
    postgres_image: str = POSTGRES_IMAGE
    #: How many users its database held made ahead when it started (see infra.premade); which of them
    #: are handed out is in :attr:`users_ledger`.
    premade_users: int = 0
    #: The run and the process its containers belong to (their labels): so do the extras any process
    #: starts for it (see infra.shared_extras), and whoever removes it removes them.
    run_id: str = ""
    owner: str = ""

    @classmethod
    def record(cls, stack: MattermostDeployment, directory: Path = WARM_DIR) -> WarmState:
        """Record ``stack``'s started deployment in ``directory`` for others to attach to."""
        deployment = stack.deployment
        assert deployment is not None and deployment.container is not None, "the deployment has not started"
        state = cls(stack.image, image_id(stack.image) or "", deployment.base_url, deployment.admin.user.username,
                    deployment.admin.user.password, stack.dsn, stack.network_name,
                    stack.container_roles(), str(directory), stack.postgres_image or POSTGRES_IMAGE,
                    deployment.premade_users, *labels_of(deployment.container))
        state.forget_users_ledger()  # a deployment just started: none handed out
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
    def of(cls, image: str, *, postgres_image: str | None = None) -> WarmState | None:
        """The warm deployment of ``image`` if one is up and answering (on ``postgres_image``, when
        given), else None (a dead one is forgotten)."""
        server_id = image_id(image)
        path = cls.path(server_id) if server_id else None
        if path is None or not path.is_file():
            return None
        state = cls.read(path)
        if postgres_image is not None and state.postgres_image != postgres_image:
            return None
        if not docker_host().reaches(state.base_url):
            return None  # up on another Docker host (another DOCKER_HOST): not this run's to use, nor to forget
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

    @property
    def users_ledger_path(self) -> Path:
        return self.path(self.image_id, Path(self.directory)).with_suffix(".users")

    @property
    def extras_dir(self) -> Path:
        """Where the extras every process shares are recorded, and their certificates (infra.shared_extras)."""
        return self.path(self.image_id, Path(self.directory)).with_suffix(".extras")

    def forget_users_ledger(self) -> None:
        """Remove the ledger and its list of users handed out (the deployment is new, or gone)."""
        for path in (self.users_ledger_path,
                     *(self.users_ledger_path.with_suffix(s) for s in (".handed", ".refill", ".runs"))):
            path.unlink(missing_ok=True)

    def used_by_a_run(self) -> IO[str]:
        """Held (shared: by any number of runs and workers at once) while a run uses the deployment;
        released when the returned file is closed, or by the kernel if the process dies. A refill of
        its users waits until nobody holds it (:meth:`between_runs`)."""
        runs = self.users_ledger_path.with_suffix(".runs").open("a")
        fcntl.flock(runs, fcntl.LOCK_SH)
        return runs

    @contextlib.contextmanager
    def between_runs(self) -> Iterator[None]:
        """While no run uses the deployment: waits until none does, and holds a run that starts meanwhile
        back until the block ends (a refill makes one user at a time in it: a fraction of a second)."""
        with self.users_ledger_path.with_suffix(".runs").open("a") as runs:
            fcntl.flock(runs, fcntl.LOCK_EX)
            yield

    @property
    def users_ledger(self) -> UsersLedger:
        """Which premade users are handed out, shared by every process and run that uses the deployment."""
        return UsersLedger(self.premade_users, self.users_ledger_path)


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
