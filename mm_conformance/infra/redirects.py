"""Base URLs that answer with a redirect, and a recorder that shows what followed it.

A credential's token is meant for the Mattermost the user entered. When that URL
answers ``307 Temporary Redirect`` to somewhere else, a conforming credential
may report the redirect or follow it, but never with the token. Each listener
here is one such redirect::

    redirects = RedirectEndpoints(cases["trusted"])
    with redirects:
        base_url = redirects.url("to-another-host")        # https://127.0.0.1:<port>/ (a local engine)
        ...                                                # the credential requests users/me
        assert redirects.credentials_passed("to-another-host") == 0

=================================  ===============================================================
listener                           answers every request with
=================================  ===============================================================
to-another-host                    ``307 Location: https://localhost:<port><same path and query>``:
                                   another host name and port: another origin, even on one machine
to-another-host-on-the-same-port   ``307 Location: https://localhost:<its own port>…``: the host
                                   name alone differs (RFC 6454: another origin)
to-another-port-on-the-same-host   ``307 Location: https://127.0.0.1:<port>…``: the port alone
                                   differs (another origin, although the host is the same)
to-plain-http                      ``307 Location: http://127.0.0.1:<port>…``: a downgrade, where
                                   anyone on the path reads the token
with-a-301-to-another-host, …      the same as to-another-host with 301, 302, 303 (most clients
                                   turn a POST into a GET) and 308 (method and body are kept)
=================================  ===============================================================

The hosts are the Docker host's (:mod:`~mm_conformance.infra.docker_host`): its address where the
table says 127.0.0.1, its other name where it says localhost, as on a local engine; with
``DOCKER_HOST=tcp://docker:2375``, the address ``docker`` resolves to, and ``docker``.

A listener's name is the phrase scenarios use ("redirects to another host",
"redirects with a 308 to another host"), with dashes. The redirecting listeners serve
the given certificate (the ``trusted`` case, so a strict credential with the suite's CA accepts them): the scenario then
observes the redirect, not a TLS refusal. The query string is kept, as a real
``return 301 https://…$request_uri`` does: a token sent as ``access_token`` follows
a redirect whatever the client does with its headers.

**The recorder** is where every redirect points: one listener per redirect (HTTPS
with the same certificate, which also covers ``localhost``; or plain HTTP), each
answering ``/api/v4/…`` with ``200`` and :data:`TARGET_USER` and logging, like the
TLS proxy (see :mod:`~mm_conformance.infra.nginx`), only the method and
*whether* a request carried a credential — ``Authorization`` header,
``access_token`` query parameter or ``MMAUTHTOKEN`` cookie — never its value. The
same-port redirect cannot point at another container: its redirecting listener
answers for ``localhost`` itself, as its own recorder (the ``Location`` takes the
port from the ``Host`` the client sent, the one Docker published).

**Why two containers.** A ``Location`` must name the recorder's port as this
machine sees it, and Docker picks published ports only when a container starts.
So the recorder starts first, in its own container; the redirecting nginx is
then configured with the recorder's published ports and started. (Choosing free
ports beforehand would race with every other process on the machine; reloading
one nginx with a rewritten configuration would need a second readiness check.)
:class:`RedirectEndpoints` owns both: ``start`` starts both, ``stop`` removes both,
also when the second fails to start.

Every listener is published on the Docker host's address only, and answers
``/.mm-conformance-ready`` with ``204`` without logging it: the readiness probe
never shows up as a request. The configurations are ``templates/redirects.conf.j2``
and ``templates/redirect-target.conf.j2``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from testcontainers.core.waiting_utils import WaitStrategy

from mm_conformance.infra.certificates import CertificateCase
from mm_conformance.infra.containers import raise_if_exited
from mm_conformance.infra.docker_host import docker_host
from mm_conformance.infra.images import NGINX_IMAGE
from mm_conformance.infra.nginx import CONFIG_DIR, CREDENTIAL_PRESENT, SAFE_NAME, NginxContainer, render

#: The redirect's usual status: temporary, and the method and body are kept (RFC 9110, 15.4.8).
STATUS = 307
#: The JSON user the recorder answers ``/api/v4/…`` with; a credential that follows a
#: redirect sees a success, so only the recorder's log tells what arrived.
TARGET_USER = {"id": "redirect-target", "username": "redirect-target"}
#: The path of the readiness probe; never logged, never redirected.
READY_PATH = "/.mm-conformance-ready"

#: Container ports: redirecting listeners from 8443, the recorder's from 9443, in order.
_FIRST_REDIRECT_PORT = 8443
_FIRST_TARGET_PORT = 9443
#: The log of what reached a same-port redirect's target host, beside the redirecting listener's own.
_TARGET_LOG_SUFFIX = "-target"


@dataclass(frozen=True)
class Redirect:
    """One redirecting listener and where its ``Location`` points (why it is wrong: module docstring)."""

    name: str
    scheme: str  #: of the target: "https" or "http"
    #: The ``Location`` names the Docker host by its other name (``localhost``), not by its address.
    another_host: bool
    status: int = STATUS
    #: The ``Location`` keeps the redirecting listener's own port (the listener records for ``host``).
    same_port: bool = False

    @property
    def host(self) -> str:
        """The host the ``Location`` names, as a URL spells it (the recorder answers on the address either way)."""
        return docker_host().host_in_url(by_other_name=self.another_host)


#: The redirects every deployment offers (see the table in the module docstring).
REDIRECTS: tuple[Redirect, ...] = (
    Redirect("to-another-host", "https", another_host=True),
    Redirect("to-another-host-on-the-same-port", "https", another_host=True, same_port=True),
    Redirect("to-another-port-on-the-same-host", "https", another_host=False),
    Redirect("to-plain-http", "http", another_host=False),
    *(Redirect(f"with-a-{status}-to-another-host", "https", True, status) for status in (301, 302, 303, 308)),
)


def listener_for(phrase: str) -> str:
    """The listener a scenario means: "to another host" is ``to-another-host``."""
    return "-".join(phrase.split())


class _Listening(NginxContainer):
    """nginx with named listeners and a ready probe on each.

    ``listeners`` maps a name to (container port, TLS or not).
    """

    def __init__(self, image: str, role: str, certificate: CertificateCase, listeners: dict[str, tuple[int, bool]],
                 startup_timeout_s: int) -> None:
        super().__init__(role, f"{role} nginx", image)
        self.listeners = listeners
        for port, _tls in listeners.values():
            self.publish(port)
        self.with_copy_into_container(certificate.chain_pem, f"{CONFIG_DIR}/server.crt")
        self.with_copy_into_container(certificate.key_pem, f"{CONFIG_DIR}/server.key", mode=0o600)
        self.waiting_for(_EveryListenerAnswers().with_startup_timeout(startup_timeout_s).with_poll_interval(0.1))

    def published_port(self, name: str) -> int:
        return self.published[self._listener(name)[0]]

    def base_url(self, name: str) -> str:
        scheme = "https" if self._listener(name)[1] else "http"
        return docker_host().url(scheme, self.published_port(name)) + "/"

    def access_log(self, name: str) -> list[str]:
        """One line per request: time, method, path, status, ``credentials=present|absent``, ``upstream=-``."""
        self._listener(name)
        return self.logs.lines(name)

    def _listener(self, name: str) -> tuple[int, bool]:
        try:
            return self.listeners[name]
        except KeyError:
            raise KeyError(f"no listener {name!r}; there are {', '.join(self.listeners)}") from None

    def _template_listener(self, name: str) -> dict[str, Any]:
        port, tls = self.listeners[name]
        return {"name": name, "port": port, "tls": tls}


class _RedirectTarget(_Listening):
    """The recorder: one listener per redirect, answering and logging whether a credential came."""

    def __init__(self, certificate: CertificateCase, redirects: list[Redirect], image: str,
                 startup_timeout_s: int) -> None:
        away = [r for r in redirects if not r.same_port]  # a same-port redirect records for itself
        listeners = {r.name: (_FIRST_TARGET_PORT + i, r.scheme == "https") for i, r in enumerate(away)}
        super().__init__(image, "redirect-target", certificate, listeners, startup_timeout_s)

    def nginx_conf(self) -> str:
        return render("redirect-target.conf.j2", listeners=[self._template_listener(name) for name in self.listeners],
                      ready_path=READY_PATH, target_user=json.dumps(TARGET_USER))


class RedirectEndpoints(_Listening):
    """HTTPS listeners that answer every request with a redirect, and the recorder they point at.

    Ready when every listener of both containers answers its readiness probe.
    Start it as any testcontainers container (``with`` or ``start``/``stop``);
    :meth:`stop` removes both containers.
    """

    def __init__(self, certificate: CertificateCase, redirects: Iterable[Redirect] = REDIRECTS,
                 image: str = NGINX_IMAGE, *, startup_timeout_s: int = 30) -> None:
        super().__init__(image, "redirects", certificate, {}, startup_timeout_s)
        self._certificate = certificate
        self._startup_timeout_s = startup_timeout_s
        self.redirects: dict[str, Redirect] = {}
        self.recorder: _RedirectTarget | None = None
        for redirect in redirects:
            self.with_redirect(redirect)

    # --- builders ----------------------------------------------------------------

    def with_redirect(self, redirect: Redirect) -> RedirectEndpoints:
        """Add a redirecting listener (before starting); its target gets a recorder listener."""
        if self._container is not None:
            raise ValueError("add redirects before starting the endpoints")
        if not SAFE_NAME.match(redirect.name) or redirect.name in self.redirects:
            raise ValueError(f"redirect name {redirect.name!r} is not new, lower-case letters, digits and dashes")
        if redirect.scheme not in ("http", "https"):
            raise ValueError(f"redirect {redirect.name!r}: the target's scheme must be http or https")
        port = _FIRST_REDIRECT_PORT + len(self.redirects)
        self.redirects[redirect.name] = redirect
        self.listeners[redirect.name] = (port, True)
        self.publish(port)
        return self

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> RedirectEndpoints:
        """Start the recorder, then the redirecting nginx pointed at its published ports."""
        if not self.redirects:
            raise ValueError("RedirectEndpoints needs at least one redirect")
        for redirect in self.redirects.values():
            _ = redirect.host  # a Docker host without another name is said now, before any container starts
        self.recorder = _RedirectTarget(self._certificate, list(self.redirects.values()), self.image,
                                        self._startup_timeout_s)
        try:
            self.recorder.start()
            super().start()  # calls _configure(), which needs the recorder's ports
        except BaseException:
            self.stop()
            raise
        return self

    def adopt_both(self, container_id: str, recorder_id: str) -> RedirectEndpoints:
        """Use the running redirecting nginx and recorder (``self.recorder``) another process started."""
        self.recorder = _RedirectTarget(self._certificate, list(self.redirects.values()), self.image,
                                        self._startup_timeout_s)
        self.recorder.adopt(recorder_id)
        self.adopt(container_id)
        return self

    def stop(self, force: bool = True, delete_volume: bool = True) -> None:
        try:
            super().stop(force, delete_volume)
        finally:
            if self.recorder is not None:
                self.recorder.stop(force, delete_volume)

    # --- what tests and scenarios read -------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self.redirects)

    def url(self, name: str) -> str:
        """The Base URL that redirects: ``https://127.0.0.1:<port>/`` on a local engine."""
        return self.base_url(name)

    def target_url(self, name: str) -> str:
        """Where the redirect points (path and query are appended): e.g. ``https://localhost:<port>/``
        (an InfrastructureError where the Docker host has no other name: :mod:`~mm_conformance.infra.docker_host`)."""
        redirect = self.redirects[name]
        port = self.published_port(name) if redirect.same_port else self._recorder().published_port(name)
        return f"{redirect.scheme}://{redirect.host}:{port}/"

    def requests(self, name: str) -> int:
        """How many requests the redirecting listener answered (each with a redirect)."""
        return len(self.access_log(name))

    def requests_at_target(self, name: str) -> int:
        """How many requests reached where ``name`` redirects to, with or without a credential."""
        return len(self.target_access_log(name))

    def credentials_passed(self, name: str) -> int:
        """How many requests carrying a credential (header, query or cookie) reached ``name``'s target."""
        return sum(CREDENTIAL_PRESENT in line.split() for line in self.target_access_log(name))

    def writes_at_target(self, name: str) -> int:
        """How many requests other than GET and HEAD (a write, its body re-sent) reached ``name``'s target."""
        return sum(line.split()[1] not in ("GET", "HEAD")
                   for line in self.target_access_log(name) if len(line.split()) > 1)

    def target_access_log(self, name: str) -> list[str]:
        """The access log of where ``name`` redirects to (the recorder's listener, or for a same-port
        redirect the listener's own log of its target host)."""
        if self.redirects[name].same_port:
            self._listener(name)
            return self.logs.lines(f"{name}{_TARGET_LOG_SUFFIX}")
        return self._recorder().access_log(name)

    def nginx_conf(self) -> str:
        """The redirecting nginx's complete configuration (needs the recorder's ports: started first)."""
        return render("redirects.conf.j2", listeners=[self._redirecting(r) for r in self.redirects.values()],
                      ready_path=READY_PATH, target_user=json.dumps(TARGET_USER),
                      target_log_suffix=_TARGET_LOG_SUFFIX)

    def _redirecting(self, redirect: Redirect) -> dict[str, Any]:
        """What the template needs of one redirect; ``target`` is where it points, without the path."""
        if redirect.same_port:  # the port the client connected to, as it wrote it in Host
            target = f"{redirect.scheme}://{redirect.host}:$mmc_port_of_host"
        else:  # target_url ends with "/" and $request_uri starts with one: keep one.
            target = self.target_url(redirect.name).rstrip("/")
        return {**self._template_listener(redirect.name), "same_port": redirect.same_port, "host": redirect.host,
                "status": redirect.status, "target": target}

    def _recorder(self) -> _RedirectTarget:
        if self.recorder is None:
            raise ValueError("the redirect endpoints are not started")
        return self.recorder


