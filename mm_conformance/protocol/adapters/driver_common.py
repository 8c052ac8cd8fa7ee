"""What the two Python drivers' adapters share: the credential taken apart into a driver's options,
and the reading of what came back.

``mattermostdriver`` and ``mattermostautodriver`` both want scheme, host and port
as separate options and have no option for a user name, a query or a fragment; each
adapter then adds what is its driver's own (a base path, a TLS setting, its HTTP
library's objects). A value they cannot express is a :class:`MappingError`: the
adapter answers ``config`` before the driver is even created.
"""

from __future__ import annotations

import logging
import os
import re
import ssl
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

from mm_conformance.protocol.wire import Credential, serve
from mm_conformance.redact import RedactingFilter

_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")


class MappingError(ValueError):
    """The credential cannot be expressed in the driver's options."""


@dataclass(frozen=True)
class Site:
    """A Base URL as a driver takes it: ``{scheme}://{url}:{port}{path}``."""

    scheme: str
    url: str  # the host, an IPv6 address in brackets (the drivers write '{url}:{port}')
    port: int
    path: str  # as entered; the adapter decides what its driver can do with one


def site_of(credential: Credential) -> Site:
    """The Base URL's parts, or MappingError saying in one line why the drivers cannot take it."""
    base_url = credential.base_url
    if not isinstance(base_url, str):
        raise MappingError(f"baseUrl must be a string, not {type(base_url).__name__}")
    if _CONTROL_OR_SPACE.search(base_url):
        raise MappingError(f"baseUrl {base_url!r} contains whitespace or control characters")
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", base_url):
        raise MappingError(f"baseUrl {base_url!r} has no scheme; the driver needs scheme, host and port separately")
    parts = urlsplit(base_url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise MappingError(f"baseUrl {base_url!r} has scheme {parts.scheme!r}; the driver speaks http or https")
    if "@" in parts.netloc:
        raise MappingError("baseUrl contains a user name or password; the driver has no option for them")
    if parts.query or parts.fragment or "?" in base_url or "#" in base_url:
        raise MappingError(f"baseUrl {base_url!r} has a query or fragment; the driver has no option for them")
    host = parts.hostname
    if not host:
        raise MappingError(f"baseUrl {base_url!r} has no host")
    try:
        port = parts.port
    except ValueError:
        raise MappingError(f"baseUrl {base_url!r} has an invalid port") from None
    if port is None:
        port = 443 if scheme == "https" else 80
    return Site(scheme, f"[{host}]" if ":" in host else host, port, parts.path)


def token_of(credential: Credential) -> str:
    token = credential.access_token
    if not isinstance(token, str):
        raise MappingError(f"accessToken must be a string, not {type(token).__name__}")
    return token


def verifies(credential: Credential) -> bool:
    """Whether certificates are verified (Ignore SSL Issues off); MappingError for anything but a boolean."""
    if credential.allow_unauthorized_certs is True:
        return False
    if credential.allow_unauthorized_certs is False:
        return True
    raise MappingError("allowUnauthorizedCerts must be true or false")


def configured_timeout_s(variable: str, log: logging.Logger) -> float | None:
    """The driver's ``request_timeout`` as a user configured it in ``variable``, or None: the driver's default."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        log.warning("ignoring %s=%r (not a positive number of seconds): the driver's default applies", variable, raw)
        return None
    return seconds


def server_message(body: object) -> str | None:
    """Mattermost's own words from an error body: ``message (id)``."""
    if isinstance(body, dict):
        message, error_id = body.get("message"), body.get("id")
        if isinstance(message, str) and message:
            return f"{message} ({error_id})" if isinstance(error_id, str) and error_id else message
    return None


def tls_error_in(error: BaseException, *, tls_errors: tuple[type[BaseException], ...] = (ssl.SSLError,)) -> bool:
    """Whether a TLS error is anywhere in what caused ``error``: causes, contexts, arguments and ``reason``s."""
    seen: set[int] = set()
    stack: list[BaseException] = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, tls_errors):
            return True
        reason = getattr(current, "reason", None)
        for nested in (current.__cause__, current.__context__, reason,
                       *[a for a in current.args if isinstance(a, BaseException)]):
            if isinstance(nested, BaseException):
                stack.append(nested)
    return False


def serve_driver(call, log: logging.Logger, *, name: str, timeout_s: float | None, timeout_variable: str) -> int:
    """Answer protocol v1 on stdin/stdout with ``call``; log to stderr, redacted, and say which timeout applies."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter(f"{name}-adapter: %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    log.setLevel(logging.INFO)
    log.info("request_timeout: %s", "the driver's default (None: no timeout)" if timeout_s is None
             else f"{timeout_s:g} s ({timeout_variable})")
    return serve(call, log)
