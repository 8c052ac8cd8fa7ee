"""Steps of the upgrade scenario: a server of one release line, upgraded in place to another."""

from pytest_bdd import given, parsers, then, when

from mm_conformance import verdicts
from mm_conformance.deployment import require_image
from mm_conformance.errors import NotApplicable
from mm_conformance.images import select_lines


@given(parsers.parse("a Mattermost of the {old} release line with a database of its own, "
                     "to be upgraded to the {new} release line"))
def server_to_upgrade(world, deployment_pool, old, new):
    selected = deployment_pool.selected_lines()
    old_line, new_line = select_lines(old)[0], select_lines(new)[0]
    if old_line not in selected or new_line not in selected:
        raise NotApplicable(f"the upgrade runs when --mattermost selects both {old_line.name} and {new_line.name}")
    if world.deployment.line != old_line.name:
        raise NotApplicable(f"the upgrade runs once, in the {old_line.name} pass")
    # Before starting a stack of its own: the server it would be upgraded to must exist.
    require_image(new_line.image, new_line.why_unavailable)
    world.upgrade = (deployment_pool.upgradable(old_line), new_line)
    world.move_to(world.upgrade[0].deployment)


@given(parsers.parse('"{name}" has an active, a disabled and a revoked personal access token'))
def tokens_in_every_state(world, name):
    for state in ("active", "disabled", "revoked"):
        token = world.remember(f"{name}:{state}", world.token_for(name, description=f"{state} before the upgrade"))
        if state == "disabled":
            world.admin.disable_token(token)
        elif state == "revoked":
            world.admin.revoke_token(token)


@then(parsers.parse('the credential accepts the active token of "{name}" and refuses the disabled and revoked ones'))
def token_states_before_upgrade(world, name):
    """The baseline: what the implementation makes of each token before the upgrade."""
    for state, accepted in (("active", True), ("disabled", False), ("revoked", False)):
        world.request(world.credential(world.tokens[f"{name}:{state}"].token), "users/me")
        if accepted:
            verdicts.expect_success(world.last, 200)
        else:
            verdicts.expect_refusal(world.last, "auth", 401)
    world.judged_before_upgrade = True


@when("the server is upgraded in place")
def upgrade_in_place(world):
    stack, new_line = world.upgrade
    world.move_to(stack.upgrade(new_line, new_line.image))


@then(parsers.parse('the {state} token of "{name}" is {verdict} by the credential'))
def token_state_after_upgrade(world, state, name, verdict):
    world.request(world.credential(world.tokens[f"{name}:{state}"].token), "users/me")
    try:
        if verdict == "accepted":
            verdicts.expect_success(world.last, 200)
        else:
            verdicts.expect_refusal(world.last, "auth", 401)
    except verdicts.ConformanceFailure as changed:
        if not world.judged_before_upgrade:
            raise
        # The same implementation judged this token right before the upgrade: what changed is the server.
        raise verdicts.ServerDeviation(f"after the upgrade to {world.deployment.version}: {changed}") from None


@then(parsers.parse('"{name}" may still generate personal access tokens'))
def role_survives(world, name):
    roles = set(world.admin.get_user(world.user(name).id)["roles"].split())
    verdicts.expect_server("system_user_access_token" in roles, f"the upgrade took the token role from {name}")


@then("personal access tokens are still enabled in the System Console")
def setting_survives(world):
    verdicts.expect_server(bool(world.admin.config()["ServiceSettings"]["EnableUserAccessTokens"]),
                           "the upgrade switched personal access tokens off")
