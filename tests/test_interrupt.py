"""An interrupted run (SIGINT, Ctrl-C; SIGTERM, a CI timeout) removes every container it started.

The "server" here is the suite's nginx image standing in for a Mattermost that
never becomes ready, so the run is certain to be interrupted while it waits.
Nothing stands in for Mattermost in a scenario: the run gives no verdict.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

import docker

from mm_conformance.containers import OWNER_LABEL, process_identity
from mm_conformance.deployment import leftovers
from mm_conformance.images import NGINX_IMAGE, POSTGRES_IMAGE, image_labels

pytestmark = pytest.mark.usefixtures("docker_engine")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell without job control starts a background command


@pytest.mark.parametrize("interruption, started", [(signal.SIGINT, None), (signal.SIGTERM, None),
                                                   (signal.SIGINT, _ignore_sigint)],
                         ids=["SIGINT", "SIGTERM", "SIGINT-started-ignored"])
def test_an_interruption_while_the_server_starts_removes_every_container(interruption, started):
    for image in (NGINX_IMAGE, POSTGRES_IMAGE):
        if image_labels(image) is None:
            pytest.skip(f"infrastructure: {image} is not built (mm-conformance images build)")
    run = subprocess.Popen([sys.executable, "-m", "mm_conformance", "run", "-q", "--mattermost", NGINX_IMAGE],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy(),
                           preexec_fn=started)
    try:
        deadline = time.monotonic() + 60
        # The interrupted run's own containers (PostgreSQL, "server"), not what an earlier test is still removing.
        owner = f"{OWNER_LABEL}={process_identity(run.pid)}"
        while len(docker.from_env().containers.list(all=True, filters={"label": owner})) < 2:
            assert run.poll() is None, f"the run ended before it was interrupted: {run.stdout.read()}"
            assert time.monotonic() < deadline, "the containers did not start within 60 s"
            time.sleep(0.2)
        run.send_signal(interruption)
        output, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 2, output
    assert leftovers() == []
    assert "interrupted" in output.strip().splitlines()[-1], output
