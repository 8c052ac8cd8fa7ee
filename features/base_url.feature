@docs:using-api-access-token
Feature: The Base URL
  n8n's documentation, step 6: "Enter your Mattermost URL as the Base URL."
  Users copy that URL from the browser's address bar, with or without the
  slash at the end, sometimes with nothing but the host name. A conforming
  credential accepts every spelling of the same site URL and refuses a value
  it cannot use before the token is sent anywhere.

  Background:
    Given personal access tokens are enabled in the System Console
    And a regular user "kim"
    And an admin has created a personal access token for "kim"

  @docs:using-api-access-token:6
  Scenario Outline: The site URL is accepted however it ends
    The credential MUST accept the site URL with no, one or two trailing
    slashes, and with an upper-case scheme (RFC 3986: the scheme is case-insensitive).
    When the credential requests "users/me" with that token and the Base URL <form>
    Then the request succeeds with status 200
    And the answer names "kim", not the admin who created the token

    Examples:
      | form                      |
      | as the browser shows it   |
      | with a trailing slash     |
      | with two trailing slashes |
      | with an upper-case scheme |

  @docs:using-api-access-token:6
  Scenario Outline: A Base URL that cannot be used is refused as a configuration error
    The credential MUST refuse a Base URL without an http or https scheme, or an
    empty one, with a "config" error instead of crashing or guessing.
    When the credential requests "users/me" with that token and the Base URL <form>
    Then the request is refused as "config"

    Examples:
      | form                   |
      | without a scheme       |
      | left empty             |
      | with an ftp scheme     |
