@docs:using-api-access-token
Feature: Changes after the credential has worked
  A credential is used for months: meanwhile an admin revokes or disables its
  token, deactivates its owner, or switches personal access tokens off. Each
  scenario here uses the token successfully first, then changes the server:
  an implementation that remembers a successful answer, or a session, must
  still ask Mattermost and be refused. Mattermost's status and error id are
  pinned (the same on 5.37.0 and 11.0.3).

  Background:
    Given personal access tokens are enabled in the System Console
    And a regular user "otto"
    And an admin has created a personal access token for "otto"
    When the credential requests "users/me" with that token
    Then the request succeeds with status 200

  @docs:using-api-access-token:5
  Scenario: A token revoked after it has worked is refused on its next use
    A token that has just worked MUST be refused once it is revoked (401).
    When an admin revokes that token
    And the credential requests "users/me" with that token
    Then the request is refused as "auth" with status 401
    And Mattermost's answer carried the error "api.context.session_expired.app_error"

  @docs:using-api-access-token:5
  Scenario: A token disabled after it has worked is refused, and works again once re-enabled
    A token that has just worked MUST be refused once it is disabled (401), and
    MUST work again once it is re-enabled.
    When an admin disables that token
    And the credential requests "users/me" with that token
    Then the request is refused as "auth" with status 401
    And Mattermost's answer carried the error "api.context.session_expired.app_error"
    When an admin enables that token again
    And the credential requests "users/me" with that token
    Then the request succeeds with status 200

  @beyond-docs
  Scenario: The token of a user deactivated after it has worked is refused, and works again on reactivation
    A token that has just worked MUST be refused once its owner is deactivated
    (401), and MUST work again once the owner is reactivated.
    Why: admins deactivate people who leave; their running workflows must stop at once.
    When an admin deactivates "otto"
    And the credential requests "users/me" with that token
    Then the request is refused as "auth" with status 401
    And Mattermost's answer carried the error "api.context.session_expired.app_error"
    When an admin reactivates "otto"
    And the credential requests "users/me" with that token
    Then the request succeeds with status 200

  @docs:enable-personal-access-tokens:3
  Scenario: Switching personal access tokens off after a token has worked refuses it, and on again restores it
    A token that has just worked MUST be refused while "Enable personal access
    tokens" is false (401), and MUST work again once the admin sets it to true.
    When I log in to Mattermost as an admin
    And I go to System Console > Integrations > Integration Management
    And I set Enable personal access tokens to false
    And the credential requests "users/me" with that token
    Then the request is refused as "auth" with status 401
    And Mattermost's answer carried the error "api.context.session_expired.app_error"
    When I confirm that Enable personal access tokens is set to true, changing it if it is not
    And the credential requests "users/me" with that token
    Then the request succeeds with status 200
