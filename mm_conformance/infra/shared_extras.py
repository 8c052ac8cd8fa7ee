"""The extras of a deployment that several processes use: a run's workers, a warm deployment's runs.

Each extra (the TLS proxy, the redirects, the TLS-terminating and the subpath server) is
started once for the deployment, by the first process that asks for it, under a lock;
the containers it is made of are recorded beside the deployment's state, and every
other process adopts them from that record. They belong to the deployment (its labels:
:attr:`WarmState.run_id`, :attr:`WarmState.owner`) and go with it: a run's shared
deployments with the run (:class:`~mm_conformance.infra.shared.SharedDeployments`), a warm
one with ``mm-conformance down``. So a warm deployment's runs start no container at all.

The certificates are the deployment's too, made once by the first process that needs
them (every listener and the implementations' ``caFile`` must agree, also between runs
that use a warm deployment at once), in a directory only its owner reads, removed with
the deployment; each run that starts a deployment of its own makes its own.

Several processes' scenarios use one listener side by side: one that counts what reached
a listener around its own use holds that listener while it does (:meth:`counting`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from docker.errors import DockerException, NotFound

from mm_conformance.infra.certificates import CertificateCases, make_cases, read_cases
from mm_conformance.infra.containers import container_states, labelled_as
from mm_conformance.infra.engine import engine
from mm_conformance.infra.warm import WarmState

V = TypeVar("V")
#: What a process records of an extra it started: ``ids`` (its containers), and what else others need.
Record = dict[str, Any]


class SharedExtras:
    """The shared extras of the deployment ``state`` records::

        extras = SharedExtras(state)
        cases = extras.certificates()
        proxy = extras.get("tls-proxy", start=start_proxy, adopt=adopt_proxy)
        with extras.counting("tls-proxy", "expired"):
            ...   # no other process's scenario counts on that listener meanwhile
    """

    def __init__(self, state: WarmState) -> None:
        self.directory = state.extras_dir
        self._labels = (state.run_id, state.owner)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def certificates(self) -> CertificateCases:
        """The deployment's certificate cases: made by the first process that asks, read by the others."""
        directory = self.directory / "certificates"
        with self._locked("certificates"):
            try:
                return read_cases(directory)
            except OSError:  # none yet, or half-made by a process that died
                shutil.rmtree(directory, ignore_errors=True)
                return make_cases(directory)

    def get(self, name: str, *, start: Callable[[], tuple[V, Record]], adopt: Callable[[Record], V]) -> V:
        """Extra ``name``: adopted from its record if its containers still run, else ``start()``ed
        now (labelled as the deployment's) and recorded. A process that asks while another starts
        it waits for it. An InfrastructureError of ``start`` is raised, and the next to ask tries again."""
        record_file = self.directory / f"{name}.json"
        with self._locked(name):
            if record_file.is_file():
                record: Record = json.loads(record_file.read_text())
                if _all_running(record["ids"]):
                    return adopt(record)
            with labelled_as(*self._labels):
                value, record = start()
            record_file.write_text(json.dumps(record))
            return value

    def recorded(self) -> list[str]:
        """The extras started for the deployment so far, by name."""
        return sorted(path.stem for path in self.directory.glob("*.json"))

    @contextlib.contextmanager
    def counting(self, extra: str, listener: str) -> Iterator[None]:
        """Hold ``extra``'s ``listener`` while counting what reaches it around one use: another process's
        scenario that counts there waits (flock: released by the kernel if a process dies)."""
        with self._locked(f"{extra}-{listener}.counting"):
            yield

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        with (self.directory / f"{name}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    @staticmethod
    def remove(state: WarmState) -> None:
        """Remove the extras recorded for ``state``'s deployment, and their certificates."""
        for record_file in state.extras_dir.glob("*.json") if state.extras_dir.is_dir() else []:
            for container_id in json.loads(record_file.read_text()).get("ids", []):
                with contextlib.suppress(NotFound, DockerException):
                    engine().containers.get(container_id).remove(force=True, v=True)
        shutil.rmtree(state.extras_dir, ignore_errors=True)


def _all_running(ids: list[str]) -> bool:
    try:
        states = container_states(ids)
    except DockerException:
        return False
    return all(states.get(container_id) == "running" for container_id in ids)
