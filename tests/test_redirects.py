"""Base URLs that answer with a redirect, through the real reference and a defective adapter.

No Mattermost is needed: a redirect is answered before anything would reach a
server. What runs for real is everything between a scenario's steps and the
recorder — the steps of features/redirects.feature, the world, the deployment's
endpoints (``Endpoints.redirects`` → ``MattermostDeployment.start_redirects``),
both nginx containers, and the implementations over protocol v1. Only the
deployment's own server and TLS proxy are left out (:class:`_NoServer`); the
token is made up, since nothing here checks it.
"""

from __future__ import annotations

import secrets
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from mm_conformance.mattermost.admin import AccessToken
from mm_conformance.infra.containers import ContainerExited
from mm_conformance.infra.deployment import Deployment, MattermostDeployment
from mm_conformance.infra.endpoints import Endpoints
from mm_conformance.errors import NothingObserved
from mm_conformance.protocol.runner import Implementation, reference_command
from mm_conformance.protocol.wire import ErrorKind
from mm_conformance.mattermost.servers import MattermostServer
from mm_conformance.infra.redirects import READY_PATH, REDIRECTS, STATUS, TARGET_USER, RedirectEndpoints
from mm_conformance.scenario.verdicts import ConformanceFailure
from mm_conformance.mattermost.settings import ServerSettings
from mm_conformance.scenario.world import ScenarioWorld
from steps import credential_steps as steps

ROOT = Path(__file__).resolve().parent.parent
DEFECTIVE = f"{sys.executable} {ROOT / 'tests' / 'defective' / 'adapter.py'} follows-redirects-with-token"
#: A fresh token per run; the reference registers it for redaction.
TOKEN = secrets.token_urlsafe(24)
#: The scenarios' phrases for the listeners, as in features/redirects.feature.
WHERE = ["to another host", "to another host on the same port", "to another port on the same host", "to plain http",
         "with a 303 to another host", "with a 308 to another host"]


class _NoServer(MattermostDeployment):
    """A deployment that was never started: it offers only what needs no Mattermost."""

    def __init__(self) -> None:
        super().__init__(MattermostServer("not-used"))

    def start_tls_proxy(self, cases):  # nothing to put a proxy in front of
        return None


@pytest.fixture(scope="module")
def endpoints(nginx_image: str) -> Iterator[Endpoints]:
    deployment = _NoServer()
    endpoints = Endpoints(deployment)
    try:
        endpoints.redirects()  # started here, so the tests' timings do not include it
        yield endpoints
    finally:
        endpoints.close()
        deployment.stop()  # removes both containers, as at the end of a real run


@pytest.fixture(scope="module")
def reference() -> Iterator[Implementation]:
    with Implementation("reference", reference_command(), timeout_s=30) as implementation:
        yield implementation


@pytest.fixture(scope="module")
def defective() -> Iterator[Implementation]:
    with Implementation("defective", DEFECTIVE, timeout_s=30) as implementation:
        yield implementation


class _AlwaysAlive(Deployment):
    """These steps never reach Mattermost: the redirect endpoints answer on their own."""

    def alive(self) -> bool:
        return True


def world(implementation: Implementation, endpoints: Endpoints) -> ScenarioWorld:
    """A scenario's world as the plugin makes it, holding a made-up token for "remy"."""
    deployment = _AlwaysAlive("http://127.0.0.1:9/", admin=None, version=None)  # type: ignore[arg-type]
    scenario = ScenarioWorld(deployment, implementation, ServerSettings(None),  # type: ignore[arg-type]
                             endpoints_of_deployment=lambda: endpoints)
    scenario.tokens["remy"] = AccessToken("token-id", TOKEN, "remy-id", "n8n integration")
    return scenario


