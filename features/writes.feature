@docs:using-api-access-token @own-world
Feature: What the Mattermost node does with the credential
  n8n's documentation: "You can use these credentials to authenticate the
  following nodes: Mattermost." The Mattermost node mostly writes: Message >
  Post sends POST /api/v4/posts with a JSON body, Message > Delete sends
  DELETE /api/v4/posts/{id}. A credential that sends every call as a GET, or
  drops the body, breaks every workflow that posts a message. What a write
  did is checked on the server, through the admin, never through the
  implementation's own answer. The credential writes here, so each
  implementation gets a world of its own.

  Background:
    Given personal access tokens are enabled in the System Console
    And a regular user "wes" in the channel "town-square" of a team of their own
    And an admin has created a personal access token for "wes"

  @beyond-docs
  Scenario: A message posted through the credential is in the channel, exactly as written
    The credential MUST send a write with its method and JSON body: the post
    MUST be created (201) in the channel, authored by the token's owner, with
    exactly the text sent, non-ASCII and quotes included.
    Why: posting a message is what the Mattermost node is used for most.
    When the credential posts "Grüße aus n8n — 日本語 ✓ \"quoted\" <b>" into "town-square"
    Then the request succeeds with status 201
    And "town-square" has that message, written by "wes", exactly as sent

  @beyond-docs
  Scenario: A post deleted through the credential is gone
    The credential MUST send a DELETE as a DELETE: the request MUST succeed and
    the post MUST be gone from the channel afterwards.
    Why: Message > Delete removes posts; a credential that sends a GET "succeeds" and deletes nothing.
    Given "wes" has posted "to be deleted" into "town-square"
    When the credential deletes that post
    Then the request succeeds with status 200
    And that post is gone

  @beyond-docs
  Scenario: A write where the token's owner may not write is refused with Mattermost's answer
    Posting into a channel the token's owner is not a member of MUST be refused
    as "auth" with Mattermost's status and error id, and nothing is posted.
    Why: a token acts with its owner's permissions for writes as for reads.
    Given a private channel "board-room" in that team that "wes" is not a member of
    When the credential posts "should never arrive" into "board-room"
    Then the request is refused as "auth" with status 403
    And Mattermost's answer carried the error "api.context.permissions.app_error"
    And "board-room" has no post with that message

  @beyond-docs @needs:subpath
  Scenario: A write to the site root of a subpath deployment does not appear to work and posts nothing
    Mattermost answers a request outside its subpath with a redirect into it,
    and a client that follows a 302 turns the POST into a GET. The credential
    MUST NOT appear to work, and no post may be created.
    Why: a success that wrote nothing hides a wrong Base URL until someone misses the message.
    When the credential posts "lost on the way" into "town-square" through the subpath server's Base URL without its subpath
    Then the request does not appear to work, because the Base URL lacks the subpath Mattermost is served under
    And "town-square" has no post with that message
