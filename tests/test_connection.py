"""The suite reaches the containers it starts on 127.0.0.1, inside a container or not.

Inside a container (``/.dockerenv``), testcontainers on its own picks its
``gateway_ip`` mode and probes ``172.x.0.1:<port>``, while the suite publishes
every port on loopback only: this test then times out. Run it with
``TESTCONTAINERS_CONNECTION_MODE=gateway_ip`` on such a machine to see it fail.
"""

from testcontainers.core.config import ConnectionMode, testcontainers_config
from testcontainers.core.container import DockerContainer

from mm_conformance.infra.containers import _ReadyWhileRunning, suite_labels
from mm_conformance.infra.leftovers import leftovers

NGINX_CONF = b"""events {}
http { server { listen 8080; location / { default_type application/json; return 200 '{"status": "OK"}'; } } }
"""


def test_the_suite_talks_to_a_local_engine_through_its_published_ports():
    assert testcontainers_config.connection_mode_override == ConnectionMode.docker_host
    assert testcontainers_config.tc_host_override == "127.0.0.1"


def test_a_port_published_on_loopback_is_waited_on_through_the_suites_wait_strategy(nginx_image):
    probe = DockerContainer(nginx_image, labels=suite_labels("connection-probe"))
    probe.ports["8080/tcp"] = ("127.0.0.1", None)  # as MattermostContainer publishes its port
    probe.with_copy_into_container(NGINX_CONF, "/etc/nginx/nginx.conf")
    probe.waiting_for(_ReadyWhileRunning(8080, "/api/v4/system/ping")
                      .for_response_predicate(lambda body: '"status": "OK"' in body)
                      .with_startup_timeout(20).with_poll_interval(0.25))
    with probe:
        assert probe.get_container_host_ip() == "127.0.0.1"
    assert leftovers() == []