@pytest.mark.parametrize("where", WHERE)
def test_the_reference_reports_the_redirect_and_the_token_stays_behind(
        endpoints: Endpoints, reference: Implementation, where: str) -> None:
    redirects, name = endpoints.redirects(), "-".join(where.split())
    scenario = world(reference, endpoints)
    steps.use_from_redirecting_base_url(scenario, "a node read", where)
    steps.nothing_followed_redirect(scenario, where)  # the scenario's verdict: passes

    last = scenario.tracks[0].observations[-1]  # outside a step the world has no implementation in focus
    outcome = last.outcome
    status = redirects.redirects[name].status
    assert (outcome.error_kind, outcome.status) == (ErrorKind.HTTP, status), last.describe()
    assert f"redirect to {redirects.target_url(name)}api/v4/users/me not followed" in (outcome.error_message or "")
    assert redirects.requests_at_target(name) == 0  # not followed at all


@pytest.mark.parametrize("where", WHERE)
def test_a_client_that_authenticates_every_hop_carries_the_token_to_the_target(
        endpoints: Endpoints, defective: Implementation, where: str) -> None:
    redirects, name = endpoints.redirects(), "-".join(where.split())
    scenario = world(defective, endpoints)
    arrived_before = redirects.credentials_passed(name)
    steps.use_from_redirecting_base_url(scenario, "a node read", where)
    with pytest.raises(ConformanceFailure, match=f"the token followed the redirect {where}"):
        steps.nothing_followed_redirect(scenario, where)

    last = scenario.tracks[0].observations[-1]  # outside a step the world has no implementation in focus
    outcome = last.outcome
    assert outcome.ok and outcome.body == TARGET_USER, last.describe()  # it "worked"
    assert redirects.credentials_passed(name) == arrived_before + 1


def test_a_scenario_that_never_reached_the_redirect_gives_no_verdict(
        endpoints: Endpoints, reference: Implementation) -> None:
    scenario = world(reference, endpoints)
    steps.use_from_redirecting_base_url(scenario, "a node read", "to another host")
    scenario.tracks[0].redirects_answered = 0  # as if it had never asked
    with pytest.raises(NothingObserved, match="observed nothing") as error:
        steps.nothing_followed_redirect(scenario, "to another host")
    assert not isinstance(error.value, ConformanceFailure)  # no verdict, for this implementation only


@pytest.mark.parametrize("name", [r.name for r in REDIRECTS])
def test_httpx_drops_the_authorization_header_by_itself_but_not_a_token_in_the_query(
        endpoints: Endpoints, name: str) -> None:
    # httpx (0.28) follows redirects only when asked (follow_redirects=True; requests
    # does by default). On a hop to another origin (scheme, host or port) it removes
    # Authorization, except for an http -> https upgrade of the same host on the
    # default ports, and it never carries the Cookie header over. The URL is what
    # the server says, so an access_token query parameter goes wherever it points.
    # Both listeners are cross-origin, so this is the baseline an implementation
    # must not break (as the defective adapter does, re-adding the header in a hook).
    redirects = endpoints.redirects()
    strict = ssl.create_default_context(cafile=endpoints.ca_file)  # the target must pass it too
    before = (redirects.requests_at_target(name), redirects.credentials_passed(name))
    with httpx.Client(verify=strict, follow_redirects=True, trust_env=False) as client:
        by_header = client.get(redirects.url(name) + "api/v4/users/me", headers={"Authorization": f"Bearer {TOKEN}"})
        assert (by_header.status_code, by_header.json()) == (200, TARGET_USER)
        assert redirects.credentials_passed(name) == before[1]
        by_query = client.get(redirects.url(name) + "api/v4/users/me", params={"access_token": TOKEN})
        assert by_query.status_code == 200
    assert redirects.requests_at_target(name) == before[0] + 2
    assert redirects.credentials_passed(name) == before[1] + 1  # the query parameter's


