"""The world's machinery against a real Docker engine: no container may be left behind.

These tests never stand anything in for Mattermost: they check the PostgreSQL
image and its snapshots, that a server that is missing or dies at start is reported
as an infrastructure problem with one line, with everything removed afterwards, and
which database image a deployment picks (from image labels only: nothing is started).
"""

import subprocess

import docker
import pytest

from mm_conformance.containers import NO_OUTGOING_TRAFFIC, ContainerExited, MattermostContainer, PostgresContainer
from mm_conformance.deployment import MattermostDeployment, leftover_containers, premigrated_database
from mm_conformance.endpoints import Endpoints
from mm_conformance.errors import InfrastructureError
from mm_conformance.images import BASE_IMAGE, POSTGRES_IMAGE, ReleaseLine, image_labels, select_lines

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
    assert leftover_containers() == []


def test_missing_server_image_is_one_line_and_leaves_nothing(postgres_image):
    line = select_lines("esr")[0]
    stack = MattermostDeployment(line, image="mm-conformance/mattermost:does-not-exist",
                                 postgres_image=postgres_image)
    with pytest.raises(InfrastructureError) as error:
        stack.start()
    assert "mm-conformance/mattermost:does-not-exist is not built" in str(error.value)
    assert "\n" not in str(error.value)
    assert leftover_containers() == []


def test_server_that_exits_at_start_is_named_fast_and_removed(postgres_image):
    # The PostgreSQL image started without its password exits at once: a server crash at start.
    line = select_lines("esr")[0]
    stack = MattermostDeployment(line, image=postgres_image, postgres_image=postgres_image)
    with pytest.raises(ContainerExited) as error:
        stack.start()
    assert "exited while starting" in str(error.value)
    assert "POSTGRES_PASSWORD must be set" in str(error.value)
    assert leftover_containers() == []


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
            original.snapshot(snapshot, {"io.github.mm-conformance.module-version": "v0.0.0-test"})
        assert image_labels(snapshot)["io.github.mm-conformance.module-version"] == "v0.0.0-test"
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
    assert leftover_containers() == []


def _labelled_image(tag: str, module_version: str) -> None:
    dockerfile = f"FROM {BASE_IMAGE}\nLABEL io.github.mm-conformance.module-version={module_version}\n"
    subprocess.run(["docker", "build", "-q", "-t", tag, "-"], input=dockerfile, text=True, check=True,
                   capture_output=True)


def test_a_deployment_starts_from_the_snapshot_its_server_version_migrated():
    if image_labels(BASE_IMAGE) is None:
        pytest.skip(f"infrastructure: {BASE_IMAGE} is not built (mm-conformance images build)")
    line = ReleaseLine("test-line", "release-test", "", "v8.0.0-20260101000000-aaaaaaaaaaaa")
    try:
        _labelled_image(line.image, line.module_version)
        assert premigrated_database(line, line.image, POSTGRES_IMAGE) == POSTGRES_IMAGE  # no snapshot yet
        _labelled_image(line.premigrated_image, line.module_version)
        assert premigrated_database(line, line.image, POSTGRES_IMAGE) == line.premigrated_image
        # Not for another server image, nor when another PostgreSQL was asked for.
        assert premigrated_database(line, "mattermost/mattermost-team-edition:11.7", POSTGRES_IMAGE) == POSTGRES_IMAGE
        assert premigrated_database(line, line.image, "postgres:15") == "postgres:15"
        _labelled_image(line.premigrated_image, "v8.0.0-20250101000000-bbbbbbbbbbbb")  # migrated by another build
        assert premigrated_database(line, line.image, POSTGRES_IMAGE) == POSTGRES_IMAGE
    finally:
        for image in (line.image, line.premigrated_image):
            subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True)


def test_an_extra_server_that_fails_to_start_is_removed_at_once(postgres_image):
    # The PostgreSQL image without its password exits at once: an extra server crashing at start.
    stack = MattermostDeployment(select_lines("esr")[0], image=postgres_image, postgres_image=postgres_image)
    with pytest.raises(ContainerExited, match="POSTGRES_PASSWORD must be set"):
        stack._start_extra(MattermostContainer(postgres_image), "the subpath Mattermost")
    assert stack.stopped_containers() == []  # nothing of it is kept, running or not
    assert leftover_containers() == []


def test_an_endpoint_that_failed_to_start_fails_again_at_once():
    endpoints = Endpoints.__new__(Endpoints)  # only its bookkeeping: no deployment behind it
    endpoints._started, endpoints._failed = {}, {}
    attempts = []

    def start():
        attempts.append("start")
        raise InfrastructureError("the subpath Mattermost for Mattermost 11.7 did not start: timeout")

    for _ in range(3):
        with pytest.raises(InfrastructureError, match="did not start: timeout"):
            endpoints._once("subpath", start)
    assert attempts == ["start"]
