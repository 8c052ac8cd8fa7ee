"""Steps about the credential: its token, its Base URL, what the implementation answers.

Each step reads its values, calls the world or a verdict check, and nothing more.
"""

import re
import time
import urllib.parse

import pytest
from pytest_bdd import given, parsers, then, when

from mm_conformance.errors import NotApplicable
from mm_conformance.infra import redirects
from mm_conformance.scenario import base_urls, verdicts
from mm_conformance.scenario.tracks import each_implementation
from mm_conformance.scenario.world import PATHS

#: The paths a credential is used along, as a step's words name them.
_PATH = rf"(?P<path>{'|'.join(map(re.escape, PATHS))})"

# -- the world before the credential is used -------------------------------------------------


@given("personal access tokens are enabled in the System Console")
def personal_access_tokens_enabled(world):
    world.settings.change({"ServiceSettings": {"EnableUserAccessTokens": True}})


@given(parsers.parse('a regular user "{name}"'))
def regular_user(world, name):
    world.user(name)


@given(parsers.parse('a regular user "{name}" who may generate personal access tokens'))
def user_who_may_generate_tokens(world, name):
    world.allow_personal_access_tokens(name)


@given(parsers.parse('an admin has created a personal access token for "{name}"'))
def admin_created_token(world, name):
    world.token_for(name)


@given(parsers.parse('a bot account "{name}" with a personal access token made by an admin'))
def bot_with_token(world, name):
    world.bot(name)
    world.token_for(name, "n8n integration (bot)")


@when(parsers.parse('an admin disables the bot account "{name}"'))
def admin_disables_bot(world, name):
    world.admin.disable_bot(world.bot(name))


@given(parsers.parse('an admin has created a personal access token for "{name}" that expires in {seconds:d} seconds'))
def admin_created_expiring_token(world, name, seconds):
    token = world.token_for(name, expires_at_ms=int((time.time() + seconds) * 1000))
    if not token.expires_at_ms:
        pytest.skip(f"Mattermost {world.deployment.version.version} has no personal access token expiry "
                    "(the created token carries no expires_at)")


@given(parsers.parse('"{name}" has created a personal access token for themselves'))
def user_created_own_token(world, name):
    verdicts.expect_server(world.create_own_token(name) is not None, f"{name} could not create a token: {world.refusal}")


@when(parsers.parse('"{name}" goes to Profile > Security > Personal Access Tokens and creates a token described as "{description}"'))
def user_creates_token_in_profile(world, name, description):
    verdicts.expect_server(world.create_own_token(name, description) is not None,
                           f"{name} could not create a token: {world.refusal}")


@then(parsers.parse('the token list of "{name}" shows a token described as "{description}"'))
def token_list_shows(world, name, description):
    listed = world.session_of(name).list_tokens(world.user(name))
    verdicts.expect_server(description in [t["description"] for t in listed],
                           f"the token list of {name} does not show {description!r}")
    verdicts.expect_server(all("token" not in t for t in listed), "the token list shows a token's secret again")


@when("an admin revokes that token")
def admin_revokes_token(world):
    world.admin.revoke_token(world.latest_token)


@when("an admin disables that token")
def admin_disables_token(world):
    world.admin.disable_token(world.latest_token)


@when("an admin enables that token again")
def admin_enables_token(world):
    world.admin.enable_token(world.latest_token)


@when(parsers.parse('an admin deactivates "{name}"'))
def admin_deactivates(world, name):
    world.admin.set_active(world.user(name), False)


@when(parsers.parse('an admin reactivates "{name}"'))
def admin_reactivates(world, name):
    world.admin.set_active(world.user(name), True)


@when("the token's expiry time has passed")
def token_expired(world):
    world.wait_until_expired(world.latest_token)


# -- the implementation under test -----------------------------------------------------------


@when("the credential is tested with that token")
@each_implementation
def credential_tested(world):
    world.check(world.credential(world.latest_token.token))


@when("the credential is tested with that token's ID in place of the token")
@each_implementation
def credential_tested_with_token_id(world):
    world.check(world.credential(world.latest_token.id))


