"""Steps about writes through the credential: posts made and deleted, checked through the admin."""

from pytest_bdd import given, parsers, then, when

from mm_conformance.scenario import base_urls, verdicts
from mm_conformance.scenario.tracks import each_implementation


@given(parsers.parse('a regular user "{name}" in the channel "{channel}" of a team of their own'))
def user_in_channel(world, name, channel):
    world.channel(channel, members=(name,))


@given(parsers.parse('a private channel "{channel}" in that team that "{name}" is not a member of'))
def private_channel_without(world, channel, name):
    world.channel(channel, private=True)


@given(parsers.parse('"{name}" has posted "{message}" into "{channel}"'))
def user_has_posted(world, name, message, channel):
    world.message = message
    world.post_id = world.session_of(name).create_post(world.channels[channel]["id"], message)["id"]


@when(parsers.re(r'the credential posts "(?P<message>(?:[^"\\]|\\.)*)" into "(?P<channel>[^"]+)"$'))
@each_implementation
def credential_posts(world, message, channel):
    world.post(world.credential(world.latest_token.token), channel, message.replace('\\"', '"'))


@when(parsers.re(r'the credential posts "(?P<message>[^"]*)" into "(?P<channel>[^"]+)" through the subpath '
                 r"server's Base URL (?P<form>.+)$"))
@each_implementation
def credential_posts_through_subpath(world, message, channel, form):
    base_url = base_urls.spell(world.subpath_site(), form)
    world.post(world.credential(world.latest_token.token, base_url=base_url), channel, message)


@when("the credential deletes that post")
@each_implementation
def credential_deletes(world):
    world.request(world.credential(world.latest_token.token), f"posts/{world.post_id}", "DELETE")


@then(parsers.parse('"{channel}" has that message, written by "{name}", exactly as sent'))
@each_implementation
def channel_has_message(world, channel, name):
    verdicts.expect_posted(world.posts_with_text(channel, world.message), author_id=world.user(name).id,
                           others=[post["message"] for post in world.admin.channel_posts(world.channels[channel]["id"])],
                           message=world.message)


@then(parsers.parse('"{channel}" has no post with that message'))
@each_implementation
def channel_has_no_message(world, channel):
    verdicts.expect_not_posted(world.posts_with_text(channel, world.message), channel)


@then("that post is gone")
@each_implementation
def post_gone(world):
    verdicts.expect_deleted(world.admin.post_exists(world.post_id))
