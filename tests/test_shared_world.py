"""Implementations side by side share a scenario's world, never their verdicts or their state.

Runs small scenarios through the suite's real plugin with two real adapter
processes (small fakes of an adapter, no Mattermost: the scenarios here only
talk to the adapters): one answers every request correctly, the other leaks the
token into its error message. Each must get its own report, row and verdict.
"""

import shlex
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from mm_conformance.protocol.runner import Implementation
from mm_conformance.protocol.wire import Credential
from mm_conformance.scenario.tracks import EveryImplementationEnded, each_implementation
from mm_conformance.scenario.verdicts import ConformanceFailure
from mm_conformance.scenario.world import ScenarioWorld

FAKES = Path(__file__).parent / "fake_adapters"
TOKEN = "kq4t3ym1mjdwpqkk3bxq5bfp4a"


def fake(name: str, *args: str) -> str:
    return shlex.join([sys.executable, str(FAKES / f"{name}.py"), *args])


SCENARIOS = f'''
import pytest
from mm_conformance.pytest_plugin.stash import WORLD as _WORLD
from mm_conformance.scenario import verdicts
from mm_conformance.errors import NothingObserved
from mm_conformance.scenario.tracks import each_implementation
from mm_conformance.scenario.world import ScenarioWorld


class NoServer:
    base_url = "http://127.0.0.1:9"
    def alive(self):
        return True


@pytest.fixture
def world(implementations, request):
    scenario = ScenarioWorld(NoServer(), list(implementations.values()), None)
    request.node.stash[_WORLD] = scenario
    yield scenario


@each_implementation
def ask(world, endpoint):
    world.request(world.credential("{TOKEN}"), endpoint)


@each_implementation
def refused_as_auth(world):
    verdicts.expect_refusal(world.last, "auth", 401)


@each_implementation
def succeeds(world):
    verdicts.expect_success(world.last, 200)


def test_a_refusal_then_another_request(world):
    ask(world, "users/me")
    refused_as_auth(world)
    ask(world, "users/me/teams")
    refused_as_auth(world)
    assert [len(track.observations) for track in world.tracks] == [2, 1], "the leaky one stopped after its leak"


def test_every_implementation_fails(world):
    ask(world, "users/me")
    succeeds(world)
    raise AssertionError("never reached: every implementation ended at the step before")


def test_a_problem_of_the_world_is_everybodys(world):
    ask(world, "users/me")
    raise RuntimeError("the suite broke")


@each_implementation
def nothing_observed_for_the_leaky_one(world):
    if world.implementation.name == "leaky":
        raise NothingObserved("the implementation never asked what the rule is about")


def test_nothing_observed_is_one_implementations_own(world):
    nothing_observed_for_the_leaky_one(world)
    ask(world, "users/me")
    refused_as_auth(world)
'''


def run_shared(pytester, *args: str):
    from mm_conformance.pytest_plugin.results import Collector

    pytester.makepyfile(test_shared=SCENARIOS)
    collector = Collector()
    result = pytester.runpytest_inprocess(
        "-p", "fixtures.plugin", "-p", "no:cacheprovider", "--impl", f"good={fake('tells_token', 'nowhere')}",
        "--impl", f"leaky={fake('tells_token', 'message')}", *args, plugins=[collector])
    return result, {(r.name, r.implementation): r for r in collector.results}


def test_each_implementation_gets_its_own_report_and_verdict(pytester):
    result, results = run_shared(pytester, f"--junitxml={pytester.path / 'junit.xml'}")
    assert results[("test_a_refusal_then_another_request[good]", "good")].verdict == "pass"
    leaky = results[("test_a_refusal_then_another_request[leaky]", "leaky")]
    assert (leaky.verdict, leaky.severity) == ("fail", "security")
    assert leaky.reason == "the credential leaked the access token into its error message"
    assert len(leaky.observations) == 1 and len(results[("test_a_refusal_then_another_request[good]", "good")]
                                                  .observations) == 2
    # When every implementation has failed, each keeps its own reason.
    assert results[("test_every_implementation_fails[good]", "good")].reason.startswith("expected success with status")
    assert "leaked the access token" in results[("test_every_implementation_fails[leaky]", "leaky")].reason
    # A problem of the world is no verdict, for everybody.
    for name in ("good", "leaky"):
        broke = results[(f"test_a_problem_of_the_world_is_everybodys[{name}]", name)]
        assert broke.verdict == ("error" if name == "good" else "fail"), broke  # leaky had already failed
    # An implementation that gave a scenario nothing to judge has no verdict there; the other keeps its own.
    assert results[("test_nothing_observed_is_one_implementations_own[good]", "good")].verdict == "pass"
    nothing = results[("test_nothing_observed_is_one_implementations_own[leaky]", "leaky")]
    assert (nothing.verdict, nothing.reason) == (
        "error", "nothing to judge (no verdict): the implementation never asked what the rule is about")
    junit = (pytester.path / "junit.xml").read_text()
    assert junit.count("<testcase ") == 8  # a row per implementation and scenario
    assert TOKEN not in junit


def test_a_single_track_raises_as_it_always_did():
    with Implementation("good", fake("tells_token", "nowhere")) as implementation:
        world = ScenarioWorld(SimpleNamespace(base_url="http://127.0.0.1:9", alive=lambda: True), implementation,
                              None)  # type: ignore[arg-type]
        world.for_each_implementation(lambda: world.request(Credential(TOKEN, "http://127.0.0.1:9"), "users/me"))
        with pytest.raises(ConformanceFailure, match="expected success"):
            world.for_each_implementation(lambda: _expect_ok(world))
        assert world.tracks[0].ended is not None


def _expect_ok(world):
    from mm_conformance.scenario import verdicts

    verdicts.expect_success(world.last, 200)


def test_a_step_that_forgets_its_decorator_fails_with_one_implementation_too():
    """A forgotten @each_implementation does not wait for a run with two implementations to show."""
    with Implementation("a", fake("echo_ok")) as a:
        world = ScenarioWorld(SimpleNamespace(base_url="http://127.0.0.1:9", alive=lambda: True), [a],
                              None)  # type: ignore[arg-type]
        with pytest.raises(AssertionError, match="@each_implementation"):
            world.request(Credential(TOKEN, "http://127.0.0.1:9"), "users/me")


def test_a_step_that_uses_the_implementation_must_say_so():
    with Implementation("a", fake("echo_ok")) as a, Implementation("b", fake("echo_ok")) as b:
        world = ScenarioWorld(SimpleNamespace(base_url="http://127.0.0.1:9", alive=lambda: True), [a, b],
                              None)  # type: ignore[arg-type]
        with pytest.raises(AssertionError, match="@each_implementation"):
            world.request(Credential(TOKEN, "http://127.0.0.1:9"), "users/me")

        @each_implementation(at_once=True)
        def ask(world):
            world.request(Credential(TOKEN, "http://127.0.0.1:9"), "users/me")

        ask(world)
        assert [track.observations[0].outcome.body["id"] for track in world.tracks] == [1, 1]  # each its own process

        @each_implementation
        def fails(world):
            raise ConformanceFailure(f"{world.implementation.name} failed")

        with pytest.raises(EveryImplementationEnded):
            fails(world)
        assert [str(track.ended) for track in world.tracks] == ["a failed", "b failed"]
