"""mm-conformance protocol v1 adapter for ``mattermostautodriver`` (PyPI, pinned 11.11.1).

Run: ``python -m mm_conformance.protocol.adapters.mattermostautodriver_adapter`` (protocol v1 on
stdin/stdout, a one-line-per-request log on stderr, tokens redacted).

``mattermostautodriver`` 11.x is the generated, typed successor of ``mattermostdriver``
(same options, ``TypedDriver`` instead of ``Driver``) on **httpx** instead of requests.
It does not take a URL either: ``Client`` builds ``{scheme}://{url}:{port}`` and every
endpoint method appends its full path, ``/api/v4/…``, to it. Unlike ``mattermostdriver``
it has **no** ``basepath`` any more (``make_request(basepath=…)`` raises "'basepath' no
longer has any effect"). This adapter maps n8n's credential onto the driver's options;
**the mapping is the adapter's, everything after it is the driver's**:

================================  ==================================================
n8n credential                    ``mattermostautodriver.TypedDriver`` options
================================  ==================================================
``baseUrl`` scheme                ``scheme`` (``http`` or ``https``, lower-cased)
``baseUrl`` host                  ``url`` (an IPv6 address gets its ``[…]`` back)
``baseUrl`` port                  ``port``; when absent 443 for https, 80 for http
                                  (the driver's own default, 8065, is not what a
                                  URL without a port means)
``baseUrl`` path                  nothing can take it: only ``/`` (or nothing, or
                                  only slashes) maps; any other path — a subpath
                                  deployment, a pasted ``/api/v4`` — is ``config``
                                  ("the driver has no option for a path")
``accessToken``                   ``token``, and ``driver.client.token`` (below)
``allowUnauthorizedCerts`` true   ``verify=False`` (httpx: ``CERT_NONE``, no host
                                  name check)
``allowUnauthorizedCerts`` false  ``verify=True`` (httpx's default trust: certifi,
                                  or ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set), or
                                  with ``caFile`` an ``ssl.SSLContext`` = exactly
                                  that default (``httpx.create_ssl_context()``) plus
                                  ``load_verify_locations(caFile)``; httpx's own
                                  advice, ``ssl.create_default_context(cafile=…)``,
                                  would *replace* the roots, and the protocol says
                                  "in addition"
(none)                            ``request_timeout`` is left at the driver's
                                  default, ``None``: **no timeout at all** (below);
                                  ``MM_CONFORMANCE_AUTODRIVER_TIMEOUT`` sets it
================================  ==================================================

Everything else keeps the driver's defaults, notably ``max_retries=3``: the driver
retries a GET/PUT/DELETE/HEAD that got **no response** (connection refused, a TLS
failure, a timeout — every ``httpx.TransportError``) and any 429/502/503/504, with
0.5–1, 1–2, 2–4 s of back-off. A refused connection or a bad certificate is therefore
reported after 3.5–7 s.

**Timeouts.** The driver has none by default, and switches off httpx's. ``TypedDriver``'s
``default_options`` (``mattermostautodriver/driver/base.py``) has ``"request_timeout":
None``; ``BaseClient._build_request`` (``mattermostautodriver/client.py``) passes it on
every call as ``timeout=self.request_timeout``, and httpx reads an explicit
``timeout=None`` as "no timeout" (``httpx/_client.py``: "Including ``timeout=None`` will
ensure no timeout is used"), in place of the 5 s its ``httpx.Client`` would otherwise use
(``DEFAULT_TIMEOUT_CONFIG = Timeout(timeout=5.0)``, ``httpx/_config.py``; the driver
creates its ``httpx.Client`` without a ``timeout``). So a server that accepts the
connection and says nothing is waited for forever. The driver's ``timeout`` option
(default 30) is the websocket's heartbeat interval (``mattermostautodriver/websocket.py``),
not an HTTP timeout. The adapter sets no timeout and has **no deadline of its own**: it
calls the driver and waits for it; when the suite's deadline passes first, the suite
kills the adapter (its own process group, ``SIGKILL``) and reports a credential without
a timeout — the driver's behaviour, as its users get it. Nothing is left running: no
thread or process outlives a request. ``MM_CONFORMANCE_AUTODRIVER_TIMEOUT=<seconds>``
(unset by default) passes ``request_timeout=<seconds>`` to the driver: what a user who
configures a timeout gets — httpx's ``Timeout(<seconds>)``, that long each to connect,
to write, between two reads and to get a pooled connection (``httpx.TimeoutException``
→ ``timeout``). The retries above still apply: a GET to a silent server then answers
after 4 × the timeout plus 3.5–7 s of back-off; a POST (not retried) after one timeout.

A base URL the mapping cannot express is a ``config`` error, raised before the driver
is created: not a string, whitespace or control characters, no ``http://`` /
``https://`` scheme, no host, a bad port, a ``user:password@``, a path, a query or a
fragment. Trailing slashes are dropped by the mapping (``https://host//`` is the site
root). Nothing else is checked here.

**Token without login().** ``TypedDriver.login()`` with a ``token`` option does
``client.token = options['token']`` and ``users.get_user('me')``; the adapter sets
``client.token`` itself and never calls ``login()`` or ``init_websocket()`` (both are
replaced on the instance by a function that raises). ``client.auth_header()`` sends
``Authorization: Bearer <token>``, and no header at all for an empty token.

**Operations.** ``test`` is ``driver.users.get_user('me')`` (``GET /api/v4/users/me``
through ``Client.get``, which returns the parsed JSON when the answer's Content-Type is
exactly ``application/json`` and the raw ``httpx.Response`` otherwise — so a 200 web
page is returned as success). ``request`` is ``driver.client.make_request(method.lower(),
'/api/v4/' + endpoint, options=body, params=query)``, the driver's generic call, with
the method in lower case as every generated endpoint method passes it: the driver picks
the httpx method case-insensitively but attaches the body only when the method is
exactly ``"post"`` or ``"put"`` (``make_request("POST", …)`` sends an empty POST — a
driver quirk the adapter does not hand on). The driver drops ``None`` values from
``params`` and from a dict body, sends the body as JSON only for POST and PUT (``{}``
for a dict whose values were all ``None``; a body on DELETE is dropped), and sends
every method other than POST/PUT/DELETE/HEAD (PATCH, …) as GET.

**Observation and classification.** The driver raises its own exceptions for error
statuses (``mattermostautodriver.exceptions``: ``NoAccessTokenProvided`` for 401,
``NotEnoughPermissions`` for 403, … carrying the body's message and id; or
``InvalidMattermostError`` with the text when the body is not Mattermost's error
JSON). To report the status and body the server actually sent, the adapter adds an
httpx ``response`` event hook to the driver's ``httpx.Client`` that keeps the last
response of the call; it changes nothing. httpx does not follow redirects (the
driver does not ask it to), so a 3xx is raised by ``raise_for_status`` and reported
as ``http`` with its status. 2xx returned: ok. 401/403: ``auth``. Any other status, or
the driver failing on an answer it received: ``http``. No response: an
``ssl.SSLError`` in the cause chain → ``tls``; ``httpx.TimeoutException`` →
``timeout``; other ``httpx.TransportError`` → ``network``, except
``LocalProtocolError``/``UnsupportedProtocol`` (httpx refused to send) → ``config``;
``httpx.InvalidURL``, ``ValueError``/``TypeError`` while building → ``config``.
"""

