"""The world's machinery against a real Docker engine: no container may be left behind.

These tests never stand anything in for Mattermost: they check the PostgreSQL
image and its snapshots, that a server that is missing or dies at start is reported
as an infrastructure problem with one line, with everything removed afterwards, and
which database image a deployment picks (from image labels only: nothing is started).
"""

import subprocess
import threading
import time
from pathlib import Path

import pytest

import docker
from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.containers import (
    NO_OUTGOING_TRAFFIC,
    ContainerExited,
    MattermostContainer,
    remove_network,
    suite_labels,
    suite_network,
)
from mm_conformance.infra.database import PostgresContainer
from mm_conformance.infra.deployment import MattermostDeployment
from mm_conformance.infra.endpoints import StartedOnce
from mm_conformance.infra.images import BASE_IMAGE, POSTGRES_IMAGE, image_id, image_labels
from mm_conformance.infra.leftovers import leftovers
from mm_conformance.infra.premade import ADMIN_SECRETS, PREMADE_USERS, new_admin_secret
from mm_conformance.infra.snapshots import (
    ADMIN_SECRET_LABEL,
    PREMADE_LABEL,
    SERVER_IMAGE_LABEL,
    premigrated_database,
    snapshot_labels,
    snapshot_name,
)
from mm_conformance.mattermost.servers import MattermostServer

pytestmark = pytest.mark.usefixtures("docker_engine")


@pytest.fixture
def postgres_image():
    if image_labels(POSTGRES_IMAGE) is None:
        pytest.skip(f"infrastructure: {POSTGRES_IMAGE} is not built (mm-conformance images build)")
    return POSTGRES_IMAGE


def test_postgres_image_accepts_the_mattermost_database_user(postgres_image):
    with PostgresContainer(postgres_image) as db:
        command = (f"sh -c \"PGPASSWORD='{db.password}' psql -h 127.0.0.1 -U {db.user} "
                   f"-d {db.database} -tAc 'show server_version'\"")
        code, output = db.exec(command)
        assert code == 0, output
        major = int(output.decode().strip().split(".")[0])
        assert major >= 14, "Mattermost 11 needs PostgreSQL 14 or newer"
    assert leftovers() == []


def test_missing_server_image_is_one_line_and_leaves_nothing(postgres_image):
    stack = MattermostDeployment(MattermostServer("mm-conformance/mattermost:0.0.1", "0.0.1"),
                                 postgres_image=postgres_image)
    with pytest.raises(InfrastructureError) as error:
        stack.start()
    assert "image mm-conformance/mattermost:0.0.1 is not on this machine (package a release tarball" in str(error.value)
    assert "\n" not in str(error.value)
    assert leftovers() == []


def test_server_that_exits_at_start_is_named_fast_and_removed(postgres_image):
    # The PostgreSQL image started without its password exits at once: a server crash at start.
    stack = MattermostDeployment(MattermostServer(postgres_image), postgres_image=postgres_image)
    with pytest.raises(ContainerExited) as error:
        stack.start()
    assert "exited while starting" in str(error.value)
    assert "POSTGRES_PASSWORD must be set" in str(error.value)
    assert leftovers() == []


def test_server_is_told_not_to_reach_out_and_leaves_toggled_settings_to_the_api():
    server = MattermostContainer("mm-conformance/mattermost:any")
    for key, value in NO_OUTGOING_TRAFFIC.items():
        assert server.env[key] == value
    assert server.env["MM_SERVICESETTINGS_ENABLESECURITYFIXALERT"] == "false"  # fetched at every start
    # An environment override would make PUT /config answer 200 and change nothing.
    assert "MM_SERVICESETTINGS_ENABLEUSERACCESSTOKENS" not in server.env


