"""The world's bookkeeping that needs no server."""

from mm_conformance.admin import AccessToken
from mm_conformance.world import ScenarioWorld, made_up_token, TOKEN_ALPHABET


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