from __future__ import annotations

import functools
import logging
import ssl
import sys
from dataclasses import dataclass, field
from typing import Any

import httpx

from mm_conformance.protocol.adapters.driver_common import (
    MappingError,
    serve_driver,
    server_message,
    site_of,
    tls_error_in,
    token_of,
    verifies,
)
from mm_conformance.protocol.adapters.driver_common import configured_timeout_s as configured_timeout
from mm_conformance.protocol.wire import ApiRequest, Credential, ErrorKind, Outcome
from mm_conformance.redact import one_line

log = logging.getLogger("mm_conformance.protocol.adapters.mattermostautodriver")

TIMEOUT_ENV = "MM_CONFORMANCE_AUTODRIVER_TIMEOUT"


# --- the mapping ------------------------------------------------------------------


def driver_options(credential: Credential, ca_file: str | None) -> dict[str, Any]:
    """The ``mattermostautodriver.TypedDriver`` options for a credential (see the module docstring)."""
    site, token = site_of(credential), token_of(credential)
    if site.path.strip("/"):
        raise MappingError(
            f"baseUrl {credential.base_url!r} has a path ({site.path!r}); the driver has no option for a path: "
            "it requests {scheme}://{url}:{port}/api/v4/… (mattermostautodriver 11 removed basepath)"
        )
    verify: bool | ssl.SSLContext = (_context_with(ca_file) if ca_file else True) if verifies(credential) else False
    options: dict[str, Any] = {
        "scheme": site.scheme,
        "url": site.url,
        "port": site.port,
        "token": token,
        "verify": verify,
    }
    timeout_s = configured_timeout_s()
    if timeout_s is not None:  # else the driver's default: request_timeout=None, no timeout
        options["request_timeout"] = timeout_s
    return options


def _context_with(ca_file: str) -> ssl.SSLContext:
    """httpx's default verifying context (what ``verify=True`` builds) plus the roots in ``ca_file``."""
    try:
        with open(ca_file, encoding="ascii") as f:
            pem = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise MappingError(f"caFile {ca_file!r} cannot be read: {e}") from None
    context = httpx.create_ssl_context(verify=True)
    try:
        context.load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError) as e:
        raise MappingError(f"caFile {ca_file!r} holds no usable certificate: {e}") from None
    return context


@functools.cache  # the environment is read once: a bad value is reported once
def configured_timeout_s() -> float | None:
    """``request_timeout`` as a user configured it (``MM_CONFORMANCE_AUTODRIVER_TIMEOUT``), or None: the
    driver's default."""
    return configured_timeout(TIMEOUT_ENV, log)


# --- the driver, watched ------------------------------------------------------------------


@dataclass
class Watch:
    """What one call observed: every response the driver's httpx client received, last one last."""

    responses: list[httpx.Response] = field(default_factory=list)

    @property
    def response(self) -> httpx.Response | None:
        return self.responses[-1] if self.responses else None


