@docs:enable-personal-access-tokens
Feature: Enable personal access tokens
  n8n's documentation: "Not seeing the Personal Access Tokens option has two
  possible causes: Mattermost doesn't have the personal access tokens
  integration enabled; you're trying to generate a personal access token as a
  non-admin user who doesn't have permission to generate personal access tokens."
  An admin fixes either in the System Console. These scenarios replay the
  admin's steps and pin what the server and the credential do before and after.

  @docs:enable-personal-access-tokens @docs:enable-personal-access-tokens:1 @docs:enable-personal-access-tokens:2 @docs:enable-personal-access-tokens:3
  Scenario: With personal access tokens switched off, no token is created and existing tokens stop working
    While "Enable personal access tokens" is false, creating a token MUST fail
    (501 app.user_access_token.disabled) and an existing token MUST be refused
    (401); switching the setting back on MUST restore the existing token.
    Given personal access tokens are enabled in the System Console
    And a regular user "bob"
    And an admin has created a personal access token for "bob"
    When I log in to Mattermost as an admin
    And I go to System Console > Integrations > Integration Management
    And I set Enable personal access tokens to false
    Then creating a personal access token for "bob" fails with status 501 and error "app.user_access_token.disabled"
    When the credential requests "users/me" with that token
    Then the request is refused as "auth" with status 401
    When I confirm that Enable personal access tokens is set to true, changing it if it is not
    And the credential requests "users/me" with that token
    Then the request succeeds with status 200

  @docs:enable-personal-access-tokens @docs:enable-personal-access-tokens:4 @docs:enable-personal-access-tokens:5 @docs:enable-personal-access-tokens:6 @docs:enable-personal-access-tokens:7
  Scenario: A user without permission cannot create a token until an admin allows it
    A non-admin without "Allow this account to generate personal access tokens"
    MUST NOT be able to create a token (403); once an admin checks it in Manage
    roles, the user MUST be able to, and the new token MUST authenticate.
    Given personal access tokens are enabled in the System Console
    And a regular user "carol"
    Then "carol" cannot create a personal access token: status 403, error "api.context.permissions.app_error"
    When I log in to Mattermost as an admin
    And I go to System Console > User Management > Users
    And I search for the user account "carol"
    And I select the Actions dropdown for the user and select Manage roles
    And I check the box for Allow this account to generate personal access tokens and Save
    Then "carol" can create a personal access token
    When the credential requests "users/me" with that token
    Then the request succeeds with status 200
    And the answer names "carol", not the admin who created the token

  @docs:enable-personal-access-tokens:7
  Scenario: Taking the permission away again leaves existing tokens working
    Unchecking "Allow this account to generate personal access tokens" MUST stop
    the user creating new tokens; the token created before keeps working
    (Mattermost 11 revokes nothing when the role goes; an upgrade that changes it is caught here).
    Given personal access tokens are enabled in the System Console
    And a regular user "dave" who may generate personal access tokens
    And "dave" has created a personal access token for themselves
    When I log in to Mattermost as an admin
    And I search for the user account "dave"
    And I select the Actions dropdown for the user and select Manage roles
    And I uncheck the box for Allow this account to generate personal access tokens and Save
    Then "dave" cannot create a personal access token: status 403, error "api.context.permissions.app_error"
    When the credential requests "users/me" with that token
    Then the request succeeds with status 200
    And the answer names "dave", not the admin who created the token
