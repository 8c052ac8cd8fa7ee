"""The live progress line of ``mm-conformance run`` on a terminal.

Scenarios done of the total, failures and errors so far, time elapsed; every
failure and error is printed above it, in one line, as it happens. Used only
when standard output is a terminal and ``-q`` was not given: CI logs and pipes
keep pytest's plain output.
"""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from mm_conformance.pytest_plugin.results import Collector
from mm_conformance.redact import one_line


class LiveProgress:
    """A pytest plugin that draws the progress line from what ``collector`` recorded."""

    def __init__(self, collector: Collector, console: Console | None = None) -> None:
        self._collector = collector
        self._progress = Progress(
            SpinnerColumn(), TextColumn("scenarios"), BarColumn(), MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed[/] · [magenta]{task.fields[errors]} no verdict[/]"),
            TimeElapsedColumn(), console=console or Console(), transient=False)
        self._task = self._progress.add_task("run", total=None, failed=0, errors=0)
        self._told = 0

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._progress.update(self._task, total=len(session.items))
        self._progress.start()

    @pytest.hookimpl(trylast=True)  # after the collector has recorded the report
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        results = self._collector.results
        for result in results[self._told:]:
            if result.verdict in ("fail", "error"):
                where = f"{result.implementation} · {result.server}".strip(" ·")
                self._progress.console.print(f"[{'red' if result.verdict == 'fail' else 'magenta'}]{result.verdict}"
                                             f"[/] {result.title or result.name} ({where}): {one_line(result.reason)}",
                                             highlight=False)
        self._told = len(results)
        counts = [result.verdict for result in results]
        self._progress.update(self._task, advance=1, failed=counts.count("fail"), errors=counts.count("error"))

    def pytest_unconfigure(self) -> None:
        self._progress.stop()
