"""The spellings of a site URL that users paste as the Base URL, by name.

Feature files name a spelling in words ("with a trailing slash"); this module
turns the words into the URL for a given site, so steps never build URLs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from mm_conformance.infra.docker_host import docker_host


def _upper_case_host(site: str) -> str:
    parts = urlsplit(site)
    host = parts.hostname or ""
    # An address has no case: for the suite's own servers, the Docker host's other name stands in
    # (localhost on a local engine), where it has one. A server given by name needs no Docker host.
    name = host.upper()
    if _is_address(host):
        where = docker_host()
        name = (where.other_name or host).upper() if host == where.address else name
    return urlunsplit(parts._replace(netloc=name + (f":{parts.port}" if parts.port else "")))


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _port_out_of_range(site: str) -> str:
    """Zeros typed after the port (its scheme's default when none is given) up to six digits:
    no TCP port is above 65535."""
    parts = urlsplit(site)
    port = str(parts.port or (443 if parts.scheme == "https" else 80))
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port.ljust(6, '0')}"))


_SPELLINGS: dict[str, Callable[[str], str]] = {
    "as the browser shows it": lambda site: site,
    "with a trailing slash": lambda site: f"{site}/",
    "with two trailing slashes": lambda site: f"{site}//",
    "with an upper-case scheme": lambda site: site.replace("http://", "HTTP://", 1).replace("https://", "HTTPS://", 1),
    "with an upper-case host name": _upper_case_host,
    "without a scheme": lambda site: site.split("://", 1)[1],
    "left empty": lambda site: "",
    "with an ftp scheme": lambda site: "ftp://" + site.split("://", 1)[1],
    "with a port out of range": _port_out_of_range,
    "with a query string": lambda site: f"{site}/?team=sales",
    "with a fragment": lambda site: f"{site}/#/login",
    "with a leading space": lambda site: f" {site}",
    "with a trailing space": lambda site: f"{site} ",
    "with /api/v4 pasted": lambda site: f"{site}/api/v4",
    "with /api/v4/ pasted": lambda site: f"{site}/api/v4/",
    "with a path the server does not serve": lambda site: f"{site}/chat",
    "without its subpath": lambda site: site.rsplit("/", 1)[0] if site.count("/") > 2 else site,
}


def spell(site_url: str, form: str) -> str:
    """The Base URL a user would enter for ``site_url``, spelled as ``form`` says."""
    try:
        return _SPELLINGS[form](site_url.rstrip("/"))
    except KeyError:
        raise ValueError(f"unknown Base URL spelling {form!r}; known: {', '.join(_SPELLINGS)}") from None
