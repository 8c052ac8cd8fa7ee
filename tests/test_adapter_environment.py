"""On a real server, the implementation under test gets none of the suite's secrets.

A run in container mode, with the suite's environment holding what a CI runner and an
external-server user would have there (an admin token, a job token, Docker settings),
and an adapter that tells the environment it started with before it becomes the
reference. External-server mode is checked the same way in tests/test_external_mode.py.
Skipped with the reason where no Mattermost image is packaged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mm_conformance.protocol.environment import starts_a_program
from mm_conformance.infra.images import local_mattermost_images
from mm_conformance.mattermost.servers import version_key

ROOT = Path(__file__).resolve().parent.parent
TELLS = ROOT / "tests" / "fake_adapters" / "tells_environment.py"
#: What the suite's own environment holds in a CI job: none of it the implementation's.
SECRETS_AROUND = {"MM_CONFORMANCE_ADMIN_TOKEN": "x6bqjz1ucf8o3ygmtgnfmwa4ic", "CI_JOB_TOKEN": "glcbt-64-not-yours",
                  "REGISTRY_PASSWORD": "not-yours-either", "HTTPS_PROXY": "http://127.0.0.1:9"}


def environment_seen(report: Path) -> list[dict]:
    return [json.loads(line) for line in report.read_text().splitlines()]


def assert_nothing_of_the_suites(seen: list[dict], passed: set[str], secrets: list[str]) -> None:
    assert seen, "the adapter never started"
    for start in seen:
        undeclared = [name for name in start["names"] if not starts_a_program(name) and name not in passed]
        assert undeclared == [], f"the adapter got {undeclared}"
        for secret in secrets:
            assert hashlib.sha256(secret.encode()).hexdigest() not in start["value_digests"]


def wrapped_reference(report: Path) -> str:
    """The reference, started through the adapter that first tells its environment."""
    return shlex.join([sys.executable, str(TELLS), str(report), sys.executable, "-m", "mm_conformance.protocol.reference"])


@pytest.mark.usefixtures("docker_engine")
def test_in_container_mode_the_adapter_gets_the_baseline_and_what_was_passed(tmp_path):
    images = local_mattermost_images()
    if not images:
        pytest.skip("infrastructure: no Mattermost image is packaged here (mm-conformance images build --from PATH)")
    seen = tmp_path / "environment.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "mm_conformance", "run", "-q", "--mattermost", max(images, key=version_key),
         "--impl", f"reference={wrapped_reference(seen)}", "--impl-env", "LOG_LEVEL=debug", "--impl-env", "NO_PROXY",
         "-k", "token_auth and authenticates"],
        cwd=ROOT, env={**os.environ, **SECRETS_AROUND, "NO_PROXY": "127.0.0.1"}, capture_output=True, text=True,
        timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert ("mm-conformance: implementations under test also get LOG_LEVEL, NO_PROXY (--impl-env); NO_PROXY change "
            "what is tested") in result.stderr
    starts = environment_seen(seen)
    assert_nothing_of_the_suites(starts, {"LOG_LEVEL", "NO_PROXY"}, list(SECRETS_AROUND.values()))
    assert all({"LOG_LEVEL", "NO_PROXY"} <= set(start["names"]) for start in starts)
