"""Users made ahead and clean-up done behind: each user handed out once, nothing unused left active."""

import threading
import time

from mm_conformance.background import UserPool
from tests.test_world import RecordingAdmin


class SlowAdmin(RecordingAdmin):
    """Makes a user only when the test lets it (the pool's thread waits on ``made``)."""

    def __init__(self) -> None:
        super().__init__()
        self.made = threading.Semaphore(0)
        self._lock = threading.Lock()

    def create_user(self, username):
        self.made.acquire()
        with self._lock:
            return super().create_user(username)


def test_every_user_is_handed_out_once_and_an_empty_pool_makes_one_at_once():
    admin = SlowAdmin()
    pool = UserPool(admin, ahead=2)  # type: ignore[arg-type]
    admin.made.release(2)
    taken = []
    deadline = time.monotonic() + 5
    while pool._ready.qsize() < 2:  # the two made ahead
        assert time.monotonic() < deadline, "the pool made no user ahead"
        threading.Event().wait(0.01)
    taken += [pool.take(), pool.take()]
    admin.made.release(1)  # the thread may make one more; take() must not wait for it either way
    taken.append(pool.take())
    assert len({user.username for user in taken}) == 3
    admin.made.release(10)
    pool.close(deactivate_unused=True)
    made = [call.split()[1] for call in admin.calls if call.startswith("create")]
    deactivated = [call.split()[1] for call in admin.calls if call.startswith("deactivate")]
    assert set(deactivated) == set(made) - {user.username for user in taken}  # the unused, and only those


def test_a_pool_of_a_server_that_goes_away_deactivates_nothing():
    admin = RecordingAdmin()
    pool = UserPool(admin, ahead=1)  # type: ignore[arg-type]
    pool.close(deactivate_unused=False)
    assert not [call for call in admin.calls if call.startswith("deactivate")]