@when(parsers.parse('the credential requests "{endpoint}" with that token'))
@each_implementation
def request_with_that_token(world, endpoint):
    world.request(world.credential(world.latest_token.token), endpoint)


@when(parsers.re(rf"the credential is used for {_PATH} with that token$"))
@each_implementation
def use_with_that_token(world, path):
    world.use(path, world.credential(world.latest_token.token))


@when(parsers.re(rf"the credential is used for {_PATH} with the Base URL (?P<form>.+)$"))
@each_implementation
def use_with_base_url(world, path, form):
    base_url = base_urls.spell(world.deployment.base_url, form)
    world.use(path, world.credential(world.latest_token.token, base_url=base_url))


@when(parsers.re(rf"the credential is used for {_PATH} with the subpath server's Base URL (?P<form>.+)$"))
@each_implementation
def use_with_subpath_base_url(world, path, form):
    base_url = base_urls.spell(world.subpath_site(), form)
    world.use(path, world.credential(world.latest_token.token, base_url=base_url))


@when(parsers.re(rf'the credential is used for {_PATH} with a token of "(?P<name>[^"]+)" never used before '
                 r"and the Base URL (?P<form>.+)$"))
@each_implementation
def use_with_own_token_and_base_url(world, path, name, form):
    world.use_with_own_token(path, name, base_urls.spell(world.deployment.base_url, form))


@given("Mattermost answers a path outside its API with its web app page")
def server_serves_web_app_off_the_api(world):
    world.require_web_app_outside_the_api()


@then(parsers.parse('the credential should refuse it as a configuration error or reach the API as "{name}", '
                    'or else the report warns'))
@each_implementation
def should_refuse_as_config_or_reach_the_api(world, name):
    concern = verdicts.concern_unless_config_or_success(world.last, acting_user_id=world.users[name].id,
                                                        reached_the_api=world.own_token_reached_the_api)
    if concern:
        world.warn(concern)


@then(parsers.parse("the request does not appear to work, because {why}"))
@each_implementation
def request_does_not_appear_to_work(world, why):
    verdicts.expect_no_success(world.last, why)


@when(parsers.parse('the credential requests "{endpoint}" with the admin\'s own token'))
@each_implementation
def request_with_admin_token(world, endpoint):
    world.request(world.credential(world.token_for_admin().token), endpoint)


@when(parsers.re(r'the credential requests "(?P<endpoint>[^"]+)" with (?P<kind>a made-up|an empty|a revoked|a disabled) token'))
@each_implementation
def request_with_refused_token(world, endpoint, kind):
    world.request(world.credential(world.unhonoured_token(kind.split()[-1])), endpoint)


# -- verdicts --------------------------------------------------------------------------------


@then(parsers.parse("the request succeeds with status {status:d}"))
@each_implementation
def request_succeeds(world, status):
    verdicts.expect_success(world.last, status)


@then(parsers.parse('the request is refused as "{kind}" with status {status:d}'))
@each_implementation
def request_refused_with_status(world, kind, status):
    verdicts.expect_refusal(world.last, kind, status)


@then(parsers.parse('the request is refused as "{kind}"'))
@each_implementation
def request_refused(world, kind):
    verdicts.expect_refusal(world.last, kind)


@then(parsers.parse('Mattermost\'s answer carried the error "{error_id}"'))
@each_implementation
def answer_carried_error(world, error_id):
    concern = verdicts.expect_server_error_id(world.last, error_id)
    if concern:
        world.warn(concern)


@then(parsers.parse('the answer names "{name}", not the admin who created the token'))
@each_implementation
def answer_names_owner(world, name):
    verdicts.expect_acting_user(world.last, world.users[name].id, not_user_id=world.admin.user.id)


@then(parsers.parse("the report lists step {step:d} as an erratum: {text}"))
@each_implementation
def report_lists_erratum(world, step, text):
    world.record_erratum(f"using-api-access-token:{step}", text)


# -- TLS ---------------------------------------------------------------------------------------


