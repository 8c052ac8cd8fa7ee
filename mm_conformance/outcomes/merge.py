"""Several runs' results as one run: the shards of a run spread over CI jobs, merged.

A run can be cut into shards — a server each, an implementation each, a ``-k`` selection each —
run in separate CI jobs, and merged again::

    mm-conformance run --impl reference --mattermost 11.0.3 --report shards/reference-11.0.3
    mm-conformance run --impl mine=./my-adapter --mattermost 11.0.3 --report shards/mine-11.0.3
    mm-conformance report shards/* --out merged

``merged/results.json`` is then what one run over the same selection would have written:
``diff merged`` compares its versions, ``report merged … --expect`` judges it. A result is one
implementation's verdict on one scenario on one server, and the merge keeps each as its shard
recorded it, so the shards' verdicts are the run's.

Two rules make a merge honest:

* **A result comes from one run only.** When two runs hold the same implementation's scenario on the
  same server — a shard and its rerun, or two shards that selected the same scenario — nothing says
  which of the two verdicts is the right one, so the merge refuses, naming both directories.
* **An implementation is named the same in every run.** A run of one implementation records its
  name once, for the run (``--impl NAME=COMMAND``, or the program's name); the merge writes it on
  each of its results, so that the shards of ``mine`` on two servers are one row of the scoreboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mm_conformance.errors import UsageError
from mm_conformance.mattermost.servers import version_key
from mm_conformance.outcomes import runs
from mm_conformance.outcomes.results import ScenarioResult

#: A result's place in a run: (implementation, server version, scenario as the feature words it).
ResultKey = tuple[str, str, str]


@dataclass(frozen=True)
class RunRead:
    """One run as the merge read it: where, what its results.json says of itself, and its results
    (each carrying its implementation's name)."""

    directory: Path
    meta: dict[str, object]
    results: list[ScenarioResult]

    @property
    def name(self) -> str:
        """The run as a reader knows it: its report directory's name."""
        return self.directory.parent.name if self.directory.name == runs.RESULTS_FILE else self.directory.name


@dataclass(frozen=True)
class MergedRuns:
    """The results of every run, each once, in the order the runs were named; and the runs themselves."""

    runs: list[RunRead]
    results: list[ScenarioResult]

    @property
    def meta(self) -> dict[str, object]:
        """What the merged results.json says of itself, as one run's says it (and the runs it came from)."""
        implementations = list(dict.fromkeys(r.implementation for r in self.results))
        suites = sorted({str(run.meta["suite"]) for run in self.runs if run.meta.get("suite")})
        environment = sorted({str(name) for run in self.runs
                              for name in _listed(run.meta.get("implementation_environment"))})
        return {"implementation": ", ".join(implementations), "implementation_environment": environment,
                "servers": sorted({r.server for r in self.results if r.server}, key=version_key),
                "suite": ", ".join(suites), "merged_from": [str(run.directory) for run in self.runs]}


def read_run(directory: Path) -> RunRead:
    """A run's results, each naming its implementation (a run of one records the name for the run)."""
    meta, results = runs.read(directory)
    named = str(meta.get("implementation") or directory.name)
    for result in results:
        result.implementation = result.implementation or named
    return RunRead(directory, meta, results)


def merge(directories: list[Path]) -> MergedRuns:
    """The runs in ``directories`` as one; UsageError, in one line, when two hold the same result."""
    seen: dict[Path, Path] = {}
    for directory in directories:
        file = _results_file(directory)
        if file in seen:
            also = "" if seen[file] == directory else f" (also as {seen[file]})"
            raise UsageError(f"{directory} is named twice{also}: a merge reads each run once")
        seen[file] = directory
    read = [read_run(directory) for directory in directories]
    held_by: dict[ResultKey, RunRead] = {}
    for run in read:
        for result in run.results:
            first = held_by.setdefault(key(result), run)
            if first is not run:
                raise UsageError(f"{first.directory} and {run.directory} both hold {_named(result)}: a merge takes "
                                 "each result from one run only (merge a shard or its rerun, not both)")
        if len({key(result) for result in run.results}) < len(run.results):
            twice = next(r for i, r in enumerate(run.results) if key(r) in {key(o) for o in run.results[:i]})
            raise UsageError(f"{run.directory} holds {_named(twice)} twice: it is not one run's results")
    merged = [result for run in read for result in run.results]
    return MergedRuns(read, merged)


def write(merged: MergedRuns, directory: Path) -> Path:
    """``results.json`` of the merge in ``directory``: what ``diff`` and ``report`` read as one run's."""
    directory.mkdir(parents=True, exist_ok=True)
    return runs.write(merged.results, directory, merged.meta)


def key(result: ScenarioResult) -> ResultKey:
    """Where a result belongs: the implementation, the server it ran on and the scenario it judged."""
    return result.implementation, result.server, result.scenario


def _named(result: ScenarioResult) -> str:
    return f"{result.implementation}'s \"{result.scenario}\" on {result.server or 'an unnamed server'}"


def _results_file(directory: Path) -> Path:
    file = directory / runs.RESULTS_FILE if directory.is_dir() else directory
    return file.resolve()


def _listed(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []
