"""Users made once per server image, in its pre-migrated database, and handed out once each.

Creating a user costs Mattermost a bcrypt hash of its password (about 0.1 s of a core), and
a run of every scenario takes about 195 of them on each server (counted on 11.0.3: 160 premade
ones ran out and its workers made 33 more). A user nobody has used is as
isolated as one made a second ago, so the snapshot of a server image's database
(:mod:`~mm_conformance.infra.snapshots`) is made with :data:`PREMADE_USERS` users in it,
``premade-0000`` and on, whose passwords nobody kept, and a system admin whose password is
kept outside the image, in a file of this machine readable by its owner only
(:func:`admin_password`). Every deployment started from the snapshot signs in as that
admin instead of creating one, and hands each premade user to at most one scenario:

- a :class:`UsersLedger` records how many were handed out (in memory for a deployment one
  process uses; in a file beside the deployment's state, under a lock, for one that the
  workers of a run or the runs of a warm deployment share);
- once every premade user is spent, scenarios get users made for them as before
  (:class:`~mm_conformance.mattermost.background.UserPool`);
- a warm deployment is refilled between runs (:mod:`~mm_conformance.infra.refill`, in a
  process of its own that the run ending starts, which makes a user only while no run uses
  the deployment): the ledger counts a user as made only once it exists.

A scenario about a user's own session (Profile > Security) gives its premade user a
password first (``ApiClient.give_password``): the only logins a run makes besides the admin's.

Sized by the most an unlicensed Mattermost keeps active: from 10.x on it refuses a user past
250 active ones (``api.user.create_user.user_limits.exceeded``, ERROR_SAFETY_LIMITS_EXCEEDED;
met at the 251st here). 240 users and the admin leave room for what scenarios have in hand at
once (they put their users away as they end): more than a run of every scenario takes, so a
warm deployment's next run finds a whole pool again once the refill between them is done.
Made once per image, on two threads, while the snapshot is made. A snapshot made with fewer
(an earlier size) is made again.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

from mm_conformance.infra.images import CACHE_DIR
from mm_conformance.mattermost.admin import ApiClient, new_password
from mm_conformance.redact import register_secret

#: How many users a snapshot is made with (see the module docstring for the sizing).
PREMADE_USERS = 240
#: The system admin a snapshot is made with; its password is kept in :data:`ADMIN_SECRETS`.
SNAPSHOT_ADMIN = "sysadmin"
#: One file per snapshot, named by the snapshot's secret id (a label of the image), holding its admin's password.
ADMIN_SECRETS = CACHE_DIR / "snapshot-admins"


def premade_username(index: int) -> str:
    return f"premade-{index:04d}"


def new_admin_secret() -> tuple[str, str]:
    """A new snapshot admin's password, kept in a file of its own (mode 0600): (its id, the password)."""
    ADMIN_SECRETS.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret_id, password = uuid.uuid4().hex, new_password()
    descriptor = os.open(ADMIN_SECRETS / secret_id, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(password)
    return secret_id, password


def admin_password(secret_id: str) -> str | None:
    """The password of a snapshot's admin, or None when this machine does not keep it (the image came
    from elsewhere, or the cache was cleared: the snapshot is then made again)."""
    try:
        password = (ADMIN_SECRETS / secret_id).read_text()
    except (OSError, ValueError):
        return None
    register_secret(password)
    return password


def make_users(admin: ApiClient, first: int, count: int, *, threads: int = 2) -> None:
    """Create ``premade-{first}`` … ``premade-{first + count - 1}`` (passwords not kept), ``threads`` at
    a time: Mattermost hashes each password on a core of its own."""
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for done in [pool.submit(admin.create_user, premade_username(index)) for index in range(first, first + count)]:
            done.result()


class UsersLedger:
    """Which premade users of a deployment are handed out: each at most once.

    ``path`` None: one process uses the deployment, and the ledger lives in memory. Else it is
    a JSON file ``{"next": …, "made": …}`` that every process sharing the deployment reads and
    writes under an exclusive lock; it is created, with ``made`` users and none handed out,
    by the first process that opens it. Beside it, ``….handed`` lists each user handed out and
    the process that took it, one per line (what the suite's own tests check: none twice).
    """

    def __init__(self, made: int, path: Path | None = None) -> None:
        self._memory = {"next": 0, "made": made}
        self.path = path
        self._lock = threading.Lock()

    def take(self) -> str | None:
        """The username of a premade user nobody was handed, or None when every one is spent."""
        with self._state() as state:
            if state["next"] >= state["made"]:
                return None
            state["next"] += 1
            username = premade_username(state["next"] - 1)
            if self.path is not None:
                with self.path.with_suffix(".handed").open("a") as handed:
                    handed.write(f"{username} {os.getpid()}\n")
            return username

    def counts(self) -> tuple[int, int]:
        """(handed out, made)."""
        with self._state() as state:
            return state["next"], state["made"]

    def made_one_more(self) -> None:
        """A refill made the next premade user: it may be handed out from now on."""
        with self._state() as state:
            state["made"] += 1

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, int]]:
        """The ledger, read and written back under the lock (the file's, across processes)."""
        with self._lock:
            if self.path is None:
                yield self._memory
                return
            with os.fdopen(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), "r+") as file:
                fcntl.flock(file, fcntl.LOCK_EX)  # released as the file closes
                text = file.read()
                state = json.loads(text) if text else dict(self._memory)
                yield state
                file.seek(0)
                file.truncate()
                file.write(json.dumps(state))
