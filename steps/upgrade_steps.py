"""Steps of the upgrade scenario: the oldest selected server, upgraded in place through each newer one."""

from pytest_bdd import given, parsers, then, when

from mm_conformance.errors import NotApplicable
from mm_conformance.infra.images import require_image
from mm_conformance.scenario import verdicts
from mm_conformance.scenario.tracks import each_implementation
from mm_conformance.scenario.upgrades import StepVerdict, UpgradePath

TOKEN_STATES = {"active": True, "disabled": False, "revoked": False}  # accepted by the credential?


@given("the oldest selected Mattermost with a database of its own, to be upgraded through each newer one")
def server_to_upgrade(world, deployment_pool, mattermost_server, upgrade_path):
    if not upgrade_path:
        raise NotApplicable("the upgrade needs two servers: select an older and a newer one with --mattermost")
    for target in upgrade_path:  # before starting a stack of its own: every newer server must exist
        require_image(target.image)
    world.upgrade = UpgradePath(deployment_pool.upgradable(mattermost_server), upgrade_path)
    world.move_to(world.upgrade.stack.deployment)


@given(parsers.parse('"{name}" has an active, a disabled and a revoked personal access token'))
def tokens_in_every_state(world, name):
    for state in TOKEN_STATES:
        token = world.remember(f"{name}:{state}", world.token_for(name, description=f"{state} before the upgrade"))
        if state == "disabled":
            world.admin.disable_token(token)
        elif state == "revoked":
            world.admin.revoke_token(token)


def _judge_token(observation, accepted):
    if accepted:
        verdicts.expect_success(observation, 200)
    else:
        verdicts.expect_refusal(observation, "auth", 401)


@then(parsers.parse('the credential accepts the active token of "{name}" and refuses the disabled and revoked ones'))
@each_implementation
def token_states_before_upgrade(world, name):
    """The baseline: what the implementation makes of each token before the upgrade."""
    for state, accepted in TOKEN_STATES.items():
        _judge_token(world.request(world.credential(world.tokens[f"{name}:{state}"].token), "users/me"), accepted)
    world.judged_before_upgrade = True


@when("the server is upgraded in place to each newer selected version in turn")
def upgrade_through_each(world):
    def upgrade_one(target):
        world.move_to(world.upgrade.stack.upgrade(target))
        return world.deployment

    def observe(step):
        """What the credential makes of every token, and the server of roles and the setting, on this step."""
        def each_token():
            for key, token in world.tokens.items():
                step.seen[(world.implementation.name, key)] = world.request(world.credential(token.token), "users/me")

        for track in world.tracks:  # every report gets a verdict per step, also one that ended before it
            track.upgrade_steps.append(StepVerdict(step.before, step.after, step.step_s))
        world.for_each_implementation(each_token)
        step.roles = {name: set(world.admin.get_user(user.id)["roles"].split()) for name, user in world.users.items()}
        step.tokens_enabled = bool(world.admin.config()["ServiceSettings"]["EnableUserAccessTokens"])

    world.upgrade.take(upgrade_one, observe)


@then(parsers.parse('after every step the {state} token of "{name}" is {verdict} by the credential'))
@each_implementation
def token_state_after_each_step(world, state, name, verdict):
    key = (world.implementation.name, f"{name}:{state}")
    world.upgrade.judge(lambda step: _judge_token(step.seen[key], verdict == "accepted"),
                        judged_before=world.judged_before_upgrade, counted_in=[world.upgrade_steps],
                        deviation=verdicts.ServerDeviation, failure=verdicts.ConformanceFailure)


def _server_keeps(world, holds, what):
    """A check of the server itself after every step: it counts in the step verdicts of every implementation
    still in the scenario (one that failed before has its steps not judged)."""
    def judge_one(step):
        verdicts.expect_server(holds(step), f"the upgrade to {step.after} {what}")

    still_judged = [track.upgrade_steps for track in world.tracks if track.ended is None]
    world.upgrade.judge(judge_one, judged_before=True, counted_in=still_judged,
                        deviation=verdicts.ServerDeviation, failure=verdicts.ServerDeviation)


@then(parsers.parse('after every step "{name}" may still generate personal access tokens'))
def role_survives(world, name):
    _server_keeps(world, lambda step: "system_user_access_token" in step.roles[name], f"took the token role from {name}")


@then("after every step personal access tokens are still enabled in the System Console")
def setting_survives(world):
    _server_keeps(world, lambda step: bool(step.tokens_enabled), "switched personal access tokens off")
