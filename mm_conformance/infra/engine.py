"""The one Docker client of the suite's infrastructure: docker-py, made as testcontainers makes its own.

Everything in :mod:`mm_conformance.infra` that talks to the engine directly (images,
volumes, leftovers, health checks) goes through :func:`engine`; the containers
themselves are testcontainers classes, which use the same library underneath.
"""

from __future__ import annotations

import functools
from typing import Any

from docker.errors import DockerException
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import ReadTimeout
from testcontainers.core.docker_client import DockerClient

from mm_conformance.errors import InfrastructureError

#: How long a question to the engine may take before the engine counts as not answering.
ANSWER_TIMEOUT_S = 20


@functools.cache
def engine() -> Any:  # docker.DockerClient: `docker` resolves to the repository's docker/ folder under mypy
    """The Docker client, made once: each client holds a connection pool, shared by every thread."""
    return DockerClient().client


def docker_available() -> None:
    """Raise a one-line InfrastructureError when no Docker engine answers within 20 s."""
    try:
        client = DockerClient(timeout=ANSWER_TIMEOUT_S).client
        try:
            client.version()
        finally:
            client.close()
    except ReadTimeout:
        raise InfrastructureError(f"the Docker engine did not answer within {ANSWER_TIMEOUT_S} s") from None
    except (DockerException, RequestsConnectionError) as error:
        raise InfrastructureError(f"the Docker engine is not reachable: {' '.join(str(error).split())}") from None
