"""mm-conformance protocol v1 adapter for ``mattermostdriver`` (PyPI, pinned 7.3.2).

Run: ``python -m mm_conformance.protocol.adapters.mattermostdriver_adapter`` (protocol v1 on
stdin/stdout, a one-line-per-request log on stderr, tokens redacted).

The driver does not take a URL: it builds every request URL itself as
``{scheme}://{url}:{port}{basepath}{endpoint}``. This adapter maps n8n's credential
onto the driver's options; **the mapping is the adapter's, everything after it is
the driver's**:

================================  ==================================================
n8n credential                    ``mattermostdriver.Driver`` options
================================  ==================================================
``baseUrl`` scheme                ``scheme`` (``http`` or ``https``, lower-cased)
``baseUrl`` host                  ``url`` (an IPv6 address gets its ``[…]`` back)
``baseUrl`` port                  ``port``; when absent 443 for https, 80 for http
                                  (the driver's own default, 8065, is not what a
                                  URL without a port means)
``baseUrl`` path                  ``basepath`` = path without trailing ``/`` +
                                  ``/api/v4`` (a subpath deployment keeps its prefix;
                                  a pasted ``/api/v4`` is kept too, so it doubles)
``accessToken``                   ``token``, and ``driver.client.token`` (below)
``allowUnauthorizedCerts`` true   ``verify=False``
``allowUnauthorizedCerts`` false  ``verify=True``, or with ``caFile`` the path of a
                                  bundle = requests' roots (certifi) + ``caFile``
                                  (``verify=<caFile>`` alone would *replace* the
                                  roots; the protocol says "in addition")
(none)                            ``request_timeout`` is left at the driver's
                                  default, ``None``: **no timeout at all** (below);
                                  ``MM_CONFORMANCE_DRIVER_TIMEOUT`` sets it
================================  ==================================================

**Timeouts.** The driver has none by default. ``Driver.default_options`` (in
``mattermostdriver/driver.py``) has ``'request_timeout': None``, which
``Client.make_request`` (``mattermostdriver/client.py``) passes to ``requests`` as
``timeout=self.request_timeout``; ``requests`` with ``timeout=None`` waits forever, to
connect and for every read (only the operating system bounds a TCP connect that gets
no answer at all; a server that accepts the connection and says nothing is waited for
indefinitely). The driver's ``timeout`` option (default 30) is not an HTTP timeout:
it is the websocket loop's heartbeat interval (``asyncio.wait_for(…,
timeout=self.options['timeout'])`` in ``mattermostdriver/websocket.py``), and no
websocket is opened here. The adapter sets no timeout and has no deadline of its own:
a request the driver is still waiting on when the suite's deadline passes is ended by
the suite killing the adapter (its own process group, ``SIGKILL``), which the suite
reports as a credential without a timeout — the driver's behaviour, as its users get
it. ``MM_CONFORMANCE_DRIVER_TIMEOUT=<seconds>`` (unset by default) passes
``request_timeout=<seconds>`` to the driver: what a user who configures a timeout
gets (``requests`` then allows that long to connect and that long between two reads;
``requests.Timeout`` → ``timeout``).

A base URL the mapping cannot express in those options is a ``config`` error,
raised before the driver is created: not a string, whitespace or control
characters anywhere (``urlsplit`` would silently drop some), no ``http://`` /
``https://`` scheme (``mattermost.example.com``: the driver would assume https
and port 8065, which would be the adapter guessing), no host, a bad port, a
``user:password@``, a query or a fragment (the driver has no option for them).
Nothing else is checked here: trailing slashes are stripped by the mapping,
``/api/v4`` is passed through, and whatever the driver or ``requests`` then does
is the observation.

**Token without login().** ``Driver.login()`` with a ``token`` option does two
things: ``client.token = options['token']`` and ``users.get_user('me')`` (caching
the user's id and name). The adapter never calls ``login()``: it sets
``client.token`` itself, which is all ``login()`` contributes to later requests.
``login()`` and ``init_websocket()`` are replaced on each driver instance by a
function that raises, so neither can run, and no websocket is ever opened.

**Operations.** ``test`` is ``driver.users.get_user('me')``, i.e.
``GET <basepath>/users/me``: the request ``login()`` uses to check a token, so it
is the driver's own credential check (it also proves the token is accepted and
names its owner). ``request`` is ``driver.client.make_request(method, '/' +
endpoint, options=body, params=query)``, the driver's generic call: ``options``
is sent as the JSON body (``{}`` when the body is null, as the driver does for
every call), and methods other than POST/PUT/DELETE are sent as GET by the
driver.

**Observation and classification.** The driver turns 400/401/403/404/405/413/501
into its own exceptions (``mattermostdriver.exceptions.*``, subclasses of
``requests.HTTPError`` carrying only the message) and re-raises other HTTP
errors; it returns 3xx responses it did not follow. To report the status and
body the server actually sent, the adapter watches ``requests.api.request`` (the
function behind the driver's ``requests.get/post/put/delete``) and keeps the last
response; it changes nothing. 2xx: ok. 401/403: ``auth``. Any other status:
``http``. ``requests`` exceptions: ``SSLError`` (or an ``ssl.SSLError`` in the
cause chain) → ``tls``; ``Timeout`` → ``timeout``; ``ConnectionError`` →
``network``; ``InvalidURL``/``InvalidHeader``/``MissingSchema``/``InvalidSchema``
and ``ValueError``/``TypeError`` while building the request → ``config``.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import re
import sys
import tempfile
import threading
from typing import Any

import requests
import requests.api
import requests.certs

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

log = logging.getLogger("mm_conformance.protocol.adapters.mattermostdriver")

TIMEOUT_ENV = "MM_CONFORMANCE_DRIVER_TIMEOUT"
#: Temporary CA bundles are named ``<prefix><pid>-…``: see :func:`_remove_bundles_of_dead_adapters`.
_BUNDLE_PREFIX = "mm-conformance-driver-ca-"


# --- the mapping ------------------------------------------------------------------


def driver_options(credential: Credential, ca_file: str | None) -> dict[str, Any]:
    """The ``mattermostdriver.Driver`` options for a credential (see the module docstring)."""
    site, token = site_of(credential), token_of(credential)
    verify: bool | str = (_ca_bundle(ca_file) if ca_file else True) if verifies(credential) else False
    options: dict[str, Any] = {
        "scheme": site.scheme,
        "url": site.url,
        "port": site.port,
        "basepath": site.path.rstrip("/") + "/api/v4",
        "token": token,
        "verify": verify,
    }
    timeout_s = configured_timeout_s()
    if timeout_s is not None:  # else the driver's default: request_timeout=None, no timeout
        options["request_timeout"] = timeout_s
    return options


_bundles: dict[tuple[str, float], str] = {}


def _ca_bundle(ca_file: str) -> str:
    """A PEM bundle: requests' default roots followed by ``ca_file`` (cached per file version)."""
    try:
        stamp = os.stat(ca_file).st_mtime
        with open(ca_file, encoding="ascii") as f:
            extra = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise MappingError(f"caFile {ca_file!r} cannot be read: {e}") from None
    key = (ca_file, stamp)
    if key not in _bundles:
        with open(requests.certs.where(), encoding="ascii") as f:
            roots = f.read()
        handle, path = tempfile.mkstemp(prefix=f"{_BUNDLE_PREFIX}{os.getpid()}-", suffix=".pem")
        with os.fdopen(handle, "w", encoding="ascii") as f:
            f.write(roots.rstrip("\n") + "\n" + extra)
        _bundles[key] = path
        atexit.register(_remove, path)
    return _bundles[key]


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


