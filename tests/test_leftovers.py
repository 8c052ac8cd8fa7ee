"""A run stopped hard leaves things behind; later runs judge only their own, and say so once.

The "earlier run" here is made by hand: a labelled volume and a stopped container
carrying another run id, as a SIGKILLed run leaves them.
"""

import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from mm_conformance.infra.containers import OWNER, OWNER_LABEL, RUN_ID_ENV, RUN_LABEL, SUITE_LABEL
from mm_conformance.infra.leftovers import earlier_runs_leftovers, leftovers
from mm_conformance.infra.images import BASE_IMAGE, image_labels

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def earlier_run(docker_engine):
    """What a run killed with SIGKILL left: a config volume and a stopped container, plus things not the suite's."""
    if image_labels(BASE_IMAGE) is None:
        pytest.skip(f"infrastructure: {BASE_IMAGE} is not built (mm-conformance images build)")
    client = docker.from_env()
    earlier = {RUN_LABEL: "earlier-run-killed"}
    made = {
        "volume": client.volumes.create("mm-conformance-config-earlier", labels={SUITE_LABEL: "config", **earlier}),
        "container": client.containers.create(BASE_IMAGE, command="true", name="mm-conformance-earlier-server",
                                              labels={SUITE_LABEL: "mattermost", **earlier}),
        # Another run still in progress on this machine (its process, this one, is alive).
        "in progress": client.volumes.create("mm-conformance-config-in-progress", labels={
            SUITE_LABEL: "config", RUN_LABEL: "a-run-in-progress", OWNER_LABEL: OWNER}),
        "foreign volume": client.volumes.create("not-the-suites-volume", labels={"owner": "someone else"}),
        "foreign container": client.containers.create(BASE_IMAGE, command="true", name="not-the-suites-container"),
    }
    try:
        yield made
    finally:
        for thing in made.values():
            try:
                thing.remove(force=True)
            except docker.errors.NotFound:
                pass


def exists(thing) -> bool:
    try:
        thing.reload()
        return True
    except docker.errors.NotFound:
        return False


def test_a_new_run_reports_earlier_leftovers_once_leaves_them_and_clean_removes_only_the_suites(earlier_run):
    assert leftovers() == []  # this run's own: none, whatever earlier runs left
    left = set(earlier_runs_leftovers())
    assert {"volume mm-conformance-config-earlier", "container mm-conformance-earlier-server"} <= left
    assert "volume mm-conformance-config-in-progress" not in left  # in use, not left behind

    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_servers.py"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, RUN_ID_ENV: "a-later-run"})
    assert run.returncode == 0, run.stdout[-2000:]
    notices = [line for line in run.stdout.splitlines() if "earlier runs left" in line]
    assert len(notices) == 1 and notices[0].endswith("(this run ignores them; remove them with: mm-conformance clean)")
    assert all(exists(thing) for thing in earlier_run.values()), "a run must leave other runs' things as they were"

    cleaned = subprocess.run([sys.executable, "-m", "mm_conformance", "clean"], cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "removed container mm-conformance-earlier-server" in cleaned.stdout
    assert "removed volume mm-conformance-config-earlier" in cleaned.stdout
    assert not exists(earlier_run["volume"]) and not exists(earlier_run["container"])
    assert exists(earlier_run["foreign volume"]) and exists(earlier_run["foreign container"])
    assert exists(earlier_run["in progress"]), "clean must not break a run in progress"
    assert "that a run still in progress on this machine is using" in cleaned.stdout
    assert earlier_runs_leftovers() == []
