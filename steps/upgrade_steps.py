"""Steps of the upgrade scenario: the oldest selected server, upgraded in place to a newer one."""

from pytest_bdd import given, parsers, then, when

from mm_conformance.errors import NotApplicable
from mm_conformance.infra.images import require_image
from mm_conformance.scenario import verdicts
from mm_conformance.scenario.tracks import each_implementation


@given("the oldest selected Mattermost with a database of its own, to be upgraded to a newer one")
def server_to_upgrade(world, deployment_pool, mattermost_server, upgrade_target):
    if upgrade_target is None:
        raise NotApplicable("the upgrade needs two servers: select an older and a newer one with --mattermost")
    require_image(upgrade_target.image)  # before starting a stack of its own: the newer server must exist
    world.upgrade = (deployment_pool.upgradable(mattermost_server), upgrade_target)
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
@each_implementation
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
    stack, target = world.upgrade
    world.move_to(stack.upgrade(target))


@then(parsers.parse('the {state} token of "{name}" is {verdict} by the credential'))
@each_implementation
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
