"""What the suite's nginx containers have in common: the image's contract, the configuration, the access logs.

The TLS proxy (:mod:`~mm_conformance.infra.proxy`) and the redirect endpoints
(:mod:`~mm_conformance.infra.redirects`) are each an :class:`NginxContainer`: named
listeners published on the Docker host's address only (127.0.0.1 on a local engine:
:mod:`~mm_conformance.infra.docker_host`), a configuration rendered from a template of
``mm_conformance/infra/templates/`` (all extend ``nginx.conf.j2``), and an access log
per listener read through :class:`AccessLogs`.

**Proof that a token never got through.** Each log line says only *whether* the request
carried a credential in any way Mattermost accepts one (``Authorization`` header,
``access_token`` query parameter, ``MMAUTHTOKEN`` cookie), never its value: nginx maps
the three to ``present`` or ``absent`` before logging (the ``mmc_case`` log format of
``nginx.conf.j2``). A line ends ``credentials=present|absent upstream=… query=…``: the
query string as it arrived (``-`` for none), ``withheld`` when it holds a token.

**The image.** The official ``nginx`` image where a registry answers, the suite's own
Debian-built ``mm-conformance/nginx:bookworm`` where none does, or whichever
``--nginx-image`` names (:mod:`~mm_conformance.infra.support`). The suite relies on these
parts of the official image's contract, and on nothing else
(``tests/test_official_images.py`` checks each, on an image made to keep exactly these):

1. **Configuration.** nginx reads ``/etc/nginx/nginx.conf``: the image's command gives no
   ``-c``. The suite writes a complete one there, with the certificates in
   ``/etc/nginx/mm-conformance/``, after the container is created and before it starts
   (nothing is mounted). It includes nothing: not ``conf.d/`` (the official image's server
   on port 80 never starts), not ``mime.types``, not a ``user``.
2. **Entrypoint and command.** The image's own run nginx in the foreground, its master as
   root (it opens the ports, reads keys only root may read, writes the logs); its workers
   run as the user that nginx was built with (official: ``nginx``; Debian's: ``nobody``).
   The official entrypoint's scripts (``/docker-entrypoint.d/``) change only
   ``conf.d/default.conf`` and templates, unless an ``NGINX_ENTRYPOINT_*`` variable is set:
   the suite sets none.
3. **Modules.** http with ssl (TLS 1.2 and 1.3), map, proxy (HTTP/1.1 and keep-alive to the
   upstream), return, alias and stub_status: the official build has them, and Debian's
   nginx-light.
4. **Logs.** ``/var/log/nginx`` exists: each listener's access log is ``<listener>.log``
   there, which the workers read back on the log listener (nginx makes log files readable
   to all) — never ``access.log`` or ``error.log``, which the official image links to the
   container's output. The error log goes to stderr (the configuration says so).
5. **Paths.** The master may write ``/run/nginx.pid``; the ports are the configuration's
   (8399, 8443 and up, 9443 and up), never the image's ``EXPOSE``.

Not relied on: the image's own configuration, its user names, its stop signal (the suite
removes its nginx containers by force), a health check.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import httpx
import jinja2
from docker.errors import NotFound
from testcontainers.core.container import DockerContainer

from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.containers import PublishedPorts, suite_labels
from mm_conformance.infra.docker_host import docker_host
from mm_conformance.infra.engine import engine
from mm_conformance.infra.images import NGINX_IMAGE

#: Where certificates and keys are copied in the container.
CONFIG_DIR = "/etc/nginx/mm-conformance"
#: Where each listener writes its access log, ``<name>.log``.
LOG_DIR = "/var/log/nginx"
#: The container port of the listener the suite reads access logs through (:class:`AccessLogs`).
LOG_LISTENER_PORT = 8399
#: What a log line of ``mmc_case`` holds when the request carried a credential.
CREDENTIAL_PRESENT = "credentials=present"
#: A listener's name is a file name and an nginx word: lower-case letters, digits and dashes.
SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")

_TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("mm_conformance.infra", "templates"),
                                undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                keep_trailing_newline=True, autoescape=False)


def render(template: str, **context: Any) -> str:
    """The nginx.conf that ``template`` makes of ``context`` (the directories and ports above included)."""
    return _TEMPLATES.get_template(template).render(config_dir=CONFIG_DIR, log_dir=LOG_DIR,
                                                     log_listener_port=LOG_LISTENER_PORT, **context)


class NginxContainer(DockerContainer):
    """The suite's nginx image with listeners published on the Docker host, its access logs, and the
    configuration of :meth:`nginx_conf` written in just before the container is created.

    :meth:`stop` can be called any number of times, also before :meth:`start` or after it failed.
    """

    def __init__(self, role: str, described: str, image: str = NGINX_IMAGE, **kwargs: Any) -> None:
        super().__init__(image, labels=suite_labels(role), **kwargs)
        self.role = role
        #: How messages name it ("TLS proxy", "redirects nginx").
        self.described = described
        self.logs = AccessLogs(self, described)
        self.published = PublishedPorts(self)

    def adopt(self, container_id: str) -> NginxContainer:
        """Use the running container ``container_id``, made from this same configuration by another
        process (see infra.shared_extras), instead of starting one."""
        self._container = engine().containers.get(container_id)
        return self

    def publish(self, port: int) -> None:
        """Publish container port ``port`` on a free port of the Docker host's address, and of it only."""
        self.ports[f"{port}/tcp"] = docker_host().port_binding()  # type: ignore[assignment]  # docker-py takes (address, port); typed as int

    def nginx_conf(self) -> str:
        """The complete nginx.conf this container runs (for reading and for failure reports)."""
        raise NotImplementedError

    def _configure(self) -> None:
        # Called by start() just before the container is created: everything the configuration needs is known.
        self.with_copy_into_container(self.nginx_conf().encode(), "/etc/nginx/nginx.conf")

    def stop(self, force: bool = True, delete_volume: bool = True) -> None:
        self.logs.close()
        self.published.forget()
        try:
            super().stop(force, delete_volume)
        except NotFound:
            pass  # already gone: removing twice is not an error