def test_a_database_snapshot_keeps_its_data_takes_a_new_password_and_not_the_old_one(postgres_image):
    """The mechanism of the pre-migrated databases (issue 10), on PostgreSQL alone."""
    snapshot = "mm-conformance/postgres:15-test-snapshot"
    sql = "sh -c \"PGPASSWORD='{password}' psql -h 127.0.0.1 -U {user} -d {database} -tAc '{query}'\""
    try:
        original = PostgresContainer(postgres_image)
        with original:
            code, output = original.exec(sql.format(password=original.password, user=original.user,
                                                    database=original.database,
                                                    query="create table migrated (version text)"))
            assert code == 0, output
            original.snapshot(snapshot, {SERVER_IMAGE_LABEL: "sha256:test"})
        assert image_labels(snapshot)[SERVER_IMAGE_LABEL] == "sha256:test"
        environment = docker.from_env().images.get(snapshot).attrs["Config"]["Env"]
        assert not any(original.password in variable for variable in environment)

        with PostgresContainer(snapshot) as restored:
            assert restored.password != original.password
            code, output = restored.exec(sql.format(password=restored.password, user=restored.user,
                                                    database=restored.database,
                                                    query="select count(*) from migrated"))
            assert code == 0, output
            assert output.decode().strip() == "0"
    finally:
        docker.from_env().images.remove(snapshot, force=True)
    assert leftovers() == []


def _labelled_image(tag: str, labels: dict[str, str]) -> None:
    dockerfile = f"FROM {BASE_IMAGE}\n" + "".join(f"LABEL {key}={value}\n" for key, value in labels.items())
    subprocess.run(["docker", "build", "-q", "-t", tag, "-"], input=dockerfile, text=True, check=True,
                   capture_output=True)


def test_a_deployment_starts_from_the_database_its_own_server_image_migrated_on_its_own_postgres_image():
    if image_labels(BASE_IMAGE) is None or image_labels(POSTGRES_IMAGE) is None:
        pytest.skip(f"infrastructure: {BASE_IMAGE} or {POSTGRES_IMAGE} is not built (mm-conformance images build)")
    server, other = "mm-conformance/mattermost:0.0.2", "mm-conformance/mattermost:0.0.3"
    other_postgres = "mm-conformance-test/postgres-other:15"
    made: list[str] = []
    with_users: dict[str, str] = {}
    try:
        for image, labels in ((server, {"test": "server"}), (other, {"test": "other"}),
                              (other_postgres, {"test": "another-postgres-image"})):
            _labelled_image(image, labels)
            made.append(image)
        server_id, postgres_id, other_postgres_id = image_id(server), image_id(POSTGRES_IMAGE), image_id(other_postgres)
        assert premigrated_database(server, POSTGRES_IMAGE) == POSTGRES_IMAGE  # no snapshot yet
        snapshot = snapshot_name(server_id, postgres_id)
        assert snapshot == f"{POSTGRES_IMAGE}-premigrated-{server_id[7:19]}-with-users"
        made.append(snapshot)
        _labelled_image(snapshot, {SERVER_IMAGE_LABEL: server_id})  # made on another PostgreSQL image
        assert premigrated_database(server, POSTGRES_IMAGE) == POSTGRES_IMAGE
        _labelled_image(snapshot, snapshot_labels(server_id, postgres_id))  # without its users and admin
        assert premigrated_database(server, POSTGRES_IMAGE) == POSTGRES_IMAGE
        secret_id, _ = new_admin_secret()
        with_users.update({PREMADE_LABEL: str(PREMADE_USERS - 1), ADMIN_SECRET_LABEL: secret_id})
        _labelled_image(snapshot, {**snapshot_labels(server_id, postgres_id), **with_users})
        assert premigrated_database(server, POSTGRES_IMAGE) == POSTGRES_IMAGE, "fewer users than now: made again"
        with_users[PREMADE_LABEL] = str(PREMADE_USERS)
        _labelled_image(snapshot, {**snapshot_labels(server_id, postgres_id), **with_users})
        assert premigrated_database(server, POSTGRES_IMAGE) == snapshot
        (ADMIN_SECRETS / secret_id).unlink()  # its admin's password is not kept here: made again
        assert premigrated_database(server, POSTGRES_IMAGE) == POSTGRES_IMAGE
        secret_id, _ = new_admin_secret()
        with_users[ADMIN_SECRET_LABEL] = secret_id
        _labelled_image(snapshot, {**snapshot_labels(server_id, postgres_id), **with_users})
        # Not for another server image (another ID), nor on another PostgreSQL image, whose snapshot
        # has a name of its own: never the official image's, nor the suite's.
        assert premigrated_database(other, POSTGRES_IMAGE) == POSTGRES_IMAGE
        assert premigrated_database(server, other_postgres) == other_postgres
        on_other = snapshot_name(server_id, other_postgres_id)
        assert on_other == (f"mm-conformance/postgres-premigrated:{server_id[7:19]}-on-{other_postgres_id[7:19]}"
                            "-with-users")
        made.append(on_other)
        _labelled_image(on_other, {**snapshot_labels(server_id, other_postgres_id), **with_users})
        assert premigrated_database(server, other_postgres) == on_other
        assert premigrated_database(server, POSTGRES_IMAGE) == snapshot
    finally:
        for image in made:
            subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True)
        if ADMIN_SECRET_LABEL in with_users:
            (ADMIN_SECRETS / with_users[ADMIN_SECRET_LABEL]).unlink(missing_ok=True)


