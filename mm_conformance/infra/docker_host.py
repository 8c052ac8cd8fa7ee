"""Where the containers the suite starts are published, and how the suite and implementations reach them.

One place decides it, and everything that publishes a port, builds a URL to a container,
issues a certificate or names "another host" asks :func:`docker_host`:

- **the address**: every container port the suite publishes is bound to it, and only to it
  (docker-py's ``(address, None)``: a free port of that one address), and is reached there;
- **another name** of the same host: the redirects "to another host" point at it, another
  origin (RFC 6454) that reaches the same recorder;
- **the names certificates carry**: both, and ``127.0.0.1`` and ``localhost``, where the
  suite's own listeners (:mod:`~mm_conformance.infra.silent`) serve the same certificate.

How it is decided, the first that applies (the rules testcontainers follows for its own
``get_container_host_ip`` in its ``docker_host`` mode, which the suite sets):

=====================================================  ======================  ==============
the Docker engine                                      address                 another name
=====================================================  ======================  ==============
``TC_HOST`` / ``TESTCONTAINERS_HOST_OVERRIDE`` set      that host's address     that name
an engine over the network: ``DOCKER_HOST``            the host's address      the host's name
(``tcp://docker:2375``, ``ssh://…``), ``tc.host`` in
``~/.testcontainers.properties``, a Docker context
a local engine (a unix socket), also in a container    ``127.0.0.1``           ``localhost``
=====================================================  ======================  ==============

A host given by its address alone (``tcp://10.0.0.5:2375``) has no other name, unless it is
loopback (``localhost``): the redirects to another host then say, in one line, to name it.

Inside a container (``/.dockerenv``) with a local socket, testcontainers would guess the
bridge's gateway, or the container's own network; the suite keeps 127.0.0.1, where a
dockerd in the job's own network namespace (this project's CI) publishes. A job whose
container does not share the engine's network (the socket mounted in) says where it
reaches the engine's host: ``TESTCONTAINERS_HOST_OVERRIDE=172.17.0.1`` (its gateway), and
the suite binds there, not on every interface.

>>> decide({}, None)
DockerHost(address='127.0.0.1', other_name='localhost', said_by='a local engine')
>>> decide({}, "tcp://10.0.0.5:2375").url("https", 8443)
'https://10.0.0.5:8443'
>>> decide({}, "tcp://docker:2375", resolve=lambda name: "172.17.0.3")
DockerHost(address='172.17.0.3', other_name='docker', said_by='DOCKER_HOST=tcp://docker:2375')
"""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from testcontainers.core.config import ConnectionMode, testcontainers_config
from testcontainers.core.docker_client import get_docker_host

from mm_conformance.errors import InfrastructureError

#: The engine's own machine, on a local engine: the loopback address and its name.
LOOPBACK, LOOPBACK_NAME = "127.0.0.1", "localhost"
#: Schemes of an engine reached over the network (``DOCKER_HOST``); unix sockets and Windows pipes are local.
_NETWORK_SCHEMES = ("tcp", "http", "https", "ssh")


@dataclass(frozen=True)
class DockerHost:
    """Where the suite's containers are published: an address, another name for it, and why."""

    #: An IP address: every published port is bound to it, and reached there.
    address: str
    #: Another name of the same host (None: there is none; a host given by its address alone).
    other_name: str | None
    #: What decided it, for messages: ``a local engine``, ``DOCKER_HOST=tcp://docker:2375``, …
    said_by: str

    def url(self, scheme: str, port: int | str, *, by_other_name: bool = False) -> str:
        """``scheme://address:port`` (no trailing slash); ``by_other_name``: the host's other name instead."""
        return f"{scheme}://{self.host_in_url(by_other_name=by_other_name)}:{port}"

    def host_in_url(self, *, by_other_name: bool = False) -> str:
        """The address as a URL spells it (an IPv6 one in brackets), or the other name."""
        if by_other_name:
            return self.another_name()
        return f"[{self.address}]" if ":" in self.address else self.address

    def another_name(self) -> str:
        """The other name; an InfrastructureError, saying how to give one, when the host has none."""
        if self.other_name is None:
            raise InfrastructureError(
                f"the Docker host {self.address} ({self.said_by}) has no other name for the redirects to another "
                "host: name it in DOCKER_HOST (tcp://NAME:PORT) or TESTCONTAINERS_HOST_OVERRIDE, a name that "
                f"resolves to {self.address}")
        return self.other_name

    def reaches(self, url: str) -> bool:
        """Whether ``url`` is on this host (a server recorded under another ``DOCKER_HOST`` is not)."""
        return urlsplit(url).hostname in (self.address, self.other_name)

    def port_binding(self) -> tuple[str, None]:
        """docker-py's binding of a published port: a free port of :attr:`address`, and of it only."""
        return (self.address, None)

    @property
    def certificate_names(self) -> tuple[str, ...]:
        """What the suite's certificates are issued for: this host's address and name, then loopback's
        (the suite's own listeners); on a local engine ``('127.0.0.1', 'localhost')``."""
        names = (self.address, self.other_name, LOOPBACK_NAME, LOOPBACK)
        return tuple(dict.fromkeys(name for name in names if name is not None))


