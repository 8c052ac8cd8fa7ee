"""External-server mode: run against a server the suite did not start.

The full check starts a real Mattermost the way an admin does (docker commands,
its first user made through the API), runs the suite against it with
``--allow-config-changes``, and checks through its own admin session that the
server is left as it was found. It is skipped (with the reason) where no
Mattermost image is packaged.
"""

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mm_conformance.infra.containers import NO_OUTGOING_TRAFFIC, OWNER, OWNER_LABEL, RUN_ID, RUN_LABEL, SUITE_LABEL
from mm_conformance.infra.images import POSTGRES_IMAGE, image_labels, local_mattermost_images
from mm_conformance.infra.leftovers import leftovers
from mm_conformance.mattermost.admin import ApiClient
from mm_conformance.mattermost.servers import version_key
from mm_conformance.redact import register_secret
from tests.test_adapter_environment import assert_nothing_of_the_suites, environment_seen, wrapped_reference

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


class AdminsServer:
    """A Mattermost started the way an admin starts one: docker commands, not the suite's deployment code.

    PostgreSQL and Mattermost on a network of their own, the server published on
    127.0.0.1, the first user made through the API (it becomes the system admin).
    """

    def __init__(self, image: str, postgres_image: str) -> None:
        self.name = f"admins-{secrets.token_hex(3)}"
        self.password = "Aa1!" + secrets.token_urlsafe(18)
        self.labels = ["--label", f"{SUITE_LABEL}=external-test", "--label", f"{RUN_LABEL}={RUN_ID}",
                       "--label", f"{OWNER_LABEL}={OWNER}"]
        db_password = secrets.token_urlsafe(12)
        for secret in (self.password, db_password):
            register_secret(secret)
        docker("network", "create", *self.labels, self.name)
        docker("run", "-d", "--name", f"{self.name}-db", "--network", self.name, *self.labels,
               "-e", "POSTGRES_USER=mmuser", "-e", f"POSTGRES_PASSWORD={db_password}", "-e", "POSTGRES_DB=mattermost",
               postgres_image)
        docker("run", "-d", "--name", f"{self.name}-mm", "--network", self.name, *self.labels, "-p", "127.0.0.1::8065",
               "-e", "MM_SQLSETTINGS_DRIVERNAME=postgres",
               "-e", f"MM_SQLSETTINGS_DATASOURCE=postgres://mmuser:{db_password}@{self.name}-db:5432/mattermost"
                     "?sslmode=disable&connect_timeout=10",
               *[arg for key, value in NO_OUTGOING_TRAFFIC.items() for arg in ("-e", f"{key}={value}")], image)
        port = docker("port", f"{self.name}-mm", "8065/tcp").split(":")[-1].strip()
        self.url = f"http://127.0.0.1:{port}"

    def wait_until_ready(self, timeout_s: float = 300) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/v4/system/ping", timeout=2, trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)  # polling for readiness with a deadline, as an admin's script would
        raise AssertionError(f"the admin's server did not answer within {timeout_s} s")

    def first_admin(self) -> ApiClient:
        created = httpx.post(f"{self.url}/api/v4/users", trust_env=False, timeout=30, json={
            "username": "theadmin", "email": "theadmin@example.test", "password": self.password})
        assert created.status_code == 201, created.text
        return ApiClient.login(self.url, "theadmin", self.password)

    def remove(self) -> None:
        for container in (f"{self.name}-mm", f"{self.name}-db"):
            subprocess.run(["docker", "rm", "-f", "-v", container], capture_output=True)
        subprocess.run(["docker", "network", "rm", self.name], capture_output=True)


def active_users(admin: ApiClient) -> dict[str, str]:
    """The server's active users, id -> username, but for the bot Mattermost makes itself.

    Mattermost 11 makes its ``system-bot`` the first time its post-reminder task runs, at the
    first five-minute mark of the clock after it starts (``CreateRecurringTaskFromNextIntervalTime``
    in server/channels/app/server.go): a test that spans such a mark sees it appear, run or no run.
    """
    return {u["id"]: u["username"] for u in admin.list_users(per_page=200)
            if not u.get("delete_at") and not (u.get("is_bot") and u["username"] == "system-bot")}


def docker(*args: str) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.usefixtures("docker_engine")
def test_an_admins_server_is_left_as_it_was_found(tmp_path):
    """External-server mode on a real server the suite did not start, with --allow-config-changes;
    the implementation under test gets none of the suite's environment (the admin's token)."""
    images = local_mattermost_images()
    if not images or image_labels(POSTGRES_IMAGE) is None:
        pytest.skip("infrastructure: no Mattermost image is packaged here (mm-conformance images build --from PATH)")
    server = AdminsServer(images[max(images, key=version_key)], POSTGRES_IMAGE)
    try:
        server.wait_until_ready()
        admin = server.first_admin()
        admin.patch_config({"ServiceSettings": {"EnableUserAccessTokens": True}})
        admin_token = admin.create_token(admin.user, "external-mode test")
        config_before = admin.config()
        active_before = active_users(admin)
        tokens_before = {t["id"] for t in admin._call("GET", "/users/tokens", params={"per_page": 200})}

        # The reference, through an adapter that first tells the environment it started with.
        seen = tmp_path / "environment.jsonl"
        result = run_external(server.url, admin_token.token, "--allow-config-changes",
                              "--impl", f"reference={wrapped_reference(seen)}")
        assert result.returncode in (0, 1), result.stdout[-3000:]  # a verdict, not an infrastructure problem
        closing = result.stdout.strip().splitlines()[-1]
        assert closing.startswith("mm-conformance: conforms (") and int(closing.split("(")[1].split()[0]) > 20, closing
        assert admin_token.token not in result.stdout + result.stderr
        # The admin's token was in the suite's environment; the implementation under test never had it.
        assert_nothing_of_the_suites(environment_seen(seen), set(), [admin_token.token])

        after = ApiClient.login(server.url, "theadmin", server.password)  # its own session, not the run's
        assert after.config() == config_before, "the run must restore every setting it changed"
        assert active_users(after) == active_before, "no user the run created may stay active"
        # A revoked token is deleted: what the run made and left active would still be listed.
        made = [t for t in after._call("GET", "/users/tokens", params={"per_page": 200}) if t["id"] not in tokens_before]
        assert not [t for t in made if t.get("is_active")], "no token the run created may still work"
    finally:
        server.remove()
    assert leftovers() == []
