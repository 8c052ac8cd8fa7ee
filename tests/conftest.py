"""Shared helpers for the suite's own tests (no Mattermost needed here)."""

import subprocess

import pytest


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
