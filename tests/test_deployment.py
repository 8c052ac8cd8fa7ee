"""The world's machinery against a real Docker engine: no container may be left behind.

These tests never stand anything in for Mattermost: they check the PostgreSQL
image, and that a server that is missing or dies at start is reported as an
infrastructure problem with one line, with everything removed afterwards.
"""

import pytest

from mm_conformance.containers import NO_OUTGOING_TRAFFIC, ContainerExited, MattermostContainer, PostgresContainer
from mm_conformance.deployment import MattermostDeployment, leftover_containers
from mm_conformance.errors import InfrastructureError
from mm_conformance.images import POSTGRES_IMAGE, image_labels, select_lines

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
