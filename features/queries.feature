@docs:using-api-access-token
Feature: A node read with a query string
  n8n's documentation: "You can use these credentials to authenticate the
  following nodes: Mattermost." The Mattermost node's "get many" operations
  send page, per_page and filters in the query string. A credential that drops
  the query or sends a parameter twice still gets an answer from Mattermost:
  the wrong page, and a workflow that loops over pages never
  ends or misses users. A value with a comma is percent-encoded on the way
  (RFC 3986): encoded twice, Mattermost reads another value. The read goes through the TLS proxy's "trusted"
  endpoint in front of the real Mattermost, which logs the query string as it
  arrived (never one that carries a token); the answer is compared with what
  an admin sees for the same query.
  Only a node read carries a query here: the credential test is the
  implementation's own request, and the node's writes send none.

  Background:
    Given personal access tokens are enabled in the System Console
    And regular users "quinn", "quill" and "quincy" in a team of their own
    And an admin has created a personal access token for "quinn"

  @beyond-docs @needs:tls-proxy
  Scenario Outline: A node read's query string reaches Mattermost exactly as given
    The credential MUST send a read's query parameters exactly as given, each
    once, and the answer MUST be Mattermost's answer to that query.
    Why: the node pages through users and channels with page and per_page.
    When the credential reads the users of their team with the query "<query>" through the "trusted" endpoint
    Then Mattermost received that query exactly, once
    And the answer lists the users an admin sees with that query

    Examples:
      | query                                     |
      | per_page=1&page=0                         |
      | per_page=1&page=2                         |
      | page=1&per_page=2                         |
      | per_page=5&roles=system_user,system_admin |
