@docs:using-api-access-token
Feature: A server that never answers, or is not there
  n8n's documentation, step 6: "Enter your Mattermost URL as the Base URL."
  That URL may lead to a server that accepts the connection and then never
  answers: an overloaded host, a stuck proxy, a firewall that drops packets
  after the handshake. A workflow waiting on it forever never finishes. A
  conforming credential gives up on its own, in a bounded time, and says so.
  Each silent Base URL below is a listener on 127.0.0.1 in front of the real
  Mattermost that holds the connection for up to a minute, saying nothing.
  A Base URL may also lead nowhere (a wrong port, a server that is down): the
  credential says so, and not something that sends the user elsewhere.
  The rule holds on every path the credential is used along: the credential
  test, a node read (GET users/me) and a node write (Message > Post: POST posts
  with a JSON body).

  Background:
    Given personal access tokens are enabled in the System Console
    And a regular user "nora"
    And an admin has created a personal access token for "nora"

  @beyond-docs
  Scenario Outline: The credential gives up on a server that never answers
    The credential MUST give up on its own and answer "timeout" (or "network")
    within twice the adapter timeout (20 s by default), on every path; one that
    has not answered by then fails (the report says it did not give up within
    that time, and on which path).
    Why: without a timeout an n8n workflow hangs forever, and so does every run queued behind it.
    When the credential is used for <path> with that token and a server that <silence>
    Then the credential gave up with a "timeout" or "network" error

    Examples: The credential test
      | path                | silence                                                |
      | the credential test | accepts the connection and never answers               |
      | the credential test | completes the TLS handshake and never answers          |
      | the credential test | sends its status line and headers, then never the body |

    Examples: A node read
      | path        | silence                                                |
      | a node read | accepts the connection and never answers               |
      | a node read | completes the TLS handshake and never answers          |
      | a node read | sends its status line and headers, then never the body |

    Examples: A node write
      | path         | silence                                                |
      | a node write | accepts the connection and never answers               |
      | a node write | completes the TLS handshake and never answers          |
      | a node write | sends its status line and headers, then never the body |

  @beyond-docs
  Scenario Outline: A Base URL where nothing listens is reported as unreachable
    The credential MUST answer "network" when every connection is refused (a
    wrong port in the Base URL, a server that is down), on every path: no
    success, and not "tls" or "timeout". Protocol v1: "network" is no HTTP
    answer, connection refused included; "tls" is a failed handshake, and none began.
    Why: "TLS failed" or "timed out" sends the user after certificates or a slow server.
    When the credential is used for <path> with that token and a Base URL where nothing listens
    Then the request is refused as "network"

    Examples: The credential test
      | path                |
      | the credential test |

    Examples: A node read
      | path        |
      | a node read |

    Examples: A node write
      | path         |
      | a node write |