def test_an_extra_server_that_fails_to_start_is_removed_at_once(postgres_image):
    # The PostgreSQL image without its password exits at once: an extra server crashing at start.
    stack = MattermostDeployment(MattermostServer(postgres_image), postgres_image=postgres_image)
    with pytest.raises(ContainerExited, match="POSTGRES_PASSWORD must be set"):
        stack._start_extra(MattermostContainer(postgres_image), "the subpath server")
    assert stack.stopped_containers() == []  # nothing of it is kept, running or not
    assert leftovers() == []


def test_an_endpoint_that_failed_to_start_fails_again_at_once():
    endpoints = StartedOnce()  # the bookkeeping of Endpoints' extras (and of the pool's endpoints)
    attempts = []

    def start():
        attempts.append("start")
        raise InfrastructureError("the subpath Mattermost for Mattermost 11.7 did not start: timeout")

    for _ in range(3):
        with pytest.raises(InfrastructureError, match="did not start: timeout"):
            endpoints.get("subpath", start)
    assert attempts == ["start"]


def test_an_endpoint_asked_for_while_another_starts_does_not_wait_for_it():
    """The background starting a second Mattermost (seconds) holds up no scenario that needs another extra."""
    endpoints = StartedOnce()
    slow_started, release = threading.Event(), threading.Event()

    def slow():
        slow_started.set()
        release.wait(10)
        return "subpath"

    background = threading.Thread(target=endpoints.get, args=("subpath", slow))
    background.start()
    try:
        assert slow_started.wait(10)
        waited = time.monotonic()
        assert endpoints.get("tls-proxy", lambda: "proxy") == "proxy"
        assert time.monotonic() - waited < 1.0
        assert not release.is_set() and "subpath" not in endpoints.started()
    finally:
        release.set()
        background.join()
    assert endpoints.get("subpath", lambda: "started twice") == "subpath"


def test_removing_a_stack_s_network_removes_a_container_only_created_on_it(nginx_image):
    """An interrupt can come between a container's creation and its start: the network does not
    list such a container as attached, and it must still go with the network."""
    network = suite_network()
    created = docker.from_env().containers.create(nginx_image, network=network.name,
                                                  labels=suite_labels("interrupted-start"))
    remove_network(network)
    assert leftovers() == [], f"{created.name} was left behind"


def test_a_container_killed_a_moment_ago_is_seen_stopped_by_the_health_asked_after_a_failure(postgres_image):
    """A killed container's processes die at once; the engine records its exit ~100 ms later. A server
    answers 500 on its dead database in between, and the scenario that failed on that answer must
    still learn that PostgreSQL stopped (found by .ci/run: the failure was called a suite error)."""
    stack = MattermostDeployment(MattermostServer(postgres_image), postgres_image=postgres_image)
    try:
        database = stack._start_extra(PostgresContainer(postgres_image), "PostgreSQL")
        container = database.get_wrapped_container()
        stat = Path(f"/proc/{container.attrs['State']['Pid']}/stat")
        killing = threading.Thread(target=container.kill)
        killing.start()
        deadline = time.monotonic() + 10
        while _process_alive(stat) and time.monotonic() < deadline:
            time.sleep(0.001)  # the moment a server would see its database connection die
        assert not _process_alive(stat), "PostgreSQL did not die within 10 s of its SIGKILL"
        assert stack.health(settle_s=1.5) == "PostgreSQL exited"
        killing.join()
    finally:
        stack.stop()
    assert leftovers() == []


