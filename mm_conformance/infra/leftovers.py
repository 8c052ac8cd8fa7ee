"""What the suite's runs leave in Docker: finding it by label, and removing it.

Every container, network and volume the suite creates carries the labels of
:func:`~mm_conformance.infra.containers.suite_labels`: its role, the run and the
process that made it. A run judges only its own leftovers; what an earlier run
left behind is what nobody will remove any more (its maker is gone).
"""

from __future__ import annotations

from typing import Any

from docker.errors import NotFound

from mm_conformance.infra.containers import OWNER_LABEL, RUN_ID, RUN_LABEL, SUITE_LABEL, owner_running
from mm_conformance.infra.engine import engine

#: The run id of everything a warm deployment is made of: no run's own, kept until ``down``.
WARM_RUN = "warm"

#: A container, network or volume as docker-py returns it, with its kind ("container", "network", "volume").
Thing = tuple[str, Any]


def suite_things(label: str) -> list[Thing]:
    """Containers, networks and volumes carrying ``label`` (a key, or key=value), each with its kind."""
    client = engine()
    # ignore_removed: a container another run removes between the list and its inspection is gone, not an error
    return ([("container", c) for c in client.containers.list(all=True, filters={"label": label}, ignore_removed=True)]
            + [("network", n) for n in client.networks.list(filters={"label": label})]
            + [("volume", v) for v in client.volumes.list(filters={"label": label})])


def named(things: list[Thing]) -> list[str]:
    """How reports name them: ``container mm-…``."""
    return [f"{kind} {thing.name}" for kind, thing in things]


def leftovers() -> list[str]:
    """This run's containers, networks and volumes still present (tests assert there are none)."""
    return named(suite_things(f"{RUN_LABEL}={RUN_ID}"))


def earlier_runs_leftovers() -> list[str]:
    """What earlier runs left behind (a run stopped hard): the suite's things whose maker is gone.

    Another run still in progress on this machine is not an earlier run: its things are in
    use; nor is a warm deployment (``mm-conformance up``), kept on purpose.
    """
    return named([(kind, thing) for kind, thing in suite_things(SUITE_LABEL)
                  if _left_behind(thing) and _labels(thing).get(RUN_LABEL) != WARM_RUN])


def remove_left_behind() -> tuple[list[str], int]:
    """Remove the suite's things that no running process of this machine owns (and this run's own).

    Returns what was removed, and how many things were kept because the run that made
    them is still in progress on this machine (removing them would break it). Nothing
    without the suite's label is touched.
    """
    removable, kept = [], 0
    for kind, thing in suite_things(SUITE_LABEL):
        if not _left_behind(thing) and _labels(thing).get(RUN_LABEL) != RUN_ID:
            kept += 1
        else:
            removable.append((kind, thing))
    remove(removable)
    return named(removable), kept


def remove(things: list[Thing]) -> None:
    """Containers first (they hold the networks and volumes), then networks, then volumes."""
    order = {"container": 0, "network": 1, "volume": 2}
    for kind, thing in sorted(things, key=lambda pair: order[pair[0]]):
        try:
            if kind == "container":
                thing.remove(force=True, v=True)
            elif kind == "volume":
                thing.remove(force=True)
            else:
                thing.remove()
        except NotFound:
            pass


def _labels(thing: Any) -> dict[str, str]:
    attrs = thing.attrs
    return (attrs.get("Config", {}).get("Labels") if "Config" in attrs else attrs.get("Labels")) or {}


def _left_behind(thing: Any) -> bool:
    """Not of this run, and the process that made it is gone: nobody will remove it."""
    labels = _labels(thing)
    return labels.get(RUN_LABEL) != RUN_ID and not owner_running(labels.get(OWNER_LABEL, ""))