def _remove_bundles_of_dead_adapters() -> None:
    """Remove the CA bundles of adapters that no longer run.

    A bundle is removed at exit (``atexit``), which an adapter killed with SIGKILL — the
    suite's way to end one whose driver is still waiting — never reaches.
    """
    directory = tempfile.gettempdir()
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        match = re.match(re.escape(_BUNDLE_PREFIX) + r"(\d+)-", name)
        if not match or int(match.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(match.group(1)), 0)
            continue  # still running (PermissionError: someone else's, also running)
        except ProcessLookupError:
            pass
        except OSError:
            continue
        _remove(os.path.join(directory, name))


@functools.cache  # the environment is read once: a bad value is reported once
def configured_timeout_s() -> float | None:
    """``request_timeout`` as a user configured it (``MM_CONFORMANCE_DRIVER_TIMEOUT``), or None: the
    driver's default."""
    return configured_timeout(TIMEOUT_ENV, log)


# --- watching what the server answered ------------------------------------------------

_observed = threading.local()
_original_request = requests.api.request


def _watching_request(method: str, url: str, **kwargs: Any) -> requests.Response:
    response = _original_request(method, url, **kwargs)
    _observed.response = response
    return response


# requests.get/post/… look it up at call time.
requests.api.request = _watching_request  # type: ignore[assignment]  # the stubs type its **kwargs as a TypedDict


