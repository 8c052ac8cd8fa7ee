@docs:using-api-access-token
Feature: Using an API access token
  n8n's documentation: "To configure this credential, you'll need a Mattermost
  account and a personal Access Token and your Mattermost Base URL."
  A personal access token stands for the user it belongs to: whatever the
  credential does with it, it does as that user, and a token Mattermost did
  not issue, or no longer honours, opens nothing.

  Background:
    Given personal access tokens are enabled in the System Console

  @docs:using-api-access-token:1 @docs:using-api-access-token:2 @docs:using-api-access-token:3 @docs:using-api-access-token:4
  Scenario: A user allowed to generate tokens creates one in Profile > Security
    A user with permission MUST be able to create a personal access token with a
    description, and the credential MUST authenticate with it as that user.
    Given a regular user "erin" who may generate personal access tokens
    When "erin" goes to Profile > Security > Personal Access Tokens and creates a token described as "n8n integration"
    Then the token list of "erin" shows a token described as "n8n integration"
    When the credential is tested with that token
    Then the request succeeds with status 200
    When the credential requests "users/me" with that token
    Then the answer names "erin", not the admin who created the token

  @docs:using-api-access-token:4
  Scenario: A personal access token authenticates as the user it was created for
    The credential MUST authenticate with a fresh token, and a request through it
    MUST act as the token's owner, not as the admin who created the token.
    Given a regular user "alice"
    And an admin has created a personal access token for "alice"
    When the credential is tested with that token
    Then the request succeeds with status 200
    When the credential requests "users/me" with that token
    Then the request succeeds with status 200
    And the answer names "alice", not the admin who created the token

  @beyond-docs
  Scenario Outline: A bot account's token authenticates as the bot until the bot is disabled
    Integrations often run as a bot account rather than a person. A bot's personal
    access token MUST authenticate as the bot on every path; once an admin disables
    the bot, the credential MUST report its token as an "auth" error.
    Why: Mattermost recommends bot accounts for integrations; their tokens are personal access tokens too.
    Given a bot account "deploy-bot" with a personal access token made by an admin
    When the credential is used for <path> with that token
    Then it succeeds as "deploy-bot", not the admin who created the token
    When an admin disables the bot account "deploy-bot"
    And the credential is used for <path> with that token
    Then the request is refused as "auth" with status 401

    Examples:
      | path                |
      | the credential test |
      | a node read         |
      | a node write        |

  @docs:using-api-access-token:4
  Scenario: A token acts with its owner's permissions, not more
    A request made with a regular user's token MUST be refused where that user
    has no permission (403), while the admin's own token MUST be allowed.
    Given a regular user "frank"
    And an admin has created a personal access token for "frank"
    When the credential requests "config" with that token
    Then the request is refused as "auth" with status 403
    When the credential requests "config" with the admin's own token
    Then the request succeeds with status 200

  @docs:using-api-access-token:5
  Scenario Outline: A token Mattermost does not honour is refused with an auth error
    The credential MUST report a token the server refuses as an "auth" error,
    never as success and never as a network or configuration problem.
    When the credential requests "users/me" with <token>
    Then the request is refused as "auth" with status 401

    Examples:
      | token                      |
      | a made-up token            |
      | an empty token             |
      | a revoked token            |
      | a disabled token           |

  @docs:using-api-access-token:5
  Scenario: Re-enabling a disabled token restores access
    A disabled token MUST be refused, and the same token MUST authenticate again
    once it is re-enabled.
    Given a regular user "gina"
    And an admin has created a personal access token for "gina"
    When an admin disables that token
    And the credential requests "users/me" with that token
    Then the request is refused as "auth" with status 401
    When an admin enables that token again
    And the credential requests "users/me" with that token
    Then the request succeeds with status 200

  @docs:using-api-access-token:5 @erratum
  Scenario: The Token ID pasted as the Access Token does not authenticate
    Step 5 tells the user to copy the "Token ID"; the Token ID MUST NOT
    authenticate, because Mattermost looks a token up by its secret only.
    Where this scenario passes, the report lists step 5 as a documentation erratum.
    Given a regular user "dana"
    And an admin has created a personal access token for "dana"
    When the credential is tested with that token's ID in place of the token
    Then the request is refused as "auth" with status 401
    And the report lists step 5 as an erratum: the Token ID does not authenticate, the access token shown once at creation does

  @beyond-docs
  Scenario: A deactivated user's token is refused until the user is reactivated
    The token of a deactivated user MUST be refused; reactivating the user MUST
    restore the same token.
    Why: admins deactivate people who leave; their n8n workflows must stop working.
    Given a regular user "hal"
    And an admin has created a personal access token for "hal"
    When an admin deactivates "hal"
    And the credential requests "users/me" with that token
    Then the request is refused as "auth" with status 401
    When an admin reactivates "hal"
    And the credential requests "users/me" with that token
    Then the request succeeds with status 200

  @beyond-docs
  Scenario: An expiring token works before it expires and is refused after
    Where the server supports personal access token expiry, a token MUST
    authenticate before its expiry time and MUST be refused after it.
    Why: servers with an expiry policy are common in regulated deployments.
    Given a regular user "ivan"
    And an admin has created a personal access token for "ivan" that expires in 12 seconds
    When the credential requests "users/me" with that token
    Then the request succeeds with status 200
    When the token's expiry time has passed
    And the credential requests "users/me" with that token
    Then the request is refused as "auth" with status 401
