"""``mm-conformance run``: check the options, start pytest with the suite's plugin, write the report.

Every check that can fail on the user's input (an implementation, ``--impl-env``, a server, a
report directory) fails here, in one line, before a container starts.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mm_conformance import __version__, run_options
from mm_conformance.cli.first_look import exited_at_once, start_for_a_look, stop_quietly
from mm_conformance.cli.parser import EXIT_DEVIATES, EXIT_NO_VERDICT
from mm_conformance.errors import InfrastructureError, UsageError, interrupted_by_signals
from mm_conformance.infra.deployment import ADMIN_TOKEN_ENV
from mm_conformance.infra.engine import docker_available
from mm_conformance.infra.images import image_id, local_mattermost_images, require_image
from mm_conformance.infra.shared import SHARED_DIR_ENV, SharedDeployments
from mm_conformance.infra.snapshots import premigrated_database
from mm_conformance.infra.support import NGINX, POSTGRES, choose, fallback_line
from mm_conformance.infra.warm import WarmState
from mm_conformance.mattermost.servers import MattermostServer, select_servers
from mm_conformance.outcomes import report as matrix
from mm_conformance.outcomes import results, runs
from mm_conformance.paths import SUITE_ROOT
from mm_conformance.protocol import environment, hygiene
from mm_conformance.protocol.adapters import (
    AdapterNotInstalled,
    check_implementations,
    implementation_command,
    implementation_name,
)
from mm_conformance.pytest_plugin.progress import LiveProgress
from mm_conformance.pytest_plugin.results import Collector

#: Where `run` writes the digests of every secret it registered (tests/test_hygiene.py scans with them).
SECRET_DIGESTS_ENV = "MM_CONFORMANCE_SECRET_DIGESTS"
#: ``--workers`` beyond this many per core is a mistake (a typo, a copied value), not a plan.
MAX_WORKERS_PER_CORE = 4
#: The pytest plugins a run loads (the suite's own come from conftest.py).
RUN_PLUGINS = ("xdist.plugin", "pytest_bdd.plugin")


def run(args: argparse.Namespace) -> int:
    args.impl = run_options.implementations(args.impl)
    check_implementations(args.impl)
    passed = run_options.passed_environment(args.impl_env)  # a bad --impl-env: one line before anything starts
    for impl in args.impl:
        try:
            implementation_command(impl)  # a known adapter not installed: one line before anything starts
        except AdapterNotInstalled as error:
            raise InfrastructureError(str(error)) from None
    deviations = runs.load_expectations(args.expect) if args.expect else []
    if args.repeat < 1:
        raise UsageError("--repeat needs a positive number of runs")
    if not (0 < args.adapter_timeout < math.inf):
        raise UsageError(f"--adapter-timeout needs a positive number of seconds, not {args.adapter_timeout:g}")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers needs a positive number of processes")
    most = MAX_WORKERS_PER_CORE * (os.cpu_count() or 1)
    if args.workers is not None and args.workers > most:
        raise UsageError(f"--workers {args.workers}: at most {most} on this machine's {os.cpu_count() or 1} "
                         "core(s); each worker is a process with its own adapters and server sessions")
    if args.report is not None:
        _check_writable(args.report)
    if args.mattermost_url and not os.environ.get(ADMIN_TOKEN_ENV):
        raise UsageError(f"--mattermost-url needs a system admin's personal access token in ${ADMIN_TOKEN_ENV}")
    starting = start_for_a_look(args.impl, passed)  # while Docker is asked below
    falls_back = ""
    try:
        servers: list[MattermostServer] = []
        if not args.mattermost_url:
            docker_available()
            local = local_mattermost_images()
            servers = select_servers(args.mattermost, local)  # a bad --mattermost: usage error now
            falls_back = _images_for_the_run(args, servers, packaged_here=bool(local))
    except BaseException:
        for _, process in starting:
            stop_quietly(process)
        raise
    if args.workers is None:
        # Not on an external server: no lock keeps two processes' settings changes apart there, and its
        # silent-server scenarios do not run (they need the suite's own listeners in front of the server).
        args.workers = 1 if args.mattermost_url else _default_workers(servers, args.postgres_image)
    exited_at_once(starting)
    if falls_back:  # with the run's own lines, before pytest's: what it runs on
        print(f"mm-conformance: {falls_back}", flush=True)
    header = environment.describe(passed)
    if header:
        print(f"mm-conformance: {header}", file=sys.stderr)
    if args.repeat == 1:
        return _run_once(args, passed, args.report, deviations, servers)[1]
    # The flake check: the same run N times; any scenario whose verdict, status or
    # error id changes between runs makes every verdict of the suite doubtful.
    base = args.report or Path(tempfile.mkdtemp(prefix="mm-conformance-repeat-"))
    outcomes = [_run_once(args, passed, base / f"run-{i}", deviations, servers) for i in range(1, args.repeat + 1)]
    changes = sorted({f"run {i}: {change}" for i, (later, _) in enumerate(outcomes[1:], start=2)
                      for change in runs.diff(outcomes[0][0], later)})
    for change in changes:
        print(f"mm-conformance: flaky: {change}")
    print(f"mm-conformance: {args.repeat} runs, {len(changes)} change(s) between them (reports in {base})")
    return EXIT_NO_VERDICT if changes else max(code for _, code in outcomes)


def _images_for_the_run(args: argparse.Namespace, servers: list[MattermostServer], *, packaged_here: bool) -> str:
    """Each image the run pulls is pulled once, here, before a worker starts: a server's image that is
    not here (one that cannot be pulled ends the run in one line that says what to do), and the
    PostgreSQL and nginx images, chosen once for every worker (``args`` then names them). Returns the
    line that says the run falls back to the suite's own PostgreSQL or nginx ("" when it does not).

    The suite's own names (``mm-conformance/mattermost:…``) are never pulled: a missing one is each
    scenario's reason, which names the command that packages it.
    """
    for server in servers:
        if server.image.startswith("mm-conformance/") or image_id(server.image) is not None:
            continue
        print(f"mm-conformance: pulling {server.image}", file=sys.stderr)
        try:
            require_image(server.image)
        except InfrastructureError as error:
            packaged = "" if packaged_here else " (none is packaged here yet)"
            raise InfrastructureError(
                f"{error} — package a release here: mm-conformance images build --from "
                f"mattermost-<version>-linux-amd64.tar.gz{packaged}; or name an image that is here with "
                "--mattermost IMAGE; or run where a registry answers") from None
    choices = {POSTGRES: choose(POSTGRES, args.postgres_image), NGINX: choose(NGINX, args.nginx_image)}
    args.postgres_image, args.nginx_image = choices[POSTGRES].image, choices[NGINX].image
    return fallback_line(choices) or ""


def _check_writable(report: Path) -> None:
    """UsageError, in one line, unless ``--report`` names a directory where this run can write
    (tried, not guessed: root passes every permission check on a read-only file system)."""
    if report.exists() and not report.is_dir():
        raise UsageError(f"--report {report}: that is a file, not a directory")
    try:
        _staging_for(report).rmdir()
    except OSError as error:
        raise UsageError(f"--report {report}: cannot write there ({error.strerror or error})") from None


def _default_workers(servers: list[MattermostServer], postgres_image: str) -> int:
    """One process per server, each server's deployment its own, side by side; and more, which take
    the scenarios that need no extra, the silent-server ones first (seconds of waiting each, see
    pytest_plugin.scheduling), on the same deployments: four for one or two servers, at most two
    more than cores (measured on 2 cores: a warm run of 11.0.3 took 30 s with 3, 22 s with 4 and
    22–25 s with 5; a cold run of 5.37.0 and 11.0.3 63 s with 3 and 53 s with 4); for more servers,
    two more, at most one more than cores (more processes start several servers' extras at once
    and only compete for the cores the servers need).

    Not while a server has no database snapshot yet (or on another PostgreSQL image): the run
    cannot share a deployment then, and every other process would migrate a database of its own.
    """
    if any(premigrated_database(server.image, postgres_image) == postgres_image for server in servers):
        return max(1, len(servers))
    cores = os.cpu_count() or 1
    if len(servers) <= 2:
        return min(max(len(servers) + 2, 4), cores + 2)
    return max(1, min(len(servers) + 2, cores + 1))


def _run_once(args: argparse.Namespace, passed: dict[str, str], report: Path | None,
              deviations: list[runs.Deviation], servers: list[MattermostServer],
              ) -> tuple[list[results.ScenarioResult], int]:
    import pytest

    pytest_args = [str(SUITE_ROOT / "steps"), f"--rootdir={SUITE_ROOT}", "-c", str(SUITE_ROOT / "pyproject.toml"),
                   "-p", "no:cacheprovider"]
    # Only the plugins a run needs (see _only_needed_plugins): no other pytest plugin installed here.
    pytest_args += [arg for plugin in RUN_PLUGINS for arg in ("-p", plugin)]
    pytest_args += [arg for option in run_options.SHARED for arg in option.as_arguments(getattr(args, option.dest))]
    if args.workers > 1:
        pytest_args.append(f"--numprocesses={args.workers}")
    if args.keyword:
        pytest_args.append(f"-k={args.keyword}")
    staged = _staging_for(report) if report else None  # the report is moved into place once whole
    if staged:
        pytest_args += [f"--junitxml={staged / 'junit.xml'}", f"--adapter-log={staged / 'adapters.log'}"]
    collector = Collector()
    plugins: list[object] = [collector]
    if args.quiet or not sys.stdout.isatty():
        pytest_args += ["-q"] if args.quiet else ["-v"]  # CI logs and pipes: pytest's plain lines
    else:
        # A terminal: one live line, and each failure as it happens, instead of pytest's lines.
        pytest_args += ["-p", "no:terminal", "-o", "addopts=--strict-markers"]
        plugins.append(LiveProgress(collector))
    try:
        with interrupted_by_signals(), _only_needed_plugins(), _shared_deployments(args, servers):
            code = pytest.main(pytest_args, plugins=plugins)
        # Workers hand over their secrets only as they end: redact what they reported once more.
        collector.redact_again()
        stale = runs.apply_expectations(collector.results, deviations)
        if report and staged:
            (staged / "summary.md").write_text(results.markdown_summary(collector.results))
            (staged / "errata.md").write_text(results.errata_markdown(collector.results) or "No errata.\n")
            runs.write(collector.results, staged, {
                "implementation": ", ".join(implementation_name(i) for i in args.impl),
                "implementation_environment": sorted(passed),
                "servers": sorted({r.server for r in collector.results if r.server}), "suite": __version__})
            matrix.write([staged], staged)  # index.html + matrix.md: implementations side by side
            _move_into_place(staged, report)
    finally:
        if staged and staged.exists():  # interrupted: the report that was there stays as it was
            shutil.rmtree(staged, ignore_errors=True)
    if os.environ.get(SECRET_DIGESTS_ENV):
        # For the hygiene scan: digests of every secret the run saw, never the secrets themselves.
        digests = Path(os.environ[SECRET_DIGESTS_ENV])
        digests.write_text("".join(f"{d}\n" for d in hygiene.secret_digests(hygiene.registered_secrets())))
        digests.chmod(0o600)
    exit_code = results.exit_code(collector.results, pytest_exit=int(code))
    for line in stale:
        print(f"mm-conformance: {line}")
    if stale and exit_code == 0:
        exit_code = EXIT_DEVIATES
    print(results.closing_line(collector.results, exit_code, interrupted=int(code) == pytest.ExitCode.INTERRUPTED))
    return collector.results, exit_code


def _staging_for(report: Path) -> Path:
    """A fresh directory beside ``report`` (same file system: moves are renames) where the run writes."""
    report.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{report.name}.incoming-", dir=report.parent))


def _move_into_place(staged: Path, report: Path) -> None:
    """Each file of the finished report replaces its namesake in ``report`` by a rename: a reader never
    sees a half-written file, and files of the directory that are not the report's stay."""
    report.mkdir(parents=True, exist_ok=True)
    for entry in staged.iterdir():
        target = report / entry.name
        if entry.is_dir() and target.is_dir():
            shutil.rmtree(target)
        os.replace(entry, target)
    staged.rmdir()


