@docs:using-api-access-token
Feature: The Base URL
  n8n's documentation, step 6: "Enter your Mattermost URL as the Base URL."
  Users copy that URL from the browser's address bar, with or without the
  slash at the end, sometimes with nothing but the host name. A conforming
  credential accepts every spelling of the same site URL and refuses a value
  it cannot use before the token is sent anywhere.
  Each rule holds on every path the credential is used along: the credential
  test (n8n's "Test" button), a node read (GET users/me) and a node write
  (Message > Post: POST posts with a JSON body). A client that joins the Base
  URL and the API path with a doubled slash may still read (the server's
  redirect is followed as a GET) and fail every write.

  Background:
    Given personal access tokens are enabled in the System Console
    And a regular user "kim"
    And an admin has created a personal access token for "kim"

  @docs:using-api-access-token:6
  Scenario Outline: The site URL is accepted however it ends
    The credential MUST accept the site URL with no, one or two trailing
    slashes, and with an upper-case scheme or host name (RFC 3986: both are
    case-insensitive), on every path.
    When the credential is used for <path> with the Base URL <form>
    Then it succeeds as "kim", not the admin who created the token

    Examples: The credential test
      | path                | form                         |
      | the credential test | as the browser shows it      |
      | the credential test | with a trailing slash        |
      | the credential test | with two trailing slashes    |
      | the credential test | with an upper-case scheme    |
      | the credential test | with an upper-case host name |

    Examples: A node read
      | path        | form                         |
      | a node read | as the browser shows it      |
      | a node read | with a trailing slash        |
      | a node read | with two trailing slashes    |
      | a node read | with an upper-case scheme    |
      | a node read | with an upper-case host name |

    Examples: A node write
      | path         | form                         |
      | a node write | as the browser shows it      |
      | a node write | with a trailing slash        |
      | a node write | with two trailing slashes    |
      | a node write | with an upper-case scheme    |
      | a node write | with an upper-case host name |

  @docs:using-api-access-token:6
  Scenario Outline: A Base URL that cannot be used is refused as a configuration error
    The credential MUST refuse a Base URL without an http or https scheme, an
    empty one, or one whose port cannot exist, with a "config" error instead of
    crashing or guessing, on every path.
    When the credential is used for <path> with the Base URL <form>
    Then the request is refused as "config"

    Examples: The credential test
      | path                | form                     |
      | the credential test | without a scheme         |
      | the credential test | left empty               |
      | the credential test | with an ftp scheme       |
      | the credential test | with a port out of range |

    Examples: A node read
      | path        | form                     |
      | a node read | without a scheme         |
      | a node read | left empty               |
      | a node read | with an ftp scheme       |
      | a node read | with a port out of range |

    Examples: A node write
      | path         | form                     |
      | a node write | without a scheme         |
      | a node write | left empty               |
      | a node write | with an ftp scheme       |
      | a node write | with a port out of range |

  @docs:using-api-access-token:6
  Scenario Outline: A Base URL with a path the server does not serve does not appear to work
    The credential MUST NOT report success for a Base URL with a path the server
    does not serve, on any path: Mattermost answers every path outside its API
    with its web app page, status 200, whatever the token.
    Given Mattermost answers a path outside its API with its web app page
    When the credential is used for <path> with the Base URL with a path the server does not serve
    Then the request does not appear to work, because Mattermost's web app answered, not its API

    Examples: The credential test
      | path                |
      | the credential test |

    Examples: A node read
      | path        |
      | a node read |

    Examples: A node write
      | path         |
      | a node write |

  @docs:using-api-access-token:6
  Scenario Outline: A Base URL pasted with extra text is refused or used correctly, never sent astray
    A user may paste the site URL with surrounding whitespace, with the API path
    after it, or straight from the address bar with a query string or a fragment.
    The credential SHOULD refuse it as a "config" error; using the site URL
    correctly, as the token's owner, is acceptable too (RFC 3986, appendix C:
    whitespace around a URL is not part of it). What it MUST NOT do is report
    success for an answer that is not the API's answer for the token's owner, on
    any path: a credential test that succeeds MUST have reached the API with the
    token (Mattermost then holds a session for it), a read MUST read the token's
    owner and a write MUST post as them. Asking the server for …/api/v4/api/v4/…
    and reporting its 404 is reported as a warning.
    When the credential is used for <path> with a token of "kim" never used before and the Base URL <form>
    Then the credential should refuse it as a configuration error or reach the API as "kim", or else the report warns

    Examples: The credential test
      | path                | form                  |
      | the credential test | with a leading space  |
      | the credential test | with a trailing space |
      | the credential test | with /api/v4 pasted   |
      | the credential test | with /api/v4/ pasted  |
      | the credential test | with a query string   |
      | the credential test | with a fragment       |

    Examples: A node read
      | path        | form                  |
      | a node read | with a leading space  |
      | a node read | with a trailing space |
      | a node read | with /api/v4 pasted   |
      | a node read | with /api/v4/ pasted  |
      | a node read | with a query string   |
      | a node read | with a fragment       |

    Examples: A node write
      | path         | form                  |
      | a node write | with a leading space  |
      | a node write | with a trailing space |
      | a node write | with /api/v4 pasted   |
      | a node write | with /api/v4/ pasted  |
      | a node write | with a query string   |
      | a node write | with a fragment       |

  @docs:using-api-access-token:6 @needs:subpath
  Scenario Outline: A Mattermost served under a subpath is reached through its subpath
    A Mattermost whose SiteURL has a path serves its API under that path. The
    credential MUST work with the site URL including the subpath, with or without
    a trailing slash, on every path.
    When the credential is used for <path> with the subpath server's Base URL <form>
    Then it succeeds as "kim", not the admin who created the token

    Examples: The credential test
      | path                | form                    |
      | the credential test | as the browser shows it |
      | the credential test | with a trailing slash   |

    Examples: A node read
      | path        | form                    |
      | a node read | as the browser shows it |
      | a node read | with a trailing slash   |

    Examples: A node write
      | path         | form                    |
      | a node write | as the browser shows it |
      | a node write | with a trailing slash   |

  @docs:using-api-access-token:6 @needs:subpath
  Scenario Outline: The site root of a subpath deployment does not appear to work
    Mattermost answers a request outside its subpath with a redirect into it. The
    credential MUST NOT appear to work with the site root, on any path: following
    that redirect with the token re-sent would hide a wrong Base URL until something else breaks.
    When the credential is used for <path> with the subpath server's Base URL without its subpath
    Then the request does not appear to work, because the Base URL lacks the subpath Mattermost is served under

    Examples: The credential test
      | path                |
      | the credential test |

    Examples: A node read
      | path        |
      | a node read |

    Examples: A node write
      | path         |
      | a node write |
