"""An interrupted run (SIGINT, Ctrl-C; SIGTERM, a CI timeout) removes every container it started.

The "server" here is the suite's nginx image standing in for a Mattermost that
never becomes ready, so the run is certain to be interrupted while it waits.
Nothing stands in for Mattermost in a scenario: the run gives no verdict.
"""

import io
import os
import signal
import subprocess
import sys
import time

import pytest

import docker
from mm_conformance.infra.containers import OWNER_LABEL, process_identity
from mm_conformance.infra.images import NGINX_IMAGE, POSTGRES_IMAGE, image_labels
from mm_conformance.infra.leftovers import leftovers

pytestmark = pytest.mark.usefixtures("docker_engine")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell without job control starts a background command


def _require_images() -> None:
    for image in (NGINX_IMAGE, POSTGRES_IMAGE):
        if image_labels(image) is None:
            pytest.skip(f"infrastructure: {image} is not built (mm-conformance images build)")


def _descendants_of(pid: int) -> set[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue  # gone meanwhile
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _interrupt_once_started(run: subprocess.Popen, containers: int, interruption: signal.Signals) -> str:
    """Send ``interruption`` once ``containers`` containers of the run's own exist; the run's output.

    Its own: owned by the run or by its workers (pytest-xdist), not what an earlier test is still removing.
    """
    engine = docker.from_env()
    try:
        deadline = time.monotonic() + 60
        while True:
            owners = {f"{OWNER_LABEL}={process_identity(pid)}" for pid in {run.pid} | _descendants_of(run.pid)}
            if sum(len(engine.containers.list(all=True, sparse=True, filters={"label": owner})) for owner in owners) >= containers:
                break
            assert run.poll() is None, f"the run ended before it was interrupted: {run.stdout.read()}"
            assert time.monotonic() < deadline, "the containers did not start within 60 s"
            time.sleep(0.2)
        run.send_signal(interruption)
        return run.communicate(timeout=60)[0]
    finally:
        if run.poll() is None:
            run.kill()


def _assert_ended_interrupted_leaving_nothing(run: subprocess.Popen, output: str) -> None:
    assert run.returncode == 2, output
    assert leftovers() == []
    assert "interrupted" in output.strip().splitlines()[-1], output


@pytest.mark.parametrize("interruption, started", [(signal.SIGINT, None), (signal.SIGTERM, None),
                                                   (signal.SIGINT, _ignore_sigint)],
                         ids=["SIGINT", "SIGTERM", "SIGINT-started-ignored"])
def test_an_interruption_while_the_server_starts_removes_every_container(interruption, started):
    _require_images()
    run = subprocess.Popen([sys.executable, "-m", "mm_conformance", "run", "-q", "--mattermost", NGINX_IMAGE],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy(),
                           preexec_fn=started)
    output = _interrupt_once_started(run, 2, interruption)  # PostgreSQL and the "server"
    _assert_ended_interrupted_leaving_nothing(run, output)


@pytest.mark.parametrize("interruption", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_on_two_servers_side_by_side_removes_every_container(interruption):
    """Two servers run in two worker processes (pytest-xdist); the signal reaches the run, not the
    workers, and still every container either worker started is removed."""
    _require_images()
    engine = docker.from_env()
    # Another image (its own ID: a server of its own, with a database snapshot of its own to make).
    second = f"{NGINX_IMAGE.split(':')[0]}:second-server-{os.getpid()}"
    dockerfile = f"FROM {NGINX_IMAGE}\nLABEL io.github.mm-conformance.test=second-server\n"
    engine.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=second, rm=True)
    try:
        run = subprocess.Popen([sys.executable, "-m", "mm_conformance", "run", "-q", "--mattermost", NGINX_IMAGE,
                                "--mattermost", second], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=os.environ.copy())
        output = _interrupt_once_started(run, 4, interruption)  # each worker's PostgreSQL and "server"
    finally:
        engine.images.remove(second)
    _assert_ended_interrupted_leaving_nothing(run, output)