class _EveryListenerAnswers(WaitStrategy):
    """Ready when every listener answers ``GET /.mm-conformance-ready`` with 204; fails at once if nginx exits.

    A bare TCP connect is not enough: Docker's port publisher accepts connections
    before nginx listens. The probe does not verify certificates (readiness is not
    what is under test) and nginx does not log it.
    """

    def wait_until_ready(self, container: Any) -> None:
        deadline = time.monotonic() + self._startup_timeout
        pending = list(container.listeners)
        with httpx.Client(verify=False, trust_env=False, timeout=2) as client:
            while pending:
                raise_if_exited(container, container.described)
                try:
                    url = container.base_url(pending[0]) + READY_PATH.lstrip("/")
                except OSError:  # TimeoutError, ConnectionError: testcontainers found no running
                    # container or no port mapping, so nginx exited after the check above.
                    # Say so, with nginx's own last words.
                    raise_if_exited(container, container.described)
                    raise
                try:
                    if client.get(url).status_code == 204:
                        pending.pop(0)
                        continue
                except httpx.HTTPError:
                    pass  # nginx not listening yet
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{container.role} listener {pending[0]!r} did not answer within "
                                       f"{self._startup_timeout:.0f} s")
                time.sleep(self._poll_interval)  # polling interval, not a fixed wait
