"""Deployments used by more than one run or worker: warm ones (``up``/``down``), and a run's shared ones.

A warm deployment goes on running after the run that started it; a run attaches to
it (:func:`attach`) and removes only the extras it started. The deployments a run's
CLI starts for its pytest-xdist workers (:class:`SharedDeployments`) are removed with
the run.
"""

from __future__ import annotations

import concurrent.futures
import fcntl
import os
import shutil
import threading
from pathlib import Path
from typing import IO

from mm_conformance.infra.containers import RUN_LABEL, labelled_as
from mm_conformance.infra.deployment import TOKENS_ON, MattermostDeployment
from mm_conformance.infra.docker_host import docker_host
from mm_conformance.infra.endpoints import EXTRA_NAMES, Endpoints
from mm_conformance.infra.images import image_id
from mm_conformance.infra.leftovers import WARM_RUN, named, remove, remove_left_behind, suite_things
from mm_conformance.infra.shared_extras import SharedExtras
from mm_conformance.infra.snapshots import current_snapshot
from mm_conformance.infra.support import POSTGRES, choose
from mm_conformance.infra.warm import WARM_DIR, WarmState
from mm_conformance.mattermost.servers import MattermostServer


def warm_up(server: MattermostServer) -> WarmState:
    """Start ``server``'s deployment and keep it running for later runs (``mm-conformance up``)."""
    known = WarmState.of(server.image)
    if known is not None:
        return known
    with labelled_as(WARM_RUN):
        stack = MattermostDeployment(server)
        deployment = stack.start()
    deployment.admin.patch_config(TOKENS_ON)
    state = WarmState.record(stack)
    # Every extra a run needs, kept beside it: its runs start no container (see infra.shared_extras).
    stack.shared_state = state
    Endpoints(stack).start_ahead(set(EXTRA_NAMES))
    return state


def attach(server: MattermostServer, state: WarmState, *, nginx_image: str | None = None) -> MattermostDeployment:
    """A run's view of a warm deployment: its server and database stay when the run ends, its extras go
    (from ``nginx_image``: None, the default of support.py)."""
    stack = MattermostDeployment(server, postgres_image=state.postgres_image, nginx_image=nginx_image)
    stack.attach_to(state)
    return stack


def warm_down() -> list[str]:
    """Remove every warm deployment (``mm-conformance down``); what was removed."""
    warm = suite_things(f"{RUN_LABEL}={WARM_RUN}")
    remove(warm)
    for path in WARM_DIR.glob("*.json") if WARM_DIR.is_dir() else []:
        state = WarmState.read(path)
        state.forget_users_ledger()  # its users ledger goes with it
        SharedExtras.remove(state)  # and its extras' records and certificates (the containers went above)
        path.unlink()
    return named(warm)


def clean() -> tuple[list[str], int]:
    """Remove every container, network and volume carrying the suite's label that a run left behind,
    and forget warm deployments that are gone.

    Returns what was removed, and how many things were kept because the run that made
    them is still in progress on this machine (removing them would break it). Nothing
    without the suite's label is touched.
    """
    removed, kept = remove_left_behind()
    for path in WARM_DIR.glob("*.json") if WARM_DIR.is_dir() else []:
        state = WarmState.read(path)
        if not docker_host().reaches(state.base_url):
            continue  # up on another Docker host (another DOCKER_HOST): not this engine's to forget
        if WarmState.of(state.image) is None:
            state.forget_users_ledger()
            SharedExtras.remove(state)
            path.unlink(missing_ok=True)  # its deployment is gone
    return removed, kept


#: Set by the CLI for its pytest-xdist workers: the directory of the deployments it starts for them to share.
SHARED_DIR_ENV = "MM_CONFORMANCE_SHARED_DEPLOYMENTS"


class SharedDeployments:
    """The deployments a run's CLI starts for its workers to share, removed with the run.

    They start in threads while the workers boot (seconds saved on each server), and one
    deployment serves every worker of a server: the one that runs its silent-server
    scenarios starts none of its own. A worker asks :meth:`state_for`, which waits until
    the start has ended; a start that failed leaves no state, and the worker then starts
    the server itself (and reports what fails, as any run would).

    ::

        with SharedDeployments(directory, servers):   # and os.environ[SHARED_DIR_ENV] = str(directory)
            pytest.main([...])                         # workers: SharedDeployments.state_for(image)

    Each on ``postgres_image`` (None: the default of support.py); a worker attaches to one only
    when it runs on the same (WarmState.postgres_image).
    """

    def __init__(self, directory: Path, servers: list[MattermostServer], *, postgres_image: str | None = None) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        postgres_image = choose(POSTGRES, postgres_image).image
        self._stacks: list[MattermostDeployment] = []
        self._threads: list[threading.Thread] = []
        started: set[str] = set()
        for server in servers:
            server_id = image_id(server.image)
            # By image ID: two names of one image share one state file and one lock; a second start
            # would wait for the first, then start a deployment no worker uses and overwrite its state.
            if not server_id or server_id in started:
                continue
            if current_snapshot(server.image, postgres_image) is None:
                # The first run of an image migrates a database (a minute): in a worker, where an
                # interrupt reaches it, not in a thread here. Each worker then starts its own.
                continue
            starting = self._starting_lock(directory, server_id).open("w")
            fcntl.flock(starting, fcntl.LOCK_EX)  # held until the start has ended: a worker asking waits
            started.add(server_id)
            stack = MattermostDeployment(server, postgres_image=postgres_image)
            self._stacks.append(stack)
            thread = threading.Thread(target=self._start, args=(stack, starting),
                                      name=f"shared deployment of {server}", daemon=True)
            self._threads.append(thread)
            thread.start()

    @staticmethod
    def _starting_lock(directory: Path, server_id: str) -> Path:
        return WarmState.path(server_id, directory).with_suffix(".starting")

    def _start(self, stack: MattermostDeployment, starting: IO[str]) -> None:
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
        for path in self.directory.glob("*.json"):
            SharedExtras.remove(WarmState.read(path))  # the extras the workers started for them
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