@pytest.mark.parametrize("name", [r.name for r in REDIRECTS])
def test_the_location_keeps_path_and_query_and_the_probe_is_never_logged(
        endpoints: Endpoints, name: str) -> None:
    redirects = endpoints.redirects()
    redirect = redirects.redirects[name]
    with httpx.Client(verify=False, trust_env=False) as client:
        answer = client.get(redirects.url(name) + "api/v4/users/me?page=2")
        probe = client.get(redirects.url(name) + READY_PATH.lstrip("/"))
    assert answer.status_code == redirect.status
    assert answer.headers["location"] == redirects.target_url(name) + "api/v4/users/me?page=2"
    assert redirects.target_url(name).startswith(f"{redirect.scheme}://{redirect.host}:")
    own_port = redirects.url(name).rsplit(":", 1)[1]
    assert (redirects.target_url(name).rsplit(":", 1)[1] == own_port) == redirect.same_port  # one origin part each
    assert probe.status_code == 204
    assert not any(READY_PATH in line for line in redirects.access_log(name) + redirects.target_access_log(name))


@pytest.mark.parametrize("name, resent", [("to-another-host-on-the-same-port", True),
                                          ("with-a-308-to-another-host", True), ("with-a-303-to-another-host", False)])
def test_the_recorder_counts_a_write_that_followed_the_redirect(endpoints: Endpoints, name: str, resent: bool) -> None:
    # httpx re-sends a POST on 307 and 308 and turns it into a GET on 303 (RFC 9110, 15.4).
    redirects = endpoints.redirects()
    before = redirects.writes_at_target(name)
    with httpx.Client(verify=False, trust_env=False, follow_redirects=True) as client:
        answer = client.post(redirects.url(name) + "api/v4/posts", json={"message": "where does it go?"})
    assert (answer.status_code, answer.json()) == (200, TARGET_USER)
    assert redirects.writes_at_target(name) == before + resent


def test_a_redirect_nginx_that_cannot_start_leaves_no_container(nginx_image: str, tmp_path: Path) -> None:
    from mm_conformance.infra.certificates import make_cases

    created: list[str] = []

    class Broken(RedirectEndpoints):
        """The recorder starts; the redirecting nginx exits on a configuration it cannot read."""

        def nginx_conf(self) -> str:
            return "this is not an nginx configuration;\n"

        def stop(self, force: bool = True, delete_volume: bool = True) -> None:
            created.extend(c._container.id for c in (self, self.recorder) if c is not None and c._container)
            super().stop(force, delete_volume)

    with pytest.raises(ContainerExited, match="redirects nginx .* exited while starting"):
        with Broken(make_cases(tmp_path)["trusted"], image=nginx_image):
            pass
    assert len(set(created)) == 2  # both had been created (stop may run more than once) ...
    client = docker.from_env()
    assert [c for i in created for c in client.containers.list(all=True, filters={"id": i})] == []  # ... and removed


def test_redirects_are_named_and_there_is_at_least_one(tmp_path: Path) -> None:
    from mm_conformance.infra.certificates import make_cases
    from mm_conformance.infra.redirects import Redirect

    trusted = make_cases(tmp_path)["trusted"]
    with pytest.raises(ValueError, match="at least one redirect"):
        RedirectEndpoints(trusted, redirects=()).start()
    with pytest.raises(ValueError, match="is not new"):
        RedirectEndpoints(trusted).with_redirect(REDIRECTS[0])
    with pytest.raises(ValueError, match="http or https"):
        RedirectEndpoints(trusted).with_redirect(Redirect("to-ftp", "ftp", another_host=False))


def test_the_logs_never_show_the_token(endpoints: Endpoints) -> None:
    # Last in the module: by now the token has been sent every way the tests send it.
    redirects = endpoints.redirects()
    assert redirects.recorder is not None
    everything = [line for name in redirects.names
                  for line in redirects.access_log(name) + redirects.target_access_log(name)]
    for container in (redirects, redirects.recorder):
        stdout, stderr = container.get_logs()
        everything += [stdout.decode(), stderr.decode()]
    assert everything and TOKEN not in "\n".join(everything)
