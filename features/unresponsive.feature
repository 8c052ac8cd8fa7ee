@docs:using-api-access-token
Feature: A server that never answers
  n8n's documentation, step 6: "Enter your Mattermost URL as the Base URL."
  That URL may lead to a server that accepts the connection and then never
  answers: an overloaded host, a stuck proxy, a firewall that drops packets
  after the handshake. A workflow waiting on it forever never finishes. A
  conforming credential gives up on its own, in a bounded time, and says so.
  Each Base URL below is a listener on 127.0.0.1 in front of the real
  Mattermost that holds the connection for up to a minute, saying nothing.

  Background:
    Given personal access tokens are enabled in the System Console
    And a regular user "nora"
    And an admin has created a personal access token for "nora"

  @beyond-docs
  Scenario Outline: The credential gives up on a server that never answers
    The credential MUST give up on its own and answer "timeout" (or "network")
    within twice the adapter timeout (20 s by default); one that has not
    answered by then has no timeout, and fails.
    Why: without a timeout an n8n workflow hangs forever, and so does every run queued behind it.
    When the credential requests "users/me" with that token from a server that <silence>
    Then the credential gave up with a "timeout" or "network" error

    Examples:
      | silence                                                |
      | accepts the connection and never answers               |
      | completes the TLS handshake and never answers          |
      | sends its status line and headers, then never the body |
