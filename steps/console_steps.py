"""The admin's steps of "Enable personal access tokens", worded like the documentation.

Each documented step is one step definition calling one SystemConsole method.
"""

from pytest_bdd import parsers, then, when

from mm_conformance.scenario import verdicts


@when("I log in to Mattermost as an admin")
def log_in_as_admin(world):
    world.console()


@when("I go to System Console > Integrations > Integration Management")
def go_to_integration_management(world):
    verdicts.expect_server("EnableUserAccessTokens" in world.console().integration_management(),
                           "Integration Management has no 'Enable personal access tokens' setting")


@when(parsers.parse("I set Enable personal access tokens to {value}"))
def set_enable_personal_access_tokens(world, value):
    world.console().set_enable_personal_access_tokens(value == "true")


@when("I confirm that Enable personal access tokens is set to true, changing it if it is not")
def confirm_enable_personal_access_tokens(world):
    if not world.console().enable_personal_access_tokens():
        world.console().set_enable_personal_access_tokens(True)
    verdicts.expect_server(world.console().enable_personal_access_tokens(),
                           "'Enable personal access tokens' did not stay true after saving it")


@when("I go to System Console > User Management > Users")
def go_to_users(world):
    verdicts.expect_server(bool(world.console().users()), "System Console > Users lists no account")


@when(parsers.parse('I search for the user account "{name}"'))
def search_user(world, name):
    world.selected_user = world.console().search_user(world.user(name).username)


@when("I select the Actions dropdown for the user and select Manage roles")
def manage_roles(world):
    world.selected_roles = world.console().manage_roles(world.selected_user)


@when(parsers.re(r"I (?P<action>check|uncheck) the box for Allow this account to generate personal access tokens and Save"))
def allow_personal_access_tokens(world, action):
    world.console().allow_personal_access_tokens(world.selected_user, action == "check")


@then(parsers.parse('creating a personal access token for "{name}" fails with status {status:d} and error "{error_id}"'))
def admin_token_creation_fails(world, name, status, error_id):
    world.admin_creates_token(name)
    verdicts.expect_server_refusal(world.refusal, status, error_id)


@then(parsers.parse('"{name}" cannot create a personal access token: status {status:d}, error "{error_id}"'))
def user_cannot_create_token(world, name, status, error_id):
    world.create_own_token(name)
    verdicts.expect_server_refusal(world.refusal, status, error_id)


@then(parsers.parse('"{name}" can create a personal access token'))
def user_can_create_token(world, name):
    verdicts.expect_server(world.create_own_token(name) is not None,
                           f"{name} still cannot create a token: {world.refusal}")
