Feature: Upgrading Mattermost in place
  The suite's second use: when Mattermost is upgraded, does anything a
  credential relies on change? The oldest of the servers a run selects gets
  users, tokens in every state, a role grant and the token setting; then the
  same database is served by a newer one, as an admin upgrades in place. With
  more than two servers, the oldest is upgraded to each newer one in turn, each
  time from a fresh database.

  @beyond-docs @upgrade
  Scenario: Tokens, roles and the token setting survive an in-place upgrade
    Across an in-place upgrade every personal access token MUST keep its state:
    an active token MUST still authenticate, a disabled or revoked one MUST
    still be refused, and role grants and the setting MUST stay as they were.
    Why: upgrades are when credentials silently break, and users upgrade in place.
    The credential judges each token before the upgrade too; a difference after it
    is reported as "server behaviour changed", not as a failure of the
    implementation: it is the regression signal of the upgrade.
    Given the oldest selected Mattermost with a database of its own, to be upgraded to a newer one
    And personal access tokens are enabled in the System Console
    And a regular user "uma" who may generate personal access tokens
    And "uma" has an active, a disabled and a revoked personal access token
    Then the credential accepts the active token of "uma" and refuses the disabled and revoked ones
    When the server is upgraded in place
    Then the active token of "uma" is accepted by the credential
    And the disabled token of "uma" is refused by the credential
    And the revoked token of "uma" is refused by the credential
    And "uma" may still generate personal access tokens
    And personal access tokens are still enabled in the System Console