def _process_alive(stat: Path) -> bool:
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has died, not yet been reaped
    except OSError:
        return False


def test_a_worker_waits_for_the_run_s_shared_deployment_and_attaches_or_starts_its_own(tmp_path, monkeypatch,
                                                                                        postgres_image):
    """The CLI starts each server while the workers boot; a worker that asks first waits for the start to end,
    then attaches to it (watching its containers), or, when it failed (no state), starts one itself."""
    import fcntl

    from mm_conformance.infra.shared import SHARED_DIR_ENV, SharedDeployments
    from mm_conformance.infra.warm import WarmState

    server_id = image_id(postgres_image)
    monkeypatch.setenv(SHARED_DIR_ENV, str(tmp_path))
    starting = WarmState.path(server_id, tmp_path).with_suffix(".starting").open("w")
    fcntl.flock(starting, fcntl.LOCK_EX)  # the CLI's start, going on
    state = WarmState(postgres_image, server_id, "http://127.0.0.1:9", "admin", "its password", "its dsn", "its net",
                      {"0123abcd": "PostgreSQL"}, str(tmp_path))
    asked: list[object] = []
    worker = threading.Thread(target=lambda: asked.append(SharedDeployments.state_for(postgres_image)))
    worker.start()
    worker.join(0.5)
    assert worker.is_alive() and asked == [], "the worker did not wait for the start to end"
    state.save()
    fcntl.flock(starting, fcntl.LOCK_UN)
    worker.join(5)
    assert asked == [state]
    WarmState.path(server_id, tmp_path).unlink()  # a start that failed leaves no state
    assert SharedDeployments.state_for(postgres_image) is None
    starting.close()


@pytest.fixture
def mattermost_image() -> str:
    from mm_conformance.infra.images import local_mattermost_images
    from mm_conformance.mattermost.servers import version_key

    images = local_mattermost_images()
    if not images:
        pytest.skip("infrastructure: no Mattermost image is packaged here (mm-conformance images build --from PATH)")
    return images[max(images, key=version_key)]


def test_a_dead_database_is_named_by_the_servers_own_check_when_the_engine_has_not_seen_it(mattermost_image):
    """Under load the engine may record a killed PostgreSQL's exit later than a failed scenario asks
    (CI, 2026-12-07: the 500 that followed was called a suite error). Then Mattermost's own database
    check names it: here the engine is made blind to the exit, and the database really killed."""
    stack = MattermostDeployment(MattermostServer(mattermost_image))
    try:
        deployment = stack.start()
        assert stack.health(settle_s=0.2) is None  # a healthy world: the database check passes
        database = next(c for c, role in stack._containers.items() if role == "PostgreSQL")
        database.get_wrapped_container().kill()
        stack.stopped_containers = lambda: []  # type: ignore[method-assign]  (the engine has not seen it yet)
        problem = stack.health(settle_s=0.2)
        assert problem is not None and problem.startswith("PostgreSQL: Mattermost's database check"), problem
        assert deployment.alive(), "Mattermost itself still answers"
    finally:
        stack.stop()
    assert leftovers() == []


def test_an_admin_call_to_a_frozen_server_is_named_within_seconds(mattermost_image):
    """A paused server accepts connections and answers nothing: the admin's call does not wait out
    its 30 s timeout; the health check, asked while it waits, names the server within seconds."""
    stack = MattermostDeployment(MattermostServer(mattermost_image))
    try:
        deployment = stack.start()
        deployment.admin.server_version()
        assert deployment.container is not None
        deployment.container.get_wrapped_container().pause()
        started = time.monotonic()
        with pytest.raises(InfrastructureError) as error:
            deployment.admin.server_version()
        waited = time.monotonic() - started
        assert "paused" in str(error.value) and str(deployment.name) in str(error.value), error.value
        assert waited < 8.0, f"named after {waited:.1f} s"
        deployment.container.get_wrapped_container().unpause()
    finally:
        stack.stop()
    assert leftovers() == []
