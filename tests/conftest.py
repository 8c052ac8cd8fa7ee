"""Shared helpers for the suite's own tests (no Mattermost needed here)."""

import subprocess

import pytest

from mm_conformance.errors import InfrastructureError
from mm_conformance.images import NGINX_IMAGE, ImageBuilder


def _docker_reachable() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Skip a test that needs Docker when no engine answers (CI always starts one)."""
    if not _docker_reachable():
        pytest.skip("infrastructure: no Docker engine answers")


@pytest.fixture(scope="session")
def nginx_image(docker_engine: None) -> str:
    """The nginx image (TLS proxy, redirects), built here when missing (about 20 s the first time)."""
    try:
        ImageBuilder().ensure_nginx()
    except (InfrastructureError, OSError) as error:
        pytest.skip(f"infrastructure: {NGINX_IMAGE} is not built and cannot be built: {error}")
    return NGINX_IMAGE
