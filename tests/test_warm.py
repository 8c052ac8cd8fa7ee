"""A warm deployment (mm-conformance up / down): kept between runs, used by them, removed on request.

Needs a packaged Mattermost image (skipped with the reason without one). It brings
its own warm deployment down again, so it is not for a machine where one is in use.
"""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from mm_conformance.infra.containers import RUN_LABEL
from mm_conformance.infra.leftovers import WARM_RUN, earlier_runs_leftovers
from mm_conformance.infra.warm import WARM_DIR, WarmState
from mm_conformance.infra.images import local_mattermost_images
from mm_conformance.mattermost.servers import version_key

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mm_conformance", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=os.environ.copy())


def warm_things() -> list:
    client = docker.from_env()
    label = {"label": [f"{RUN_LABEL}={WARM_RUN}"]}
    return client.containers.list(all=True, filters=label) + client.volumes.list(filters=label) + \
        client.networks.list(filters=label)


@pytest.fixture
def version(docker_engine) -> str:
    images = local_mattermost_images()
    if not images:
        pytest.skip("infrastructure: no Mattermost image is packaged here (mm-conformance images build --from PATH)")
    if warm_things():
        pytest.skip("a warm deployment is already up on this machine: this test would take it down")
    return max(images, key=version_key)


def test_up_keeps_a_deployment_that_runs_use_and_down_removes(version):
    try:
        up = cli("up", "--mattermost", version)
        assert up.returncode == 0, up.stderr
        image = local_mattermost_images()[version]
        state = WarmState.of(image)
        assert state is not None and state.base_url.startswith("http://127.0.0.1:")
        assert stat.S_IMODE(WarmState.path(state.image_id).stat().st_mode) == 0o600  # it holds passwords
        assert state.admin_password not in up.stdout + up.stderr
        assert not [thing for thing in earlier_runs_leftovers() if "warm" in thing], "warm is not a leftover"
        servers_before = {c.id for c in warm_things() if hasattr(c, "image")}

        run = cli("run", "-q", "--mattermost", version, "-k", "made_up or authenticates_as_the_user")
        assert run.returncode == 0, run.stdout[-2000:]
        assert "(warm: mm-conformance down removes it)" in run.stdout
        assert {c.id for c in warm_things() if hasattr(c, "image")} == servers_before, "the run left it as it was"
        assert WarmState.of(image) is not None, "and it still answers"

        again = cli("up", "--mattermost", version)  # already up: nothing new
        assert again.returncode == 0 and WarmState.of(image).base_url == state.base_url
    finally:
        down = cli("down")
    assert down.returncode == 0, down.stderr
    assert warm_things() == [] and not list(WARM_DIR.glob("*.json"))


def test_a_scenario_that_changes_settings_on_a_shared_server_waits_until_it_is_alone(tmp_path):
    """Two runs on one warm server: a settings change waits for the other's scenario to end."""
    import threading

    from mm_conformance.infra.warm import ServerWideLock

    mine, theirs = ServerWideLock(tmp_path / "s.lock"), ServerWideLock(tmp_path / "s.lock")
    theirs.scenario_starts()
    mine.scenario_starts()  # side by side: both shared
    changed = threading.Event()
    changer = threading.Thread(target=lambda: (mine.before_settings_change(), changed.set()))
    changer.start()
    assert not changed.wait(0.5)  # their scenario is still running
    theirs.scenario_ends()
    assert changed.wait(5)
    holds = threading.Event()
    other = threading.Thread(target=lambda: (theirs.scenario_starts(), holds.set()))
    other.start()
    assert not holds.wait(0.5)  # their next scenario waits until mine has put the settings back
    mine.scenario_ends()
    assert holds.wait(5)
    theirs.scenario_ends()
    changer.join(), other.join()
    mine.close(), theirs.close()


