"""Users made ahead and clean-up done behind: each user handed out once, nothing unused left active."""

import secrets
import threading
import time

import pytest

from mm_conformance.mattermost.background import CleanUp, UserPool
from mm_conformance.infra.deployment import MattermostDeployment
from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.images import POSTGRES_IMAGE, image_labels, local_mattermost_images
from mm_conformance.mattermost.servers import MattermostServer, version_key
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
    # Enough for the thread to refill both places and for take() to make one of its own, whichever comes
    # first: with two, the thread could use both while take() found the pool empty, and wait for ever.
    admin.made.release(3)
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


# -- on a real Mattermost (skipped where none is packaged) -----------------------------


@pytest.fixture(scope="module")
def real_deployment(docker_engine):
    images = local_mattermost_images()
    if not images or image_labels(POSTGRES_IMAGE) is None:
        pytest.skip("infrastructure: no Mattermost image is packaged here (mm-conformance images build --from PATH)")
    version = max(images, key=version_key)
    stack = MattermostDeployment(MattermostServer(images[version], version))
    try:
        deployment = stack.start()
    except InfrastructureError as error:
        pytest.skip(f"infrastructure: {error}")
    deployment.admin.patch_config({"ServiceSettings": {"EnableUserAccessTokens": True}})
    yield deployment
    stack.stop()


def test_on_a_real_server_pooled_users_are_fresh_and_the_unused_ones_end_inactive(real_deployment):
    admin = real_deployment.admin
    pool = UserPool(admin.another_session(), ahead=3)
    taken = [pool.take(), pool.take()]
    assert len({user.id for user in taken}) == 2
    assert all(admin.get_user(user.id)["delete_at"] == 0 for user in taken)
    pool.close(deactivate_unused=True)
    pooled = [u for u in admin.search_users("user-") if u["username"].startswith("user-")]
    unused = [u for u in pooled if u["id"] not in {user.id for user in taken}]
    assert all(u["delete_at"] for u in unused)  # made ahead, never handed out: not left active


def test_on_a_real_server_clean_up_behind_revokes_and_deactivates_and_reports_failures(real_deployment):
    admin = real_deployment.admin
    alice = admin.create_user(f"alice-{secrets.token_hex(3)}")
    token = admin.create_token(alice, "clean-up test")
    clean_up = CleanUp(admin.another_session())
    clean_up.after("test_alice", [("revoking", lambda: clean_up.admin.revoke_token(token)),
                                  ("deactivating", lambda: clean_up.admin.deactivate_user(alice)),
                                  ("revoking again", lambda: clean_up.admin.revoke_token(token))])
    problems = clean_up.close()
    assert admin.list_tokens(alice) == []
    assert admin.get_user(alice.id)["delete_at"]
    assert len(problems) == 1 and problems[0].startswith("cleaning up after test_alice failed: revoking again:")


def test_on_a_real_server_the_only_writer_reads_its_config_once_and_sees_its_own_changes(real_deployment):
    admin = real_deployment.admin.another_session()
    calls = []
    real_call = admin._call
    admin._call = lambda method, path, **kw: calls.append((method, path)) or real_call(method, path, **kw)
    admin.only_writer_of_config()
    first = admin.config()
    admin.config()["ServiceSettings"]["EnableUserAccessTokens"] = "changed by a caller"  # a copy each time
    assert admin.config() == first
    admin.patch_config({"ServiceSettings": {"EnableDeveloper": not first["ServiceSettings"]["EnableDeveloper"]}})
    assert admin.config()["ServiceSettings"]["EnableDeveloper"] is not first["ServiceSettings"]["EnableDeveloper"]
    assert calls == [("GET", "/config"), ("PUT", "/config/patch")]
    admin.patch_config({"ServiceSettings": {"EnableDeveloper": first["ServiceSettings"]["EnableDeveloper"]}})
