Feature: Upgrading Mattermost in place
  The suite's second use: when Mattermost is upgraded, does anything a
  credential relies on change? The oldest of the servers a run selects gets
  users, tokens in every state, a role grant and the token setting; then the
  same database is served by each newer selected server in turn, oldest first,
  as admins upgrade from one Extended Support Release to the next
  (5.37.0, then 9.11.18, then 10.11.6, then 11.0.3). After every step the
  credential judges every token again, and the role and the setting are read
  again; the report gives each step its own verdict.

  @beyond-docs @upgrade
  Scenario: Tokens, roles and the token setting survive every step of an in-place upgrade
    At every step of an in-place upgrade every personal access token MUST keep
    its state: an active token MUST still authenticate, a disabled or revoked one
    MUST still be refused, and role grants and the setting MUST stay as they were.
    Why: upgrades are when credentials silently break, and admins upgrade in place,
    one supported version to the next. The credential judges each token before the
    upgrade too; a difference after a step is reported as "server behaviour changed"
    between the two versions, not as a failure of the implementation: it is the
    regression signal of the upgrade.
    Given the oldest selected Mattermost with a database of its own, to be upgraded through each newer one
    And personal access tokens are enabled in the System Console
    And a regular user "uma" who may generate personal access tokens
    And "uma" has an active, a disabled and a revoked personal access token
    Then the credential accepts the active token of "uma" and refuses the disabled and revoked ones
    When the server is upgraded in place to each newer selected version in turn
    Then after every step the active token of "uma" is accepted by the credential
    And after every step the disabled token of "uma" is refused by the credential
    And after every step the revoked token of "uma" is refused by the credential
    And after every step "uma" may still generate personal access tokens
    And after every step personal access tokens are still enabled in the System Console
