"""External-server mode: run against a server the suite did not start.

The full check treats a Mattermost the suite started itself as external, so it
is skipped (with the reason) where no Mattermost can start.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mm_conformance.admin import ApiClient
from mm_conformance.deployment import MattermostDeployment
from mm_conformance.errors import InfrastructureError
from mm_conformance.images import local_mattermost_images
from mm_conformance.servers import select_servers

ROOT = Path(__file__).resolve().parent.parent


def run_external(url: str, token: str | None, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MM_CONFORMANCE_ADMIN_TOKEN"}
    if token is not None:
        env["MM_CONFORMANCE_ADMIN_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "mm_conformance", "run", "-q", "--mattermost-url", url, *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)


def test_the_admin_token_is_required_and_never_an_argument():
    result = run_external("http://127.0.0.1:9", None)
    assert result.returncode == 2
    assert result.stderr.strip() == ("mm-conformance: error: --mattermost-url needs a system admin's personal "
                                     "access token in $MM_CONFORMANCE_ADMIN_TOKEN")


def test_an_unreachable_server_gives_no_verdict():
    result = run_external("http://127.0.0.1:9", "zq8ejkmcpqxot1uwisza345h76", "-k", "made")
    assert result.returncode == 2
    assert "stopped answering" in result.stdout.strip().splitlines()[-1]
    assert "zq8ejkmcpqxot1uwisza345h76" not in result.stdout + result.stderr


@pytest.mark.usefixtures("docker_engine")
def test_a_server_started_by_the_suite_treated_as_external():
    try:
        stack = MattermostDeployment(select_servers(None, local_mattermost_images())[0])
        deployment = stack.start()
    except InfrastructureError as error:
        pytest.skip(f"infrastructure: {error}")
    try:
        deployment.admin.patch_config({"ServiceSettings": {"EnableUserAccessTokens": True}})
        admin_token = deployment.admin.create_token(deployment.admin.user, "external-mode test").token
        users_before = {u["id"] for u in deployment.admin.list_users(per_page=200) if not u.get("delete_at")}
        result = run_external(deployment.base_url, admin_token)
        assert result.returncode == 0, result.stdout[-3000:]
        assert "would change server-wide settings" in result.stdout  # skipped without --allow-config-changes
        still_active = {u["id"] for u in deployment.admin.list_users(per_page=200) if not u.get("delete_at")}
        assert still_active == users_before, "users created by the run must be deactivated afterwards"
        assert admin_token not in result.stdout + result.stderr
    finally:
        stack.stop()
