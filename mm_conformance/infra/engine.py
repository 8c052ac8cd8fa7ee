"""The one Docker client of the suite's infrastructure: docker-py, made as testcontainers makes its own.

Everything in :mod:`mm_conformance.infra` that talks to the engine directly (images,
volumes, leftovers, health checks, pulls) goes through :func:`engine`; the containers
themselves are testcontainers classes, which use the same library underneath.
"""

from __future__ import annotations

import functools
import queue
import re
import threading
from typing import Any

from docker.errors import DockerException
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import ConnectTimeout, ReadTimeout
from testcontainers.core.docker_client import DockerClient

from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.docker_host import docker_host, engine_endpoint

#: How long a question to the engine may take before the engine counts as not answering.
ANSWER_TIMEOUT_S = 20


@functools.cache
def engine() -> Any:  # docker.DockerClient: `docker` resolves to the repository's docker/ folder under mypy
    """The Docker client, made once: each client holds a connection pool, shared by every thread."""
    return DockerClient().client


def docker_available() -> None:
    """Raise a one-line InfrastructureError when no Docker engine answers within 20 s, or when the
    Docker host it publishes on cannot be found (a name that does not resolve)."""
    remote = engine_endpoint()
    at = f" at {remote}" if remote else ""  # a local engine's messages name no address
    try:
        client = DockerClient(timeout=ANSWER_TIMEOUT_S).client
        try:
            client.version()
        finally:
            client.close()
    except (DockerException, RequestsConnectionError, ReadTimeout) as error:
        if _timed_out(error):
            raise InfrastructureError(f"the Docker engine{at} did not answer within {ANSWER_TIMEOUT_S} s") from None
        raise InfrastructureError(f"the Docker engine is not reachable{at}: {_why(error, remote)}") from None
    docker_host()


def _timed_out(error: BaseException | None) -> bool:
    """Whether ``error`` is, or wraps (docker-py asks the version as it connects), a timeout."""
    while error is not None:
        if isinstance(error, (ReadTimeout, ConnectTimeout)):
            return True
        error = error.__cause__ or error.__context__
    return False


def _why(error: Exception, remote: str | None) -> str:
    """The error in one line; for an engine over the network, only the socket's reason (``[Errno 111]
    Connection refused``) where urllib3 wraps it in a paragraph."""
    said = " ".join(str(error).split())
    reason = re.search(r"\[Errno -?\d+\][^'\")]*", said) if remote else None
    return reason.group(0).strip() if reason else said


#: How long a registry may take to give a pull its first answer (a layer, or an error) before the
#: suite counts it as not answering: a machine whose firewall drops the packets would otherwise wait
#: out the engine's own dial timeouts on every image it looks for.
REGISTRY_ANSWER_S = 15.0
#: ... and how long a pull that has begun may then go without a word (a stalled download).
PULL_SILENCE_S = 120.0


def pull(image: str, *, answer_within_s: float = REGISTRY_ANSWER_S) -> str | None:
    """Pull ``image`` through the engine: None once it is here, else why not, in one line.

    docker-py's own pull waits without a time limit, so the pull streams in a thread of its
    own and this one waits for its words: a registry that does not answer within
    ``answer_within_s`` is given up on (the thread is left to end when the engine gives up;
    an image that arrives after all is simply there next time). Where no registry resolves
    at all, the engine answers at once (milliseconds).
    """
    words: queue.Queue[tuple[str, str]] = queue.Queue()

    def pulling() -> None:
        try:
            for event in engine().api.pull(image, stream=True, decode=True):
                if "error" in event:
                    words.put(("failed", str(event["error"])))
                    return
                words.put(("progress", ""))
            words.put(("pulled", ""))
        except DockerException as error:
            words.put(("failed", str(getattr(error, "explanation", None) or error)))
        except Exception as error:  # noqa: BLE001  (the engine's connection: reported, never raised in a thread)
            words.put(("failed", f"{type(error).__name__}: {error}"))

    threading.Thread(target=pulling, name=f"pull {image}", daemon=True).start()
    answered = False
    while True:
        try:
            what, said = words.get(timeout=PULL_SILENCE_S if answered else answer_within_s)
        except queue.Empty:
            return (f"the pull stalled: nothing for {PULL_SILENCE_S:.0f} s" if answered
                    else f"no registry answered within {answer_within_s:g} s")
        if what == "pulled":
            return None
        if what == "failed":
            return " ".join(said.split())
        answered = True
