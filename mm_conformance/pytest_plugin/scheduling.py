"""Which scenarios run where: servers and implementations as parameters, the scopes pytest-xdist deals
out to its workers (a server's, or with spare workers its extras' and each other scenario), the extras
each scope will need, and the markers read from feature tags."""

from __future__ import annotations

import functools

import pytest
from pytest_bdd.scenario import make_python_name

from mm_conformance.infra.endpoints import EXTRA_NAMES, SECOND_SERVERS, with_what_they_need
from mm_conformance.infra.silent import SILENCES
from mm_conformance.mattermost.servers import (
    MattermostServer,
    oldest_first,
)
from mm_conformance.outcomes.trace_sources import load_scenarios
from mm_conformance.paths import SUITE_ROOT
from mm_conformance.protocol.adapters import (
    implementation_name,
)
from mm_conformance.pytest_plugin.results import (
    scenario_properties,
)
from mm_conformance.pytest_plugin.stash import EXTRAS, IMPLEMENTATIONS, SERVERS


@pytest.hookimpl(trylast=True)  # after -k and the like have deselected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.user_properties += [(key, value) for key, value in scenario_properties(item) if value]
    # The extras each server's scenarios will ask for start in the background once the server is
    # up; the scenarios that need none run first, to give them the time (each server's kept together).
    # By scope: a worker that runs only a server's silent-server scenarios starts none of the others' extras.
    needs: dict[pytest.Item, set[str]] = {item: with_what_they_need(declared_extras(item)) for item in items}
    extras: dict[str, set[str]] = {}
    first_of_server: dict[object, int] = {}
    for position, item in enumerate(items):
        server = server_of(item)
        first_of_server.setdefault(server, position)
        if isinstance(server, MattermostServer) and not item.get_closest_marker("upgrade"):
            extras.setdefault(scope_of(config, item), set()).update(needs[item])
    config.stash[EXTRAS] = extras
    # Each server's in the order its scenarios are best dealt out (see server_scope): those that wait
    # on a silent server first (seconds of waiting each, beside the others'), those that need no extra next,
    # then those that need the TLS proxy or the redirects only, and last those that need a second server.
    items.sort(key=lambda item: (first_of_server[server_of(item)], _rank(item, needs[item])))


def _rank(item: pytest.Item, needs: set[str]) -> int:
    if needs & SECOND_SERVERS:
        return 3
    if needs:
        return 2
    return 0 if _silence_of(item.nodeid) else 1


def scope_of(config: pytest.Config, item: pytest.Item) -> str:
    return server_scope(item.nodeid, config.stash.get(SERVERS, []), dealt_out=_dealt_out(config))


def server_of(item: pytest.Item) -> object:
    callspec = getattr(item, "callspec", None)  # parametrized items only
    return callspec.params.get("mattermost_server") if callspec is not None else None