@contextlib.contextmanager
def _for_the_workers(name: str, value: str) -> Iterator[None]:
    """``$name`` is ``value`` while the run goes on (its workers inherit it), then as it was before."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _only_needed_plugins() -> contextlib.AbstractContextManager[None]:
    """No pytest plugin autoloads in a run, nor in its workers: a run loads :data:`RUN_PLUGINS`
    itself. Whatever else is installed beside the suite (hypothesis's plugin alone imported
    hypothesis as the run ended, about 1 s) neither costs time nor changes a verdict."""
    return _for_the_workers("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


@contextlib.contextmanager
def _shared_deployments(args: argparse.Namespace, servers: list[MattermostServer]) -> Iterator[None]:
    """With several workers, the servers' deployments start here, while the workers boot, and each
    serves every worker of its server; removed as the run ends. None for a server kept warm (``up``)."""
    if args.workers < 2 or args.mattermost_url:
        yield
        return
    directory = Path(tempfile.mkdtemp(prefix="mm-conformance-shared-"))
    cold = [server for server in servers if WarmState.of(server.image, postgres_image=args.postgres_image) is None]
    with (_for_the_workers(SHARED_DIR_ENV, str(directory)),
          SharedDeployments(directory, cold, postgres_image=args.postgres_image)):
        yield
