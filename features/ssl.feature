@docs:using-api-access-token
Feature: Ignore SSL Issues
  n8n's documentation, step 7: "By default, n8n connects only if SSL certificate
  validation succeeds. To connect even if SSL certificate validation fails, turn
  on Ignore SSL Issues."
  This switch is the security-critical part of the credential. Each HTTPS
  endpoint below serves one kind of certificate (the model is badssl.com): the
  suite's own certificate authority, handed to the credential as a trusted root,
  signed only the "trusted" one. The TLS proxy in front of Mattermost records
  whether a token got through, never its value.

  Background:
    Given personal access tokens are enabled in the System Console
    And a regular user "tess"
    And an admin has created a personal access token for "tess"

  @docs:using-api-access-token:7
  Scenario Outline: With Ignore SSL Issues off, a certificate that validates connects
    With Ignore SSL Issues off, the credential MUST connect when the server's
    certificate validates, whether a proxy or Mattermost itself terminates TLS.
    When the credential requests "users/me" through the "<endpoint>" endpoint with Ignore SSL Issues off
    Then the request succeeds with status 200
    And the answer names "tess", not the admin who created the token

    Examples:
      | endpoint       |
      | trusted        |
      | mattermost-tls |

  @docs:using-api-access-token:7
  Scenario Outline: With Ignore SSL Issues off, a certificate that fails validation is refused before the token is sent
    With Ignore SSL Issues off, the credential MUST refuse a certificate that
    fails validation with a "tls" error, and the token MUST NOT reach Mattermost.
    When the credential requests "users/me" through the "<endpoint>" endpoint with Ignore SSL Issues off
    Then the request is refused as "tls"
    And the token did not get through the "<endpoint>" endpoint

    Examples:
      | endpoint             |
      | self-signed          |
      | expired              |
      | not-yet-valid        |
      | wrong-host           |
      | untrusted-root       |
      | incomplete-chain     |
      | expired-intermediate |
      | issued-by-leaf       |

  @docs:using-api-access-token:7
  Scenario Outline: With Ignore SSL Issues on, the credential connects even if validation fails
    With Ignore SSL Issues on, the credential MUST connect and authenticate even
    when certificate validation fails.
    When the credential requests "users/me" through the "<endpoint>" endpoint with Ignore SSL Issues on
    Then the request succeeds with status 200
    And the answer names "tess", not the admin who created the token

    Examples:
      | endpoint             |
      | trusted              |
      | self-signed          |
      | expired              |
      | not-yet-valid        |
      | wrong-host           |
      | untrusted-root       |
      | incomplete-chain     |
      | expired-intermediate |
      | issued-by-leaf       |

  @docs:using-api-access-token:7
  Scenario Outline: An insecure credential used first does not make a strict one accept a bad certificate
    A credential with Ignore SSL Issues off MUST verify the certificate even
    when a credential with it on has just connected to the same host; an
    implementation that reuses the insecure connection or agent fails here.
    When the credential requests "users/me" through the "<endpoint>" endpoint with Ignore SSL Issues on
    Then the request succeeds with status 200
    When the credential requests "users/me" through the "<endpoint>" endpoint with Ignore SSL Issues off
    Then the request is refused as "tls"
    And the token did not get through the "<endpoint>" endpoint

    Examples:
      | endpoint    |
      | self-signed |
      | wrong-host  |

  @beyond-docs
  Scenario: A plain http Base URL works, with a warning that the token crossed the network in clear
    The credential MAY connect over plain http (there is no certificate to
    validate); the report SHOULD warn that the token was sent unencrypted.
    Why: the documentation speaks only of SSL; many test servers run without it.
    When the credential requests "users/me" with that token over plain http
    Then the request succeeds with status 200
    And the report warns that the token crossed the network in clear