def test_a_scenario_waiting_on_a_silent_server_holds_up_no_settings_change(tmp_path):
    """Seconds of waiting on a listener read no setting: a change on a shared server goes ahead at once,
    unless the waiting scenario changed a setting itself (then it puts it back first, alone)."""
    import threading

    from mm_conformance.infra.warm import ServerWideLock

    waiting, changing = ServerWideLock(tmp_path / "s.lock"), ServerWideLock(tmp_path / "s.lock")
    waiting.scenario_starts()
    waiting.settings_no_longer_read()
    changing.scenario_starts()
    changed = threading.Event()
    changer = threading.Thread(target=lambda: (changing.before_settings_change(), changed.set()))
    changer.start()
    assert changed.wait(5), "the change waited on a scenario that reads no setting"
    changing.scenario_ends(), waiting.scenario_ends(), changer.join()

    waiting.scenario_starts()
    waiting.before_settings_change()  # it changed a setting: it keeps the server to itself
    waiting.settings_no_longer_read()
    held = threading.Event()
    other = threading.Thread(target=lambda: (changing.scenario_starts(), changing.before_settings_change(),
                                             held.set()))
    other.start()
    assert not held.wait(0.5)
    waiting.scenario_ends()
    assert held.wait(5)
    changing.scenario_ends(), other.join()
    waiting.close(), changing.close()


def test_a_process_forgets_the_settings_it_knows_only_when_another_changed_them(tmp_path):
    """What a worker knows of a shared server's settings holds until another process changes them:
    it asks the server again at its next scenario, and only then (never after its own changes)."""
    from mm_conformance.infra.warm import ServerWideLock

    mine, theirs = ServerWideLock(tmp_path / "s.lock"), ServerWideLock(tmp_path / "s.lock")
    forgotten: list[str] = []
    mine.when_others_change_settings(lambda: forgotten.append("mine"))
    theirs.when_others_change_settings(lambda: forgotten.append("theirs"))

    def scenario(lock: ServerWideLock, *, changes: bool) -> None:
        lock.scenario_starts()
        if changes:
            lock.before_settings_change()
        lock.scenario_ends()

    scenario(mine, changes=False)
    assert forgotten == ["mine"]  # its first scenario: what it learnt before it took the lock is no proof
    scenario(mine, changes=True)
    scenario(mine, changes=False)
    assert forgotten == ["mine"]  # its own changes it knows
    scenario(theirs, changes=True)
    assert forgotten == ["mine", "theirs"]
    scenario(mine, changes=False)
    assert forgotten == ["mine", "theirs", "mine"]
    scenario(mine, changes=False)
    assert forgotten == ["mine", "theirs", "mine"]
    mine.close(), theirs.close()


class _FakeAdmin:
    """The two calls a run's start-up makes of a server's settings: what it reads and what it writes."""

    signed_in_with_token = False

    def __init__(self, tokens_on: bool) -> None:
        self.tokens_on, self.writes = tokens_on, 0

    def config(self) -> dict:
        return {"ServiceSettings": {"EnableUserAccessTokens": self.tokens_on}}

    def patch_config(self, patch: dict) -> dict:
        self.writes += 1
        self.tokens_on = patch["ServiceSettings"]["EnableUserAccessTokens"]
        return self.config()


def test_a_run_joining_a_shared_server_does_not_switch_tokens_on_under_anothers_scenario(tmp_path):
    """Another run's scenario switched tokens off: the joining run waits until it has put them back,
    and then has nothing to write. Off with nobody changing them, it switches them on, under the lock."""
    import threading
    import types

    from mm_conformance.pytest_plugin.pool import _enable_tokens
    from mm_conformance.infra.warm import ServerWideLock

    theirs, mine = ServerWideLock(tmp_path / "s.lock"), ServerWideLock(tmp_path / "s.lock")
    admin = _FakeAdmin(tokens_on=True)
    theirs.scenario_starts()
    theirs.before_settings_change()
    admin.tokens_on = False  # their scenario: "I set Enable personal access tokens to false"
    joined = threading.Event()
    joining = threading.Thread(target=lambda: (_enable_tokens(types.SimpleNamespace(admin=admin), mine), joined.set()))
    joining.start()
    assert not joined.wait(0.5), "the joining run did not wait for the scenario that changed the setting"
    admin.tokens_on = True  # their scenario puts it back as it ends
    theirs.scenario_ends()
    assert joined.wait(5)
    joining.join()
    assert admin.writes == 0

    admin.tokens_on = False  # left off (say, by a run that was killed mid-scenario)
    _enable_tokens(types.SimpleNamespace(admin=admin), mine)
    assert admin.tokens_on and admin.writes == 1
    theirs.close(), mine.close()


