"""A run's results on disk, the diff between two runs, and declared expected deviations.

``results.json`` (written by ``mm-conformance run --report DIR``) holds one entry
per scenario and server: verdict, observed status, error kind and
Mattermost's error id. Two of them make the regression signal of a Mattermost
upgrade::

    mm-conformance diff reports/5.37.0 reports/11.0.3

and one run over several servers makes it too, version by version (what changes for
a user who upgrades from each version to the next)::

    mm-conformance diff reports/all-versions

An implementer declares known deviations in a TOML file (``--expect FILE``)::

    [[deviation]]
    scenario = "The site URL is accepted however it ends (with two trailing slashes)"
    reason = "n8n strips only one trailing slash"

A declared deviation that fails is expected; one that no longer fails is stale,
and the run fails until the file is updated (the OpenID conformance suite's rule).
"""

from __future__ import annotations

import fnmatch
import json
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from mm_conformance.errors import UsageError
from mm_conformance.mattermost.servers import version_key
from mm_conformance.outcomes.results import ScenarioResult

RESULTS_FILE = "results.json"
#: The results format this version writes and reads (3: each result's outcome, and a failure's severity,
#: as the plugin recorded them); a file in any other format is refused rather than guessed at.
FORMAT = 3


def write(results: list[ScenarioResult], directory: Path, meta: dict[str, object]) -> Path:
    path = directory / RESULTS_FILE
    path.write_text(json.dumps({"format": FORMAT, **meta, "scenarios": [asdict(r) for r in results]}, indent=2))
    return path


def read(path: Path) -> tuple[dict[str, object], list[ScenarioResult]]:
    """A run from its report directory or its results.json; UsageError with one line if unusable."""
    file = path / RESULTS_FILE if path.is_dir() else path
    try:
        data = json.loads(file.read_text())
        written_in = data.get("format") if isinstance(data, dict) else None
        if isinstance(written_in, int) and written_in > FORMAT:
            raise UsageError(f"{file} was written by a newer mm-conformance (results format {written_in}; "
                             f"this one reads up to {FORMAT}): read it with that version or a later one")
        if isinstance(data, dict) and "scenarios" in data and written_in != FORMAT:
            raise UsageError(f"{file} was written by an older mm-conformance (results format {written_in or 1}, "
                             f"without recorded verdicts; this one reads {FORMAT}): "
                             "rerun the scenarios to write it anew")
        fields = ScenarioResult.__dataclass_fields__
        scenarios = [ScenarioResult(**{k: v for k, v in s.items() if k in fields}) for s in data["scenarios"]]
    except FileNotFoundError:
        raise UsageError(f"{file} does not exist (write one with mm-conformance run --report DIR)") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"{file} is not a mm-conformance results file: {error}") from None
    meta = {k: v for k, v in data.items() if k != "scenarios"}
    return meta, scenarios


def diff(before: list[ScenarioResult], after: list[ScenarioResult]) -> list[str]:
    """One line per scenario whose verdict, status, error kind or server error id changed.

    Scenarios are matched by their id without the server when each run holds one server, so two
    runs on different versions (an upgrade) compare scenario by scenario; and without the
    implementation when each run holds one. Runs of several (a merge of shards, say) are matched
    implementation by implementation and server by server, and each line names where it changed.
    """
    by_server = any(len({r.server for r in run}) > 1 for run in (before, after))
    by_implementation = any(len({r.implementation for r in run}) > 1 for run in (before, after))

    def where(r: ScenarioResult) -> tuple[str, str, str]:
        return (r.implementation if by_implementation else "", r.server if by_server else "", r.scenario)

    old = {where(r): r for r in before}
    new = {where(r): r for r in after}
    lines = []
    for key in sorted(old.keys() | new.keys(), key=lambda k: (k[2], k[0], version_key(k[1]))):
        a, b = old.get(key), new.get(key)
        scenario = " · ".join(part for part in key[:2] if part) + ": " + key[2] if any(key[:2]) else key[2]
        if a is None:
            lines.append(f"+ {scenario}: new, {_state(b)}")
        elif b is None:
            lines.append(f"- {scenario}: gone, was {_state(a)}")
        elif _state(a) != _state(b):
            lines.append(f"~ {scenario}: {_state(a)} -> {_state(b)}")
    return lines


@dataclass(frozen=True)
class VersionChange:
    """A scenario that one implementation ends differently on two consecutive versions."""

    implementation: str
    before: str  # the older version
    after: str
    scenario: str
    was: str  # its state on the older version (verdict, status, error kind, error id)
    now: str


def across_versions(results: list[ScenarioResult]) -> tuple[list[str], list[VersionChange]]:
    """The versions a run covers, oldest first, and every scenario whose verdict, status, error kind or
    server error id differs between two consecutive ones, for each implementation.

    A scenario that ran on only one of two versions (the upgrade scenario, on the newest) is
    no change between them: there is nothing to compare it with.
    """
    versions = sorted({r.server for r in results if r.server}, key=version_key)
    by_key = {(r.implementation, r.server, r.scenario): r for r in results}
    changes = []
    for implementation in sorted({r.implementation for r in results}):
        for before, after in zip(versions, versions[1:], strict=False):
            for scenario in sorted({r.scenario for r in results if r.implementation == implementation}):
                a, b = by_key.get((implementation, before, scenario)), by_key.get((implementation, after, scenario))
                if a is not None and b is not None and _state(a) != _state(b):
                    changes.append(VersionChange(implementation, before, after, scenario, _state(a), _state(b)))
    return versions, changes


def _state(r: ScenarioResult | None) -> str:
    assert r is not None
    observed = " ".join(str(x) for x in (r.status, r.error_kind, r.server_error_id) if x is not None)
    return f"{r.verdict} ({observed})" if observed else r.verdict


@dataclass(frozen=True)
class Deviation:
    scenario: str  # an fnmatch pattern over ScenarioResult.scenario
    reason: str


def load_expectations(path: Path) -> list[Deviation]:
    try:
        data = tomllib.loads(path.read_text())
        return [Deviation(d["scenario"], d["reason"]) for d in data.get("deviation", [])]
    except FileNotFoundError:
        raise UsageError(f"expectations file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as error:
        raise UsageError(f"expectations file {path} is not valid: {error} "
                         "(each [[deviation]] needs scenario and reason)") from None


def apply_expectations(results: list[ScenarioResult], deviations: list[Deviation]) -> list[str]:
    """Mark expected failures; return one line per stale deviation (declared, but no longer failing).

    A deviation that matches no scenario at all in this run is not stale: the run
    may have selected other scenarios (-k).
    """
    stale = []
    for deviation in deviations:
        matching = [r for r in results if fnmatch.fnmatchcase(r.scenario, deviation.scenario)]
        failing = [r for r in matching if r.verdict == "fail"]
        for r in failing:
            r.expected = deviation.reason
        if matching and not failing and any(r.verdict in ("pass", "warn") for r in matching):
            stale.append(f"declared deviation no longer happens: {deviation.scenario} ({deviation.reason})")
    return stale
