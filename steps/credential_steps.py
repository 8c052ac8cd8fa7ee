"""Steps about the credential itself: a token, a base URL, what the server answers.

Each step reads its values, calls the world or a verdict check, and nothing more.
"""

import secrets
import string

from pytest_bdd import given, parsers, then, when

from mm_conformance import verdicts


def _made_up_token() -> str:
    # Shaped like a real Mattermost token (26 lower-case letters and digits), issued by no one.
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(26))


@given("personal access tokens are enabled in the System Console")
def personal_access_tokens_enabled(world):
    world.settings.change({"ServiceSettings": {"EnableUserAccessTokens": True}})


@given(parsers.parse('a regular user "{name}"'))
def regular_user(world, name):
    world.user(name)


@given(parsers.parse('an admin has created a personal access token for "{name}"'))
def admin_created_token(world, name):
    world.token_for(name)


@when(parsers.parse('the credential requests "{endpoint}" with that token'))
def request_with_that_token(world, endpoint):
    world.request(world.credential(world.latest_token.token), endpoint)


@when(parsers.parse('the credential requests "{endpoint}" with a made-up token'))
def request_with_made_up_token(world, endpoint):
    world.request(world.credential(_made_up_token()), endpoint)


@then(parsers.parse("the request succeeds with status {status:d}"))
def request_succeeds(world, status):
    verdicts.expect_success(world.last, status)


@then(parsers.parse('the request is refused as "{kind}" with status {status:d}'))
def request_refused(world, kind, status):
    verdicts.expect_refusal(world.last, kind, status)


@then(parsers.parse('the answer names "{name}", not the admin who created the token'))
def answer_names_owner(world, name):
    verdicts.expect_acting_user(world.last, world.users[name].id, not_user_id=world.admin.user.id)
