@docs:using-api-access-token
Feature: A Base URL that answers with a redirect
  n8n's documentation, step 6: "Enter your Mattermost URL as the Base URL."
  The URL a user enters may answer with a redirect: a site that moved to a new
  host name, a load balancer, a misconfigured proxy, or someone on the path.
  The token was entered for that one site, and a redirect names a place the
  user never chose. A conforming credential may report the redirect or follow
  it, but the token never goes with it to another host, nor down to plain http
  where anyone on the path can read it.
  Each Base URL below serves the suite's trusted certificate and answers every
  request with a redirect, "307 Temporary Redirect" unless said otherwise.
  Where it points, a recorder logs the method of each request and whether it
  carried a credential (header, query parameter or cookie), never its value.
  An origin is a scheme, a host name and a port (RFC 6454): changing any one of
  them leaves the site the token was entered for. Each rule holds on every path
  the credential is used along: the credential test, a node read (GET users/me)
  and a node write (Message > Post: POST posts with a JSON body).

  Background:
    Given personal access tokens are enabled in the System Console
    And a regular user "remy"
    And an admin has created a personal access token for "remy"

  @docs:using-api-access-token:6 @needs:redirects
  Scenario Outline: A redirect to another origin does not carry the token there
    If the Base URL answers with a redirect to another origin — another host
    name, another port, or plain http — the credential MUST NOT send the token
    there, on any path, nor re-send a write there. It MAY report the redirect as
    an error, or follow it without the token.
    When the credential is used for <path> with that token from a Base URL that redirects <where>
    Then neither the token nor a write followed the redirect <where>

    Examples: The credential test
      | path                | where                            |
      | the credential test | to another host                  |
      | the credential test | to another host on the same port |
      | the credential test | to another port on the same host |
      | the credential test | to plain http                    |

    Examples: A node read
      | path        | where                            |
      | a node read | to another host                  |
      | a node read | to another host on the same port |
      | a node read | to another port on the same host |
      | a node read | to plain http                    |

    Examples: A node write
      | path         | where                            |
      | a node write | to another host                  |
      | a node write | to another host on the same port |
      | a node write | to another port on the same host |
      | a node write | to plain http                    |

  @docs:using-api-access-token:6 @needs:redirects
  Scenario Outline: A write redirected to another origin is not re-sent there, whatever the redirect's status
    A 307 or 308 asks the client to re-send the method and the body; most
    clients turn a POST into a GET on a 301, 302 or 303. Either way the
    credential MUST NOT send the token to another origin, nor post the user's
    message there. Only the write is checked with these statuses: a read is a
    GET whatever the status says.
    When the credential is used for a node write with that token from a Base URL that redirects <where>
    Then neither the token nor a write followed the redirect <where>

    Examples:
      | where                           |
      | with a 301 to another host      |
      | with a 302 to another host      |
      | with a 303 to another host      |
      | with a 308 to another host      |