def _forbidden(name: str):
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the adapter must never call TypedDriver.{name}()")

    return refuse


def new_driver(options: dict[str, Any], watch: Watch):
    from mattermostautodriver import TypedDriver  # imported here: a missing driver fails the first request, loudly

    driver = TypedDriver(options)
    driver.login = _forbidden("login")
    driver.init_websocket = _forbidden("init_websocket")
    driver.client.token = options["token"]  # what login() does with a token, and all later calls need
    driver.client.client.event_hooks["response"].append(watch.responses.append)  # observation only
    return driver


# --- the call ------------------------------------------------------------------------------


def call(operation: str, credential: Credential, ca_file: str | None, request: ApiRequest | None) -> Outcome:
    """Run the driver and report what it did, however long it takes (no deadline of the adapter's)."""
    try:
        options = driver_options(credential, ca_file)
    except MappingError as e:
        return Outcome.failure(ErrorKind.CONFIG, one_line(str(e), 400))
    from mattermostautodriver.exceptions import InvalidMattermostError, MattermostError

    watch = Watch()
    driver = new_driver(options, watch)
    try:
        if operation == "test":
            driver.users.get_user("me")
        elif operation == "request" and request is not None:
            endpoint = "/api/v4/" + request.endpoint.lstrip("/")
            method = request.method.lower()  # the driver's convention (see the module docstring)
            driver.client.make_request(method, endpoint, options=request.body, params=request.query)
        else:
            return Outcome.failure(ErrorKind.CONFIG, f"unknown operation {operation!r}")
    except (MattermostError, InvalidMattermostError) as e:  # before httpx.HTTPError: MattermostError is one
        return _answered(watch, f"{type(e).__name__}: {e}", getattr(e, "error_id", None))
    except (httpx.LocalProtocolError, httpx.UnsupportedProtocol) as e:  # httpx refused to send it
        return Outcome.failure(ErrorKind.CONFIG, one_line(f"the driver cannot send it: {_describe(e)}", 400))
    except httpx.TransportError as e:
        if tls_error_in(e):
            return Outcome.failure(ErrorKind.TLS, one_line(f"TLS failed: {_describe(e)}", 400))
        if isinstance(e, httpx.TimeoutException):
            return Outcome.failure(ErrorKind.TIMEOUT, one_line(f"timed out: {_describe(e)}", 400))
        return Outcome.failure(ErrorKind.NETWORK, one_line(_describe(e), 400))
    except (httpx.InvalidURL, UnicodeEncodeError) as e:
        return Outcome.failure(ErrorKind.CONFIG, one_line(f"the driver cannot send it: {_describe(e)}", 400))
    except Exception as e:  # noqa: BLE001 - the driver failed: on an answer it received, or while building
        if watch.response is not None:
            return _answered(watch, f"the driver failed on the answer: {_describe(e)}", None, crashed=True)
        if isinstance(e, (ValueError, TypeError, KeyError)):
            return Outcome.failure(ErrorKind.CONFIG, one_line(f"the driver cannot send it: {_describe(e)}", 400))
        raise
    finally:
        driver.close()
    response = watch.response
    if response is None:  # cannot happen with mattermostautodriver 11.11.1; a change of the driver would
        raise RuntimeError("the driver returned without a response being observed")
    return _answered(watch, None, None)


def _answered(watch: Watch, driver_message: str | None, error_id: str | None, crashed: bool = False) -> Outcome:
    response = watch.response
    if response is None:  # an error status is only raised after a response
        return Outcome.failure(ErrorKind.HTTP, one_line(driver_message or "no response", 400))
    status = response.status_code
    body = _json_body(response)
    if 200 <= status < 300 and not crashed and driver_message is None:
        return Outcome.success(status, body)
    kind = ErrorKind.AUTH if status in (401, 403) else ErrorKind.HTTP
    message = server_message(body) or driver_message or f"HTTP {status} {response.reason_phrase or ''}".rstrip()
    if crashed and driver_message:
        message = f"HTTP {status}: {driver_message}"
    if 300 <= status < 400:
        target = response.headers.get("location", "nowhere")
        message = f"HTTP {status} (redirect to {target}) not followed by the driver"
    return Outcome.failure(kind, one_line(message, 400), status=status, body=body)


# --- the adapter loop -------------------------------------------------------------------


def main() -> int:
    # The driver's own loggers ("mattermostautodriver.websocket", which client.py uses too, and
    # "mattermostautodriver.api") set their level themselves when imported: every retry
    # ("Received ConnectError(…) - retrying in 1.5 seconds") and error message lands in stderr,
    # through the redacting handler. That is the log of what the driver did; it is kept.
    return serve_driver(call, log, name="mattermostautodriver", timeout_s=configured_timeout_s(),
                        timeout_variable=TIMEOUT_ENV)


# --- helpers ------------------------------------------------------------------------------


def _json_body(response: httpx.Response) -> object:
    if "json" not in response.headers.get("content-type", "").lower():
        return None
    try:
        response.read()
        return response.json()
    except (ValueError, httpx.HTTPError):
        return None


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