@when(parsers.re(rf'the credential is used for {_PATH} through the "(?P<case>[^"]+)" endpoint '
                 r'with Ignore SSL Issues (?P<switch>on|off)'))
@each_implementation
def use_through_tls_endpoint(world, path, case, switch):
    world.use_over_tls(case, world.latest_token.token, path=path, ignore_ssl_issues=switch == "on")


@then(parsers.parse('it succeeds as "{name}", not the admin who created the token'))
@each_implementation
def succeeds_as(world, name):
    verdicts.expect_success_as(world.last, world.users[name].id, not_user_id=world.admin.user.id)


@then(parsers.parse('the token did not get through the "{case}" endpoint'))
@each_implementation
def token_did_not_get_through(world, case):
    verdicts.expect_no_credential_through(case, arrived=world.credentials_passed)


@when(parsers.parse('the credential requests "{endpoint}" with that token over plain http'))
@each_implementation
def request_over_plain_http(world, endpoint):
    if not world.deployment.base_url.lower().startswith("http://"):
        raise NotApplicable("the server under test is reached over https only; this scenario needs a plain http Base URL")
    world.request(world.credential(world.latest_token.token), endpoint)


@then("the report warns that the token crossed the network in clear")
@each_implementation
def warn_token_in_clear(world):
    if world.last.credential.base_url.lower().startswith("http://") and world.last.outcome.ok:
        world.warn("the access token crossed the network unencrypted (plain http Base URL)")
    assert world.warnings, "a successful plain-http request must leave a warning in the report"


# -- redirects ---------------------------------------------------------------------------------


_REDIRECT = r"(?P<where>(?:with an? \d{3} )?to [a-z ]+)"


@when(parsers.re(rf"the credential is used for {_PATH} with that token from a Base URL that redirects {_REDIRECT}$"))
@each_implementation
def use_from_redirecting_base_url(world, path, where):
    world.use_through_redirect(path, redirects.listener_for(where), world.latest_token.token)


@then(parsers.re(rf"neither the token nor a write followed the redirect {_REDIRECT}$"))
@each_implementation
def nothing_followed_redirect(world, where):
    verdicts.expect_no_credential_at_redirect_target(redirects.listener_for(where), asked=world.redirects_answered,
                                                     arrived=world.credentials_passed, writes=world.writes_through)


# -- a query string -----------------------------------------------------------------------------


@given(parsers.re(r'regular users (?P<names>"[^"]+"(?:, "[^"]+")* and "[^"]+") in a team of their own'))
def users_in_a_team(world, names):
    world.team(tuple(re.findall(r'"([^"]+)"', names)))


@when(parsers.parse('the credential reads the users of their team with the query "{query}" through the "{case}" endpoint'))
@each_implementation
def read_team_users_with_query(world, query, case):
    world.query = {"in_team": world.team(()), **dict(urllib.parse.parse_qsl(query))}
    world.read_with_query_over_tls(case, world.latest_token.token, "users", world.query)


@then("Mattermost received that query exactly, once")
@each_implementation
def query_received(world):
    verdicts.expect_query_received(world.query, world.queries_through)


@then("the answer lists the users an admin sees with that query")
@each_implementation
def answer_lists_what_admin_sees(world):
    verdicts.expect_listed(world.last, [user["id"] for user in world.admin.list_users_where(world.query)])


# -- a server that never answers -----------------------------------------------------------------


@when(parsers.re(rf"the credential is used for {_PATH} with that token and a Base URL where nothing listens$"))
@each_implementation
def use_where_nothing_listens(world, path):
    world.use_where_nothing_listens(path, world.latest_token.token)


@when(parsers.re(rf"the credential is used for {_PATH} with that token and a server that (?P<silence>.+)$"))
@each_implementation(at_once=True)  # each waits on a silent server: all at once
def use_with_silent_server(world, path, silence):
    world.use_without_answer(path, silence, world.latest_token.token)


@then('the credential gave up with a "timeout" or "network" error')
@each_implementation
def gave_up(world):
    verdicts.expect_gave_up(world.last)