def _forbidden(name: str):
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the adapter must never call Driver.{name}()")

    return refuse


def new_driver(options: dict[str, Any]):
    from mattermostdriver import Driver  # imported here: a missing driver fails the first request, loudly

    driver = Driver(options)
    driver.login = _forbidden("login")
    driver.init_websocket = _forbidden("init_websocket")
    driver.client.token = options["token"]  # what login() does with a token, and all later calls need
    return driver


# --- the call ------------------------------------------------------------------------------


def call(operation: str, credential: Credential, ca_file: str | None, request: ApiRequest | None) -> Outcome:
    try:
        options = driver_options(credential, ca_file)
    except MappingError as e:
        return Outcome.failure(ErrorKind.CONFIG, one_line(str(e), 400))
    driver = new_driver(options)
    _observed.response = None
    try:
        if operation == "test":
            driver.users.get_user("me")
        elif operation == "request" and request is not None:
            endpoint = "/" + request.endpoint.lstrip("/")
            driver.client.make_request(request.method, endpoint, options=request.body, params=request.query)
        else:
            return Outcome.failure(ErrorKind.CONFIG, f"unknown operation {operation!r}")
    except requests.HTTPError as e:
        response = _observed.response if _observed.response is not None else e.response
        if response is not None:
            return classify(response, str(e))
        return Outcome.failure(ErrorKind.HTTP, one_line(f"{type(e).__name__}: {e}", 400))
    except requests.exceptions.SSLError as e:
        return Outcome.failure(ErrorKind.TLS, one_line(f"TLS failed: {_describe(e)}", 400))
    except requests.exceptions.Timeout as e:  # before ConnectionError: ConnectTimeout is both
        return Outcome.failure(ErrorKind.TIMEOUT, one_line(f"timed out: {_describe(e)}", 400))
    except requests.exceptions.ConnectionError as e:
        kind = ErrorKind.TLS if tls_error_in(e) else ErrorKind.NETWORK
        return Outcome.failure(kind, one_line(_describe(e), 400))
    except requests.exceptions.InvalidHeader:
        # requests quotes the header value, i.e. the token: say what it is without it.
        return Outcome.failure(ErrorKind.CONFIG, "the driver cannot send it: the token cannot be put in an HTTP header")
    except (
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
        requests.exceptions.URLRequired,
        ValueError,
        TypeError,
    ) as e:
        return Outcome.failure(ErrorKind.CONFIG, one_line(f"the driver cannot send it: {_describe(e)}", 400))
    except requests.RequestException as e:
        return Outcome.failure(ErrorKind.NETWORK, one_line(_describe(e), 400))
    response = _observed.response
    if response is None:  # cannot happen with mattermostdriver 7.3.2; a change of the driver would
        raise RuntimeError("the driver returned without a request being observed")
    return classify(response, None)


def classify(response: requests.Response, driver_message: str | None) -> Outcome:
    status = response.status_code
    body = _json_body(response)
    if 200 <= status < 300:
        return Outcome.success(status, body)
    kind = ErrorKind.AUTH if status in (401, 403) else ErrorKind.HTTP
    message = server_message(body) or driver_message or f"HTTP {status} {response.reason or ''}".rstrip()
    if 300 <= status < 400:
        message = f"HTTP {status} (redirect to {response.headers.get('location', 'nowhere')}) returned by the driver"
    return Outcome.failure(kind, one_line(message, 400), status=status, body=body)


# --- the adapter loop -------------------------------------------------------------------


def main() -> int:
    # The driver logs every error body at ERROR; that is what the answer says already.
    logging.getLogger("mattermostdriver").setLevel(logging.CRITICAL)
    _remove_bundles_of_dead_adapters()
    return serve_driver(call, log, name="mattermostdriver", timeout_s=configured_timeout_s(),
                        timeout_variable=TIMEOUT_ENV)


# --- helpers ------------------------------------------------------------------------------


def _json_body(response: requests.Response) -> object:
    if "json" not in response.headers.get("content-type", "").lower():
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__




if __name__ == "__main__":
    sys.exit(main())
