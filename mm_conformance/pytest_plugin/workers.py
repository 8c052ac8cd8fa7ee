"""What each pytest-xdist worker tells the controller: the servers it ran on, and the secrets it registered."""

from __future__ import annotations

import pytest

from mm_conformance.pytest_plugin.stash import POOL
from mm_conformance.redact import register_secret, registered_secrets


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A pytest-xdist worker tells the controller which servers it ran on, and every secret it registered."""
    if not hasattr(session.config, "workeroutput"):
        return
    output = session.config.workeroutput
    pool = session.config.stash.get(POOL, None)
    output["mm_conformance_servers"] = pool.versions if pool is not None else []
    # Over the worker's pipe to the controller, never to disk or output: the controller then
    # redacts them too, and the hygiene scan knows them (see cli._run_once).
    output["mm_conformance_secrets"] = sorted(registered_secrets())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """The controller learns from each worker the servers it ran on (the summary names them) and its secrets."""
    output = getattr(node, "workeroutput", {})
    config: pytest.Config = node.config  # type: ignore[attr-defined]  # xdist's WorkerController, untyped
    config.stash.setdefault(_WORKER_SERVERS, []).extend(output.get("mm_conformance_servers", []))
    for secret in output.get("mm_conformance_secrets", []):
        register_secret(secret)


_WORKER_SERVERS = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    pool = config.stash.get(POOL, None)
    # Once each: the workers of one server share its deployment, and each names it.
    servers = dict.fromkeys((pool.versions if pool is not None else []) + config.stash.get(_WORKER_SERVERS, []))
    if servers:
        terminalreporter.write_sep("-", "Mattermost servers")
        for line in servers:
            terminalreporter.write_line(line)