class AccessLogs:
    """The access logs of one of the suite's nginx containers, read over its log listener.

    nginx here runs one worker, which writes a request's log line when it finishes
    the request, and counts the request as *reading* or *writing* until then
    (``stub_status``). So :meth:`lines` first waits until nginx reports no request
    in progress but its own question, then reads the log: every request that
    reached the container is in it, also one whose client answered before the
    response's last byte (an earlier read right after the answer could miss it).
    A request still in progress after ``settle_timeout_s`` is an error, never a
    count that may be short. The listener is published like the others (the Docker host's address only) and logs
    nothing itself; what it serves holds no secret (see the module docstring).
    """

    def __init__(self, container: DockerContainer, role: str, *, settle_timeout_s: float = 5.0) -> None:
        self._container = container
        self._role = role
        self._settle_timeout_s = settle_timeout_s
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()  # one question at a time: ours must be the only one in progress
        container.ports[f"{LOG_LISTENER_PORT}/tcp"] = docker_host().port_binding()  # type: ignore[assignment]  # as in publish()

    def lines(self, name: str) -> list[str]:
        """The lines of log ``name`` (a listener's), once every request nginx was serving is in it."""
        with self._lock:
            try:
                client = self._connected()
                self._wait_until_nothing_in_progress(client)
                answer = client.get(f"/mmc/logs/{name}.log")
            except httpx.HTTPError as error:
                raise InfrastructureError(f"cannot read the {self._role}'s access log {name!r}: {error}") from None
        if answer.status_code != 200:
            raise InfrastructureError(f"cannot read the {self._role}'s access log {name!r}: "
                                      f"status {answer.status_code}")
        return answer.text.splitlines()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _connected(self) -> httpx.Client:
        if self._client is None:  # kept open: a read is then one round trip, ~1 ms on loopback
            port = self._container.get_exposed_port(LOG_LISTENER_PORT)
            self._client = httpx.Client(base_url=docker_host().url("http", port), timeout=5, trust_env=False)
        return self._client

    def _wait_until_nothing_in_progress(self, client: httpx.Client) -> None:
        deadline = time.monotonic() + self._settle_timeout_s
        while True:
            status = client.get("/mmc/in-progress").text
            counts = dict(re.findall(r"(Reading|Writing): (\d+)", status))
            if len(counts) != 2:
                raise InfrastructureError(f"the {self._role} answered no request counts: {status[:80]!r}")
            in_progress = int(counts["Reading"]) + int(counts["Writing"]) - 1  # less our own question
            if in_progress <= 0:
                return
            if time.monotonic() > deadline:
                raise InfrastructureError(
                    f"the {self._role} was still serving {in_progress} request(s) {self._settle_timeout_s:.0f} s "
                    "after the implementation answered: what reached it cannot be counted")
            time.sleep(0.005)  # polling interval while nginx finishes a request
