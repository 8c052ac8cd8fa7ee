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
  request with "307 Temporary Redirect". Where it points, a recorder logs
  whether a request carried a credential (header, query parameter or cookie),
  never its value.

  Background:
    Given personal access tokens are enabled in the System Console
    And a regular user "remy"
    And an admin has created a personal access token for "remy"

  @docs:using-api-access-token:6
  Scenario Outline: A redirect does not carry the token to another host or to plain http
    If the Base URL answers with a redirect to another host or to plain http,
    the credential MUST NOT send the token there. It MAY report the redirect as
    an error, or follow it without the token.
    When the credential requests "users/me" with that token from a Base URL that redirects <where>
    Then the token did not follow the redirect <where>

    Examples:
      | where           |
      | to another host |
      | to plain http   |