def test_users_made_ahead_are_handed_out_once_across_workers_and_runs_on_a_warm_deployment(version):
    """Two runs in a row, three workers each, on one warm deployment: every premade user they took is a
    different one, each run took its own, and each was a real user of the server that a scenario used
    and put away (deactivated, as a warm server keeps no user a scenario had)."""
    from mm_conformance.infra.premade import premade_username

    selection = "made_up or authenticates_as_the_user or own_session or Profile"
    try:
        assert cli("up", "--mattermost", version).returncode == 0
        state = WarmState.of(local_mattermost_images()[version])
        assert state is not None and state.premade_users > 0, "the snapshot holds users made ahead"
        handed_log = state.users_ledger_path.with_suffix(".handed")
        runs = []
        for _ in range(2):
            run = cli("run", "-q", "--workers", "3", "--mattermost", version, "-k", selection)
            assert run.returncode == 0, run.stdout[-2000:]
            runs.append(handed_log.read_text().split("\n")[:-1] if handed_log.exists() else [])
        handed = [line.split()[0] for line in runs[-1]]
        first_run = {line.split()[0] for line in runs[0]}
        assert len(first_run) > 0 and len(handed) > len(first_run), "both runs took premade users"
        assert sorted(handed) == sorted(set(handed)), "no premade user was handed out twice"
        assert sorted(handed) == [premade_username(i) for i in range(len(handed))]
        assert state.users_ledger.counts()[0] == len(handed)
        admin = state.sign_in()
        try:
            for name in handed:
                assert admin.get_user(admin.user_named(name).id)["delete_at"] > 0, f"{name} was put away"
        finally:
            admin.close()
    finally:
        down = cli("down")
    assert down.returncode == 0 and not list(WARM_DIR.glob("*.users")) + list(WARM_DIR.glob("*.handed")), \
        "down forgets the ledger too"


def test_up_keeps_the_extras_and_runs_side_by_side_use_them_starting_no_container(version):
    """`up` starts the TLS proxy, the redirects and the two more servers once, beside the warm server;
    two runs at once, two workers each, use them (each scenario's counts of what reached a listener
    are its own: the reference conforms), and start no container at all; `down` removes them and
    their certificates."""
    import time

    selection = "validates_connects or fails_validation or redirect or subpath or query_string"
    try:
        assert cli("up", "--mattermost", version).returncode == 0
        state = WarmState.of(local_mattermost_images()[version])
        assert state is not None
        roles = sorted(c.labels["io.github.mm-conformance"] for c in warm_things() if hasattr(c, "image"))
        assert roles == ["mattermost", "mattermost", "mattermost", "postgres", "redirect-target", "redirects",
                         "tls-proxy"]
        certificates = state.extras_dir / "certificates"
        assert stat.S_IMODE(state.extras_dir.stat().st_mode) == 0o700 and (certificates / "ca.pem").is_file()
        since = int(time.time())
        command = [sys.executable, "-m", "mm_conformance", "run", "-q", "--workers", "2", "--mattermost", version,
                   "-k", selection]
        runs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for _ in range(2)]
        outputs = [run.communicate(timeout=600)[0] for run in runs]
        for run, output in zip(runs, outputs):
            assert run.returncode == 0, output[-2000:]
            passed = re.search(r"conforms \((\d+) pass, \d+ warn, 0 fail", output)
            assert passed and int(passed.group(1)) >= 40, output[-500:]
        created = list(docker.from_env().events(since=since, until=int(time.time()) + 1, decode=True,
                                                filters={"event": "create", "type": "container",
                                                         "label": "io.github.mm-conformance"}))
        assert created == [], "the runs started no container: they used the warm deployment's extras"
    finally:
        down = cli("down")
    assert down.returncode == 0 and warm_things() == []
    assert not list(WARM_DIR.glob("*.extras")), "the extras' records and certificates went with it"
