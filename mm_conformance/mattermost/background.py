"""Work for the scenarios done beside them: users made ahead, clean-up done behind.

Creating a user costs Mattermost a bcrypt hash of its password (0.1–0.2 s on two
cores), and almost every scenario needs one or two; removing what a scenario made
(its tokens, users, team) is another few admin calls. Neither has to hold the next
scenario up. Each runs in a thread of its own, on an admin connection of its own:

- :class:`UserPool` makes a few users ahead and hands each out once, so scenarios
  stay isolated by their own users;
- :class:`CleanUp` removes what a scenario made after the scenario has ended, in
  order, and keeps every failure to report when the run ends.

Server-wide settings are not background work: a scenario puts them back itself,
before the next one starts.

For example, with an admin client of a real server (so not a doctest)::

    pool = UserPool(admin.another_session())   # starts filling at once
    alice = pool.take()                         # a fresh user, never handed out before
    pool.close(deactivate_unused=True)          # stops; deactivates the users nobody took
"""

from __future__ import annotations

import queue
import secrets
import threading
from collections.abc import Callable

from mm_conformance.errors import InfrastructureError
from mm_conformance.mattermost.admin import ApiClient, MattermostApiError, User


class UserPool:
    """Fresh users on one server: made ahead (``premade`` names the next one nobody was handed, None once
    every one is spent), else made ``ahead`` at a time by a background thread.

    The thread starts only once no user made ahead is left: while there are, no password
    is hashed. When the pool is empty (or its thread stopped on an error), :meth:`take`
    creates the user itself, in the caller's thread: an error is then the caller's, as it
    would be without a pool.
    """

    def __init__(self, admin: ApiClient, *, ahead: int = 4, premade: Callable[[], str | None] | None = None) -> None:
        self._admin = admin
        self._premade = premade
        self._ready: queue.SimpleQueue[User] = queue.SimpleQueue()
        self._room = threading.Semaphore(ahead)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._fill, name="mm-conformance user pool", daemon=True)
        self._starting = threading.Lock()
        self._started = premade is None
        if self._started:
            self._thread.start()

    def take(self) -> User:
        """A user nobody has had: made ahead, from the pool, or made now if none is ready."""
        if self._premade is not None:
            username = self._premade()
            if username is not None:
                return self._admin.user_named(username)
            self._premade = None  # every one is spent: from now on the thread makes them ahead
            with self._starting:
                if not self._started and not self._closing.is_set():
                    self._thread.start()
                    self._started = True
        try:
            user = self._ready.get_nowait()
        except queue.Empty:
            return self._admin.create_user(self._username())
        self._room.release()
        return user

    def close(self, *, deactivate_unused: bool) -> None:
        """Stop making users; deactivate those nobody took when the server goes on running (warm).

        Waits a few seconds at most for a user being made: on a server that stopped
        answering, the thread (a daemon) is left to its request's own timeout.
        """
        self._closing.set()
        self._room.release()  # wake the thread if it waits for room
        with self._starting:
            if self._started:
                self._thread.join(timeout=5)
        while deactivate_unused:
            try:
                user = self._ready.get_nowait()
            except queue.Empty:
                break
            try:
                self._admin.deactivate_user(user)
            except (MattermostApiError, InfrastructureError):
                pass  # the server is going away or gone: nothing is left to protect
        self._admin.close()

    def _fill(self) -> None:
        while True:
            self._room.acquire()
            if self._closing.is_set():
                return
            try:
                self._ready.put(self._admin.create_user(self._username()))
            except (MattermostApiError, InfrastructureError):
                return  # take() makes its own from now on, and meets the error itself

    @staticmethod
    def _username() -> str:
        return f"user-{secrets.token_hex(5)}"


#: One step of a scenario's clean-up: what it does, in words, and the call.
Step = tuple[str, Callable[[], None]]


class CleanUp:
    """Removes what scenarios made, in a background thread, in the order they ended.

    :meth:`close` waits for everything queued and returns what failed, each named
    with its scenario: a failed clean-up is reported, never lost.
    """

    def __init__(self, admin: ApiClient) -> None:
        #: The connection the steps use (an admin session of its own, not shared with the scenarios').
        self.admin = admin
        self._queue: queue.SimpleQueue[tuple[str, list[Step]] | None] = queue.SimpleQueue()
        self.problems: list[str] = []
        self._thread = threading.Thread(target=self._work, name="mm-conformance clean-up", daemon=True)
        self._thread.start()

    def after(self, scenario: str, steps: list[Step]) -> None:
        """Run ``steps`` (each on its own: one failure does not stop the others) once the thread gets to them."""
        self._queue.put((scenario, steps))

    def close(self, *, wait: bool = True) -> list[str]:
        """Finish what is queued (``wait``; else leave it: the server is gone) and say what failed."""
        self._queue.put(None)
        if wait:
            self._thread.join()
        self.admin.close()
        return list(self.problems)

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            scenario, steps = job
            failed = run_steps(steps)
            if failed:
                self.problems.append(f"cleaning up after {scenario} failed: {'; '.join(failed)}")


def run_steps(steps: list[Step]) -> list[str]:
    """Run every step, also after one failed; what failed, in words."""
    failed = []
    for what, step in steps:
        try:
            step()
        except (MattermostApiError, InfrastructureError) as error:
            failed.append(f"{what}: {error}")
    return failed