def declared_extras(item: pytest.Item) -> frozenset[str]:
    """The extras the scenario's feature declares with ``@needs:<extra>`` tags (see pytest_bdd_apply_tag)."""
    return frozenset(extra for marker in item.iter_markers("needs") for extra in marker.args)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "mattermost_server" in metafunc.fixturenames:
        servers = metafunc.config.stash[SERVERS]
        if metafunc.definition.get_closest_marker("upgrade"):
            # One database, upgraded in place from the oldest server through each newer one in turn.
            oldest, *newer = oldest_first(servers)
            metafunc.parametrize("mattermost_server", [oldest], ids=[f"mm{oldest.id}"], scope="session")
            metafunc.parametrize("upgrade_path", [tuple(newer)], indirect=True,
                                 ids=["-".join(["to", *(server.id for server in newer)]) if newer
                                      else "no-newer-server"])
        else:
            metafunc.parametrize("mattermost_server", servers, ids=[f"mm{s.id}" for s in servers], scope="session")
    implementations = metafunc.config.stash[IMPLEMENTATIONS]
    if "implementation" in metafunc.fixturenames and len(implementations) > 1 and (
            "world" not in metafunc.fixturenames or metafunc.definition.get_closest_marker("own_world")):
        # A scenario whose credential changes the server runs once per implementation, each in a
        # world of its own; every other one is shared by all of them (see pytest_runtest_protocol).
        metafunc.parametrize("implementation", implementations, indirect=True, scope="session",
                             ids=[implementation_name(i) for i in implementations])


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """Which worker runs what: a scope (see :func:`server_scope`) goes whole to one worker, and
    pytest-xdist deals the biggest scopes out first, the rest in the order of the collection (see
    pytest_collection_modifyitems), each to a worker as it runs out of work."""
    servers = config.stash.get(SERVERS, [])
    dealt_out = _dealt_out(config)
    if len(servers) < 2 and not dealt_out:
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByServerAndExtras(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return server_scope(nodeid, servers, dealt_out=dealt_out)

    return ByServerAndExtras(config, log)


def _dealt_out(config: pytest.Config) -> bool:
    """Whether a server's scenarios are dealt out to several workers: there are more workers than
    servers (each server's deployment is then one the run's workers share, see SharedDeployments)."""
    workers = getattr(config.option, "numprocesses", None) or 0  # the same option in the controller and each worker
    return isinstance(workers, int) and workers > len(config.stash.get(SERVERS, []))


def server_scope(nodeid: str, servers: list[MattermostServer], *, dealt_out: bool = False) -> str:
    """What goes to one worker, read from a test id ("…[mm11.0.3-…]" or "…[mm11.0.3]", see
    pytest_generate_tests): the id of the server it runs on, so that each server's scenarios run
    in one worker, side by side with the other servers'; the test id itself for a test of no server.

    With ``dealt_out`` (more workers than servers), only the scenarios of a server that need its
    extras stay together, as "11.0.3 (extras)": the worker that runs them starts the extras once
    (a TLS proxy, redirects, two more Mattermost servers), ahead of them. Every other scenario is a
    scope of its own, and goes to whichever worker is free, those that wait on a silent server
    (idle seconds each) first.
    """
    for server in sorted(servers, key=lambda s: -len(s.id)):  # "mm11.0" must not take "mm11.0.3"'s
        if f"[mm{server.id}-" in nodeid or f"[mm{server.id}]" in nodeid:
            if not dealt_out:
                return server.id
            return f"{server.id} (extras)" if extras_needed(nodeid) else nodeid
    return nodeid


def _silence_of(nodeid: str) -> str | None:
    """The silence a scenario waits on (an Examples row of :data:`SILENCES`), or None."""
    return next((silence for silence in SILENCES if f"-{silence}" in nodeid), None)


@functools.cache
def _extras_by_test() -> dict[str, frozenset[str]]:
    """The extras each scenario declares (``@needs:<extra>``), by its test function's name: pytest-xdist's
    controller schedules by test id alone, before (and without) collecting a scenario itself."""
    return {f"test_{make_python_name(scenario.name)}": frozenset(
                tag.removeprefix("needs:") for tag in scenario.tags if tag.startswith("needs:"))
            for scenario in load_scenarios(SUITE_ROOT / "features")}


def extras_needed(nodeid: str) -> frozenset[str]:
    """The extras the scenario of test id ``nodeid`` declares, read from its feature file."""
    name = nodeid.rpartition("::")[2].partition("[")[0]
    return _extras_by_test().get(name, frozenset())


def pytest_bdd_apply_tag(tag: str, function) -> bool | None:
    """``@docs:<section>[:<step>]``, ``@beyond-docs``, ``@needs:<extra>`` and ``@own-world`` become the
    ``docs``, ``beyond_docs``, ``needs`` and ``own_world`` markers."""
    if tag.startswith("docs:"):
        _, section, *step = tag.split(":")
        pytest.mark.docs(section, step[0] if step else None)(function)
        return True
    if tag == "beyond-docs":
        pytest.mark.beyond_docs(function)
        return True
    if tag.startswith("needs:"):
        extra = tag.removeprefix("needs:")
        if extra not in EXTRA_NAMES:
            raise pytest.UsageError(f"@{tag}: no such extra; one of {', '.join(f'@needs:{e}' for e in EXTRA_NAMES)}")
        pytest.mark.needs(extra)(function)
        return True
    if tag == "own-world":
        pytest.mark.own_world(function)
        return True
    return None
