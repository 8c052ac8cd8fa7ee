@docs:using-api-access-token
Feature: Using an API access token
  n8n's documentation: "To configure this credential, you'll need a Mattermost
  account and a personal Access Token and your Mattermost Base URL."
  A personal access token stands for the user it belongs to: whatever the
  credential does with it, it does as that user, and a token Mattermost did
  not issue opens nothing.

  Background:
    Given personal access tokens are enabled in the System Console

  @docs:using-api-access-token:4
  Scenario: A personal access token authenticates as the user it was created for
    Given a regular user "alice"
    And an admin has created a personal access token for "alice"
    When the credential requests "users/me" with that token
    Then the request succeeds with status 200
    And the answer names "alice", not the admin who created the token

  @docs:using-api-access-token:5
  Scenario: A made-up token is refused
    When the credential requests "users/me" with a made-up token
    Then the request is refused as "auth" with status 401
