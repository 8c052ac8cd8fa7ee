"""The world's bookkeeping that needs no server."""

from types import SimpleNamespace

import pytest

from mm_conformance.mattermost.admin import AccessToken, MattermostApiError, User
from mm_conformance.errors import InfrastructureError, NotApplicable
from mm_conformance.mattermost.background import CleanUp
from mm_conformance.mattermost.settings import ServerSettings
from mm_conformance.scenario.objects import TOKEN_ALPHABET, made_up_token
from mm_conformance.scenario.world import ScenarioWorld


def token(n: int) -> AccessToken:
    return AccessToken(f"id{n}", f"secret-token-{n:02d}", "user", "n8n integration")


def test_latest_token_is_the_last_one_made_even_under_a_reused_name():
    world = ScenarioWorld(None, None, None)  # type: ignore[arg-type]
    world.remember("alice", token(1))
    world.remember("bob", token(2))
    world.remember("alice", token(3))
    assert world.latest_token == token(3)
    assert world.tokens["alice"] == token(3)


def test_made_up_tokens_look_like_mattermost_tokens():
    made = made_up_token()
    assert len(made) == 26 and set(made) <= set(TOKEN_ALPHABET)


class RecordingAdmin:
    """Stands in for the suite's own admin client (not for Mattermost): records what the world asks."""

    def __init__(self, *, signed_in_with_token: bool = False, failing: tuple[str, ...] = ()) -> None:
        self.signed_in_with_token = signed_in_with_token
        self.user = User("admin-id", "sysadmin", "", "system_admin")
        self.calls: list[str] = []
        self._failing = failing
        self._config = {"ServiceSettings": {"EnableUserAccessTokens": True}}

    def _record(self, call: str) -> None:
        self.calls.append(call)
        if call in self._failing:
            raise MattermostApiError("POST", "/x", 500, "app.error", f"{call} failed")

    def config(self):
        return self._config

    def patch_config(self, patch):
        self._record(f"patch {patch}")

    def revoke_token(self, token):
        self._record(f"revoke {token.id}")

    def deactivate_user(self, user):
        self._record(f"deactivate {user.username}")

    def create_user(self, username):
        self._record(f"create {username}")
        return User(f"{username}-id", username, "pw", "system_user")

    def close(self):
        pass


def world_on(admin: RecordingAdmin) -> ScenarioWorld:
    deployment = SimpleNamespace(admin=admin, external=True, user_pool=None, clean_up=None)
    return ScenarioWorld(deployment, None, ServerSettings(admin))  # type: ignore[arg-type]


def test_a_token_signed_admin_never_switches_tokens_off():
    admin = RecordingAdmin(signed_in_with_token=True)
    with pytest.raises(NotApplicable, match="lock out the suite's admin"):
        ServerSettings(admin).change({"ServiceSettings": {"EnableUserAccessTokens": False}})  # type: ignore[arg-type]
    assert admin.calls == []


def test_clean_up_revokes_every_token_admin_first_and_goes_on_past_failures():
    admin = RecordingAdmin(failing=("revoke id1",))
    world = world_on(admin)
    world.users["alice"] = User("alice-id", "alice-1", "pw", "system_user")
    world.remember("alice", token(1))
    world.remember("alice", token(2))  # replaces token 1 under the same name: still revoked
    world.remember("admin", AccessToken("id9", "secret-token-09", "admin-id", "mm-conformance admin"))
    with pytest.raises(InfrastructureError, match="revoking token id1: .*revoke id1 failed"):
        world.close()
    assert admin.calls == ["revoke id9", "revoke id1", "revoke id2", "deactivate alice-1"]


def test_clean_up_behind_the_scenario_does_the_same_and_names_the_scenario_when_the_run_ends():
    admin = RecordingAdmin(failing=("deactivate alice-1",))
    world = world_on(admin)
    world.name = "test_alice_posts[mm11.0.3]"
    world.deployment.clean_up = CleanUp(admin)  # type: ignore[arg-type]
    world.users["alice"] = User("alice-id", "alice-1", "pw", "system_user")
    world.remember("alice", token(1))
    world.settings.change({"ServiceSettings": {"EnableUserAccessTokens": False}})
    world.close()  # settings at once; the rest behind, without raising
    assert admin.calls[:2] == ["patch {'ServiceSettings': {'EnableUserAccessTokens': False}}",
                               "patch {'ServiceSettings': {'EnableUserAccessTokens': True}}"]
    problems = world.deployment.clean_up.close()
    assert admin.calls[2:] == ["revoke id1", "deactivate alice-1"]
    assert problems == ["cleaning up after test_alice_posts[mm11.0.3] failed: deactivating alice-1: "
                        "POST /x -> 500 app.error: deactivate alice-1 failed"]


def test_the_world_s_repr_shows_no_token_and_no_password():
    """A traceback (in the console, in JUnit) shows the world: its secrets must not be in it."""
    world = ScenarioWorld(None, None, None)  # type: ignore[arg-type]
    world.users["alice"] = User("alice-id", "alice-1", "pw-of-alice-1234", "system_user")
    world.remember("alice", token(1))
    world._unhonoured["revoked"] = "revokedtokenstillasecret01"
    shown = repr(world)
    assert "alice-1" in shown and "id1" in shown  # the world is still described
    for secret in ("pw-of-alice-1234", "secret-token-01", "revokedtokenstillasecret01"):
        assert secret not in shown


def test_a_scenario_that_uses_an_extra_it_did_not_declare_fails_naming_the_tag():
    """Which containers start ahead is declared by @needs tags; the world holds a scenario to its tags."""
    world = ScenarioWorld(None, None, None, declared_extras=frozenset({"tls-proxy"}))  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="tag it @needs:redirects"):
        world.endpoints("redirects")
