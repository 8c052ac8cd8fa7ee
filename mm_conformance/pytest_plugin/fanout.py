"""One shared scenario, one report per implementation: each gets its own verdict from its own track."""

from __future__ import annotations

import copy
import json
from collections.abc import Generator
from dataclasses import replace

import pytest
from _pytest.runner import runtestprotocol

from mm_conformance.outcome import Outcome, Record
from mm_conformance.protocol.adapters import (
    implementation_name,
)
from mm_conformance.pytest_plugin.classify import broken_world, record_of, with_record
from mm_conformance.pytest_plugin.stash import IMPLEMENTATIONS, WORLD
from mm_conformance.redact import one_line
from mm_conformance.scenario.tracks import Track
from mm_conformance.scenario.verdicts import ConformanceFailure


def track_properties(track: Track) -> list[tuple[str, str]]:
    """What one implementation's report says of its side of the scenario (verdicts are built from these)."""
    properties = [("implementation", track.implementation.name)]
    properties += [("observation", o.describe()) for o in track.observations]
    properties += [("erratum", f"{ref}: {text}") for ref, text in track.errata]
    properties += [("warning", text) for text in track.warnings]
    if track.observations:
        properties.append(("outcome", json.dumps(track.observations[-1].summary())))
    properties += [("upgrade_step", step.as_property()) for step in track.upgrade_steps]
    return properties


def _shared_by_several(item: pytest.Item) -> bool:
    """A scenario that several implementations run side by side in one world (one test, a report each)."""
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else None
    return ("world" in getattr(item, "fixturenames", ()) and not (params and "implementation" in params)
            and len(item.config.stash[IMPLEMENTATIONS]) > 1)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """A shared scenario runs once, and is reported once per implementation, each with its own verdict.

    Each implementation gets the set-up and tear-down reports of the shared world and a
    call report of its own: failed with its own failure (or adapter breakdown) if it
    had one, else whatever the scenario as a whole came to (a pass, or one problem of
    the world for everybody).
    """
    if not _shared_by_several(item):
        return None
    reports = runtestprotocol(item, nextitem=nextitem, log=False)
    world = item.stash.get(WORLD, None)
    names = [implementation_name(impl) for impl in item.config.stash[IMPLEMENTATIONS]]
    tracks = world.tracks if world is not None else [None] * len(names)
    broken = (broken_world(item) if any(isinstance(getattr(t, "ended", None), ConformanceFailure) for t in tracks)
              else None)
    for name, track in zip(names, tracks, strict=False):
        nodeid = item.nodeid[:-1] + f"-{name}]" if item.nodeid.endswith("]") else f"{item.nodeid}[{name}]"
        item.ihook.pytest_runtest_logstart(nodeid=nodeid, location=item.location)
        for report in reports:
            report = _report_of(report, nodeid, name, track, broken)
            if hasattr(item.config, "workerinput"):
                # A pytest-xdist worker sends reports of its item's id only: the controller puts each
                # implementation's own id back (pytest_report_from_serializable below).
                setattr(report, "mm_conformance_nodeid", report.nodeid)  # noqa: B010 (an attribute of our own)
                report.nodeid = item.nodeid
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=nodeid, location=item.location)
    return True


@pytest.hookimpl(wrapper=True)
def pytest_report_from_serializable(config: pytest.Config, data: dict) -> Generator[None, object, object]:
    """In the controller, a report a worker sent for one implementation of a shared scenario gets its own id."""
    report = yield
    own = getattr(report, "mm_conformance_nodeid", None)
    if own:
        setattr(report, "nodeid", own)  # noqa: B010 (a TestReport or CollectReport: both have one)
    return report


def _report_of(shared: pytest.TestReport, nodeid: str, name: str, track: Track | None,
               broken: str | None) -> pytest.TestReport:
    report = copy.copy(shared)
    report.nodeid = nodeid
    properties = [(k, v) for k, v in shared.user_properties if k != "implementation"]
    ended = track.ended if track is not None else None
    if shared.when == "call" and ended is not None:
        # Its own failure, before anything that may have ended the scenario for the others.
        report.outcome, report.longrepr = "failed", one_line(str(ended))
        record = record_of(ended)
        if record.outcome is Outcome.FAIL:  # as the report words it: the whole message, on one line
            record = (Record(Outcome.INFRASTRUCTURE, f"during the scenario: {broken}") if broken
                      else replace(record, reason=report.longrepr))
        elif record.outcome in (Outcome.INFRASTRUCTURE, Outcome.NOTHING_OBSERVED):
            record = replace(record, reason=str(ended))  # the adapter broke, or it gave nothing to judge
        properties = with_record(properties, record)
    if shared.when == "teardown" and track is not None:
        properties += track_properties(track)
    else:
        properties.append(("implementation", name))
    report.user_properties = properties
    return report
