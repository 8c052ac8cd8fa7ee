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
  The credential is used along three paths, and each rule holds on every one:
  the credential test (n8n's "Test" button, the implementation's own check),
  a node read (GET users/me) and a node write (Message > Post: POST posts with
  a JSON body, into a channel of the token owner's team). In n8n the credential
  test is declared apart from the node's requests, with a TLS setting of its
  own; a client that verifies on one path and not another fails here.

  Background:
    Given personal access tokens are enabled in the System Console
    And a regular user "tess"
    And an admin has created a personal access token for "tess"

  @docs:using-api-access-token:7 @needs:tls-proxy @needs:mattermost-tls
  Scenario Outline: With Ignore SSL Issues off, a certificate that validates connects
    With Ignore SSL Issues off, the credential MUST connect when the server's
    certificate validates, whether a proxy or Mattermost itself terminates TLS,
    on every path.
    When the credential is used for <path> through the "<endpoint>" endpoint with Ignore SSL Issues off
    Then it succeeds as "tess", not the admin who created the token

    Examples: The credential test
      | path                | endpoint       |
      | the credential test | trusted        |
      | the credential test | mattermost-tls |

    Examples: A node read
      | path        | endpoint       |
      | a node read | trusted        |
      | a node read | mattermost-tls |

    Examples: A node write
      | path         | endpoint       |
      | a node write | trusted        |
      | a node write | mattermost-tls |

  @docs:using-api-access-token:7 @needs:tls-proxy
  Scenario Outline: With Ignore SSL Issues off, a certificate that fails validation is refused before the token is sent
    With Ignore SSL Issues off, the credential MUST refuse a certificate that
    fails validation with a "tls" error, and the token MUST NOT reach Mattermost,
    on every path.
    When the credential is used for <path> through the "<endpoint>" endpoint with Ignore SSL Issues off
    Then the request is refused as "tls"
    And the token did not get through the "<endpoint>" endpoint

    Examples: The credential test
      | path                | endpoint             |
      | the credential test | self-signed          |
      | the credential test | expired              |
      | the credential test | not-yet-valid        |
      | the credential test | wrong-host           |
      | the credential test | untrusted-root       |
      | the credential test | incomplete-chain     |
      | the credential test | expired-intermediate |
      | the credential test | issued-by-leaf       |

    Examples: A node read
      | path        | endpoint             |
      | a node read | self-signed          |
      | a node read | expired              |
      | a node read | not-yet-valid        |
      | a node read | wrong-host           |
      | a node read | untrusted-root       |
      | a node read | incomplete-chain     |
      | a node read | expired-intermediate |
      | a node read | issued-by-leaf       |

    Examples: A node write
      | path         | endpoint             |
      | a node write | self-signed          |
      | a node write | expired              |
      | a node write | not-yet-valid        |
      | a node write | wrong-host           |
      | a node write | untrusted-root       |
      | a node write | incomplete-chain     |
      | a node write | expired-intermediate |
      | a node write | issued-by-leaf       |

  @docs:using-api-access-token:7 @needs:tls-proxy
  Scenario Outline: With Ignore SSL Issues on, the credential connects even if validation fails
    With Ignore SSL Issues on, the credential MUST connect and authenticate even
    when certificate validation fails, on every path.
    When the credential is used for <path> through the "<endpoint>" endpoint with Ignore SSL Issues on
    Then it succeeds as "tess", not the admin who created the token

    Examples: The credential test
      | path                | endpoint             |
      | the credential test | trusted              |
      | the credential test | self-signed          |
      | the credential test | expired              |
      | the credential test | not-yet-valid        |
      | the credential test | wrong-host           |
      | the credential test | untrusted-root       |
      | the credential test | incomplete-chain     |
      | the credential test | expired-intermediate |
      | the credential test | issued-by-leaf       |

    Examples: A node read
      | path        | endpoint             |
      | a node read | trusted              |
      | a node read | self-signed          |
      | a node read | expired              |
      | a node read | not-yet-valid        |
      | a node read | wrong-host           |
      | a node read | untrusted-root       |
      | a node read | incomplete-chain     |
      | a node read | expired-intermediate |
      | a node read | issued-by-leaf       |

    Examples: A node write
      | path         | endpoint             |
      | a node write | trusted              |
      | a node write | self-signed          |
      | a node write | expired              |
      | a node write | not-yet-valid        |
      | a node write | wrong-host           |
      | a node write | untrusted-root       |
      | a node write | incomplete-chain     |
      | a node write | expired-intermediate |
      | a node write | issued-by-leaf       |

  @docs:using-api-access-token:7 @needs:tls-proxy
  Scenario Outline: An insecure credential used first does not make a strict one accept a bad certificate
    A credential with Ignore SSL Issues off MUST verify the certificate even
    when a credential with it on has just connected to the same host, on every
    path; an implementation that reuses the insecure connection or agent fails here.
    When the credential is used for <path> through the "<endpoint>" endpoint with Ignore SSL Issues on
    Then it succeeds as "tess", not the admin who created the token
    When the credential is used for <path> through the "<endpoint>" endpoint with Ignore SSL Issues off
    Then the request is refused as "tls"
    And the token did not get through the "<endpoint>" endpoint

    Examples: The credential test
      | path                | endpoint    |
      | the credential test | self-signed |
      | the credential test | wrong-host  |

    Examples: A node read
      | path        | endpoint    |
      | a node read | self-signed |
      | a node read | wrong-host  |

    Examples: A node write
      | path         | endpoint    |
      | a node write | self-signed |
      | a node write | wrong-host  |

  @beyond-docs
  Scenario: A plain http Base URL works, with a warning that the token crossed the network in clear
    The credential MAY connect over plain http (there is no certificate to
    validate); the report SHOULD warn that the token was sent unencrypted.
    Why: the documentation speaks only of SSL; many test servers run without it.
    When the credential requests "users/me" with that token over plain http
    Then the request succeeds with status 200
    And the report warns that the token crossed the network in clear