def decide(environ: Mapping[str, str], endpoint: str | None,
           resolve: Callable[[str], str] | None = None) -> DockerHost:
    """Where containers are published, for the environment ``environ`` and the engine at ``endpoint``
    (a ``DOCKER_HOST`` value; None: the local socket). ``resolve`` turns a name into an address
    (default: the resolver's first IPv4 address, else IPv6); a name that does not resolve is an
    InfrastructureError."""
    # testcontainers' own precedence (testcontainers.core.config): TC_HOST over the long name.
    override = environ.get("TC_HOST", environ.get("TESTCONTAINERS_HOST_OVERRIDE"))
    if override:
        variable = "TC_HOST" if environ.get("TC_HOST") else "TESTCONTAINERS_HOST_OVERRIDE"
        return _named(override, f"{variable}={override}", resolve or _resolve)
    parts = urlsplit(endpoint or "")
    if parts.scheme in _NETWORK_SCHEMES and parts.hostname:
        return _named(parts.hostname, f"DOCKER_HOST={endpoint}", resolve or _resolve)
    return DockerHost(LOOPBACK, LOOPBACK_NAME, "a local engine")


def _named(host: str, said_by: str, resolve: Callable[[str], str]) -> DockerHost:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:  # a name: its address is where ports are bound, the name is the other one
        return DockerHost(resolve(host), host.lower(), said_by)
    return DockerHost(str(address), LOOPBACK_NAME if address.is_loopback else None, said_by)


def _resolve(name: str) -> str:
    try:
        found = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except OSError as error:
        raise InfrastructureError(f"the Docker host {name} does not resolve: {error}") from None
    ipv4 = [info[4][0] for info in found if info[0] == socket.AF_INET]
    return str(ipv4[0] if ipv4 else found[0][4][0])


@functools.cache
def docker_host() -> DockerHost:
    """The Docker host of this process, decided once (see the module docstring)."""
    return decide(os.environ, get_docker_host())


def engine_endpoint() -> str | None:
    """The engine's address when it is reached over the network (``tcp://docker:2375``); None for a local one."""
    endpoint = get_docker_host()
    return endpoint if urlsplit(endpoint or "").scheme in _NETWORK_SCHEMES else None


def reach_containers_where_published() -> None:
    """Make testcontainers reach every container where the suite publishes it.

    Its ``docker_host`` connection mode, on the host the suite decides: inside a container
    (``/.dockerenv``) it would otherwise pick its ``gateway_ip`` mode and probe
    ``172.x.0.1:<port>``, while a local engine's ports are published on loopback only, and
    every wait would time out. On a local engine the host is 127.0.0.1; on one over the
    network, the host ``DOCKER_HOST`` names (no lookup yet: testcontainers resolves the name
    itself, to the same address). Ryuk, testcontainers' reaper, would have to be pulled from a
    registry; the suite removes what it starts itself. Settings the user made are left alone.
    """
    if not os.environ.get("TESTCONTAINERS_CONNECTION_MODE"):
        testcontainers_config.connection_mode_override = ConnectionMode.docker_host
    if not (os.environ.get("TC_HOST") or os.environ.get("TESTCONTAINERS_HOST_OVERRIDE")):
        remote = engine_endpoint()
        testcontainers_config.tc_host_override = urlsplit(remote).hostname if remote else LOOPBACK
    if not os.environ.get("TESTCONTAINERS_RYUK_DISABLED"):
        testcontainers_config.ryuk_disabled = True
