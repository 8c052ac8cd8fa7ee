"""The reference credential implementation: what a conforming Mattermost credential does.

Run as an adapter with ``python -m mm_conformance.protocol.reference`` (protocol v1 on
stdin/stdout, log on stderr). Each behaviour below is a rule, with its reason.

**Base URL** (:func:`site_url`). Refused as a ``config`` error, before any
request is sent, unless it is a usable Mattermost site URL:

* a string, not empty, without whitespace or control characters anywhere
  (a pasted value with a stray space or newline would silently become another URL);
* scheme ``http`` or ``https``, any case (RFC 3986: schemes and hosts are
  case-insensitive, so ``HTTPS://Mattermost.Example.com`` is fine);
* a host, and a valid port if one is given;
* no ``user:password@`` (the access token is the only credential; userinfo would
  be a second, unintended one);
* no query string and no fragment (requests are built by appending a path; a
  query or fragment in the base would end up in the middle of every URL);
* no ``/api/v4`` path segments: that is the API URL pasted instead of the site
  URL, and appending ``/api/v4/users`` to it would request ``/api/v4/api/v4/users``.

Trailing slashes are stripped; a subpath deployment (``https://host/mattermost``)
is kept, and requests go to ``<base>/api/v4/<endpoint>``.

**Token.** Sent as ``Authorization: Bearer <token>``. An empty token sends no
``Authorization`` header (the server then answers 401, an ``auth`` error). A
token that cannot be put in an HTTP header at all (leading or trailing
whitespace, control or non-ASCII characters) is a ``config`` error: sending it
is impossible, so the value itself is unusable.

**Operations.** ``test`` is ``GET <base>/api/v4/users/me``: it proves the token
and returns its owner. ``request`` calls ``<base>/api/v4/<endpoint>`` (leading
slashes stripped) with ``query`` as parameters and ``body`` as JSON when not null.

**Redirects are not followed.** Following one could re-send the token to
another host or over plain http, and a correct base URL never needs one. A 3xx
is an ``http`` error whose message gives the ``Location``.

**TLS.** With ``allowUnauthorizedCerts`` false, certificates and host names are
verified against the system roots plus ``caFile`` when given. With it true,
nothing is verified. Every call uses a new ``httpx.Client``, so a connection
opened without verification can never be reused by a strict credential. The
environment's proxy and ``.netrc`` settings are ignored (``trust_env=False``):
the reference must behave the same on every machine.

**Timeouts.** 5 s to connect and 5 s per read (half the suite's default adapter timeout), overridable in seconds with
the environment variable ``MM_CONFORMANCE_REFERENCE_TIMEOUT``.

**Classification.** 2xx: ok, unless the answer is a web page (``text/html``):
Mattermost serves its web app, status 200, on every path outside its API, so a
wrong Base URL would look fine with any token; that is an ``http`` error.
401/403: ``auth``. Other statuses: ``http``. An
``ssl.SSLError`` anywhere in the cause chain: ``tls``. An httpx timeout:
``timeout``. Any other transport error: ``network``. Messages are one line,
without the token, and use Mattermost's ``message`` and ``id`` when the error
body has them. ``body`` is the parsed JSON when the response is JSON, else null.

**Bad input never crashes the loop**: a malformed request line with an id is
answered with a ``config`` error; one without an id is logged and skipped. A
bug in the reference itself, however, is allowed to crash it, so the suite
reports an adapter failure rather than a wrong verdict.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import ssl
import sys
from urllib.parse import urlsplit

import httpx

from mm_conformance.protocol.wire import ApiRequest, Credential, ErrorKind, Outcome, serve
from mm_conformance.redact import RedactingFilter, one_line

log = logging.getLogger("mm_conformance.protocol.reference")

DEFAULT_TIMEOUT_S = 5.0
TIMEOUT_ENV = "MM_CONFORMANCE_REFERENCE_TIMEOUT"
EXAMPLE_SITE = "https://mattermost.example.com"

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_HTTP_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token: what a method may be
_HEADER_SAFE_TOKEN = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")  # visible ASCII, inner spaces


class ConfigError(ValueError):
    """A credential value is unusable as given; the message says which and how to fix it."""


# --- pure rules -----------------------------------------------------------------


def site_url(base_url: object) -> str:
    """The validated, normalised site URL (lower-case scheme and host, no trailing slash).

    Raises :class:`ConfigError` for every rule in the module docstring.
    """
    if not isinstance(base_url, str):
        raise ConfigError(f"baseUrl must be a string, not {_json_type(base_url)}")
    if not base_url.strip():
        raise ConfigError(f"baseUrl is empty; enter your Mattermost site URL, e.g. {EXAMPLE_SITE}")
    if base_url != base_url.strip():
        raise ConfigError(f"baseUrl {base_url!r} has leading or trailing whitespace; remove it")
    if any(c.isspace() or not c.isprintable() for c in base_url):
        raise ConfigError(f"baseUrl {base_url!r} contains whitespace or control characters")
    if not _SCHEME.match(base_url):
        raise ConfigError(f"baseUrl {base_url!r} has no scheme; it must start with https:// or http://")
    try:
        parts = urlsplit(base_url)  # ValueError: an unclosed "[", characters NFKC turns into ":" or "/"
    except ValueError as e:
        raise ConfigError(f"baseUrl {base_url!r} is not a valid URL: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(f"baseUrl {base_url!r} has scheme {parts.scheme!r}; use https:// or http://")
    if "@" in parts.netloc:
        raise ConfigError(f"baseUrl {_without_userinfo(base_url)!r} contains a user name or password; remove it")
    try:
        host = parts.hostname
    except ValueError as e:  # "[abc]": brackets around something that is not an IP address
        raise ConfigError(f"baseUrl {base_url!r} has an invalid host: {e}") from None
    if not host:
        raise ConfigError(f"baseUrl {base_url!r} has no host")
    try:
        _ = parts.port  # reading it validates it
    except ValueError:
        raise ConfigError(f"baseUrl {base_url!r} has an invalid port") from None
    try:
        _ = httpx.URL(base_url).host  # IDNA: "xn--" and the like fail only when the host is encoded
    except (httpx.InvalidURL, ValueError) as e:
        raise ConfigError(f"baseUrl {base_url!r} has a host that cannot be encoded: {e}") from None
    if "#" in base_url:
        raise ConfigError(f"baseUrl {base_url!r} has a fragment (#…); enter the site URL only")
    if "?" in base_url:
        raise ConfigError(f"baseUrl {base_url!r} has a query string (?…); enter the site URL only")
    site = f"{scheme}://{parts.netloc.lower()}"
    path = parts.path.rstrip("/")
    segments = path.split("/")
    for i in range(len(segments) - 1):
        if segments[i].lower() == "api" and segments[i + 1].lower() == "v4":
            suggestion = site + "/".join(segments[:i])
            raise ConfigError(
                f"baseUrl {base_url!r} contains /api/v4; enter the site URL without /api/v4, e.g. {suggestion}"
            )
    return site + path


def api_url(base_url: object, endpoint: str) -> str:
    """``<site URL>/api/v4/<endpoint>``, with the endpoint's leading slashes stripped.

    >>> api_url("HTTPS://Chat.Example.com/mattermost//", "/users/me")
    'https://chat.example.com/mattermost/api/v4/users/me'
    """
    if not isinstance(endpoint, str):
        raise ConfigError(f"endpoint must be a string, not {_json_type(endpoint)}")
    return f"{site_url(base_url)}/api/v4/{endpoint.lstrip('/')}"


def check_token(token: object) -> str:
    """The token, if it can be sent in an ``Authorization`` header; empty means "send none"."""
    if not isinstance(token, str):
        raise ConfigError(f"accessToken must be a string, not {_json_type(token)}")
    if token and not _HEADER_SAFE_TOKEN.fullmatch(token):
        if token != token.strip():
            raise ConfigError("accessToken has leading or trailing whitespace; copy the token again without it")
        raise ConfigError("accessToken contains characters that cannot be sent in an HTTP header")
    return token


def classify(response: httpx.Response) -> Outcome:
    """The outcome of an HTTP response (see "Classification" in the module docstring)."""
    body = _json_body(response)
    status = response.status_code
    if 200 <= status < 300 and _is_web_page(response):
        # Mattermost answers every path outside its API with its web app, 200, whatever the
        # token: success here would make a wrong Base URL and a wrong token look fine.
        message = f"HTTP {status} answered with a web page, not Mattermost's API; check the base URL"
        return Outcome.failure(ErrorKind.HTTP, message, status=status)
    if 200 <= status < 300:
        return Outcome.success(status, body)
    if 300 <= status < 400:
        location = response.headers.get("location", "(no Location)")
        message = f"HTTP {status} redirect to {location} not followed; check the base URL"
        return Outcome.failure(ErrorKind.HTTP, one_line(message), status=status, body=body)
    kind = ErrorKind.AUTH if status in (401, 403) else ErrorKind.HTTP
    return Outcome.failure(kind, _server_message(status, response.reason_phrase, body), status=status, body=body)


# --- the call -------------------------------------------------------------------


def call(operation: str, credential: Credential, ca_file: str | None, request: ApiRequest | None) -> Outcome:
    """Do what a conforming credential does for one protocol request."""
    try:
        token = check_token(credential.access_token)
        if not isinstance(credential.allow_unauthorized_certs, bool):
            raise ConfigError("allowUnauthorizedCerts must be true or false")
        if operation == "test":
            method, url, query, body = "GET", api_url(credential.base_url, "users/me"), {}, None
        elif operation == "request" and request is not None:
            method, url = request.method.upper(), api_url(credential.base_url, request.endpoint)
            query, body = request.query, request.body
            _check_sendable(method, url, query, body)
        else:
            raise ConfigError(f"unknown operation {operation!r}")
        verify = _verify(credential.allow_unauthorized_certs, ca_file)
    except ConfigError as e:
        return Outcome.failure(ErrorKind.CONFIG, one_line(str(e)))

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    what = f"{method} {url}"
    try:
        # A new client per call: no connection (and no TLS decision) outlives its credential.
        with httpx.Client(verify=verify, timeout=_timeout_s(), follow_redirects=False, trust_env=False) as client:
            response = client.request(method, url, params=query, headers=headers, json=body)
    except httpx.TimeoutException as e:
        return Outcome.failure(ErrorKind.TIMEOUT, one_line(f"{what}: timed out ({_describe(e)})"))
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError) as e:
        return Outcome.failure(ErrorKind.CONFIG, one_line(f"{what}: cannot be sent: {_describe(e)}"))
    except httpx.TransportError as e:
        tls_error = _ssl_error_in(e)
        if tls_error is not None:
            return Outcome.failure(ErrorKind.TLS, one_line(f"{what}: TLS failed: {_describe_ssl(tls_error)}"))
        return Outcome.failure(ErrorKind.NETWORK, one_line(f"{what}: {_describe(e)}"))
    return classify(response)


def _check_sendable(method: str, url: str, query: dict[str, str], body: object) -> None:
    """Refuse, before connecting, a request that cannot be put on the wire at all.

    Otherwise the failure would come from deep inside httpx or h11, after the
    connection was opened (and the outcome would depend on whether a server listens).
    """
    if not _HTTP_TOKEN.fullmatch(method):
        raise ConfigError(f"method {method!r} is not an HTTP method")
    try:
        for text in (url, *query.keys(), *query.values()):
            text.encode("utf-8")
        json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError, TypeError) as e:
        raise ConfigError(f"the request cannot be encoded: {e}") from None


def _verify(allow_unauthorized_certs: bool, ca_file: str | None) -> ssl.SSLContext | bool:
    if allow_unauthorized_certs:
        return False
    if ca_file is None:
        return _strict_context(None, None)
    try:
        stat = os.stat(ca_file)
        return _strict_context(ca_file, (stat.st_mtime_ns, stat.st_size))
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"caFile {ca_file!r} cannot be loaded: {e}") from None


@functools.lru_cache(maxsize=16)
def _strict_context(ca_file: str | None, version: tuple[int, int] | None) -> ssl.SSLContext:
    """System roots (plus ``ca_file``), host names checked; made once per CA file and version of it.

    Loading the system roots costs about 30 ms, as much as the request itself. A context
    is configuration only: it carries no connection and no TLS session from one request
    to the next (the client, made per call, does), so sharing it decides nothing for a
    later credential. A changed file (``version``: mtime and size) gets a new context.
    """
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(ca_file)
    return context


def _timeout_s() -> float:
    value = os.environ.get(TIMEOUT_ENV)
    if not value:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        log.warning("ignoring %s=%r (not a positive number of seconds)", TIMEOUT_ENV, value)
        return DEFAULT_TIMEOUT_S
    return seconds


# --- the adapter loop -------------------------------------------------------------


def main() -> int:
    """Serve protocol v1 on stdin/stdout until stdin closes."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("reference: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False

    return serve(call, log)


# --- helpers ----------------------------------------------------------------------


def _is_web_page(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").lower().startswith("text/html")


def _json_body(response: httpx.Response) -> object:
    if "json" not in response.headers.get("content-type", "").lower():
        return None
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _server_message(status: int, reason: str, body: object) -> str:
    # Mattermost errors: {"id": "api.context.session_expired.app_error", "message": "...", "status_code": 401}
    if isinstance(body, dict):
        message, error_id = body.get("message"), body.get("id")
        if isinstance(message, str) and message:
            suffix = f" ({error_id})" if isinstance(error_id, str) and error_id else ""
            return one_line(f"{message}{suffix}")
        if isinstance(error_id, str) and error_id:
            return one_line(f"HTTP {status}: {error_id}")
    return one_line(f"HTTP {status} {reason}".rstrip())


def _ssl_error_in(error: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _describe_ssl(error: ssl.SSLError) -> str:
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
        return f"certificate verify failed: {error.verify_message}"
    return str(error)


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _without_userinfo(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://…@{rest.rpartition('@')[2]}"




if __name__ == "__main__":
    raise SystemExit(main())
