"""``mm-conformance``: run the suite, package its images, clean up after it.

``mm-conformance run`` is a thin front over pytest with the suite's plugin, so it
runs exactly the scenarios ``pytest`` runs. Exit codes:

0  the implementation conforms (every selected scenario passed)
1  it does not (at least one scenario failed)
2  infrastructure or usage problem (Docker down, image missing, adapter broken,
   bad option) — no verdict could be given
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rich.console import Console

from mm_conformance import __version__, redact
from mm_conformance.errors import InfrastructureError, UsageError, interrupted_by_signals
from mm_conformance.infra.deployment import ADMIN_TOKEN_ENV
from mm_conformance.infra.engine import docker_available
from mm_conformance.infra.images import (
    POSTGRES_IMAGE,
    WEB_APP_LABEL,
    ImageBuilder,
    image_id,
    image_labels,
    local_mattermost_images,
    premigrated_database,
)
from mm_conformance.infra.shared import SHARED_DIR_ENV, SharedDeployments, clean, warm_down, warm_up
from mm_conformance.infra.warm import WarmState
from mm_conformance.mattermost.servers import MattermostServer, select_servers
from mm_conformance.outcomes import report as matrix
from mm_conformance.outcomes import results, runs
from mm_conformance.paths import SUITE_ROOT
from mm_conformance.protocol import environment, hygiene
from mm_conformance.protocol.adapters import (
    KNOWN_IMPLEMENTATIONS,
    NPM_ADAPTERS,
    AdapterNotInstalled,
    check_implementations,
    declared_environment,
    implementation_command,
    implementation_name,
    is_shipped,
)
from mm_conformance.pytest_plugin.progress import LiveProgress

EXIT_CONFORMS, EXIT_DEVIATES, EXIT_NO_VERDICT = 0, 1, 2
#: Where `run` writes the digests of every secret it registered (tests/test_hygiene.py scans with them).
SECRET_DIGESTS_ENV = "MM_CONFORMANCE_SECRET_DIGESTS"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mm-conformance",
        description="Check a Mattermost API credential implementation against real Mattermost servers.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the scenarios against a real Mattermost")
    run.add_argument("--impl", metavar="[NAME=]CMD", action="append",
                     help="reference (default), n8n, mattermostdriver, or a command speaking protocol v1, "
                          "optionally named for reports (mine=python3 adapter.py); repeat it to check several "
                          "side by side on the same servers")
    run.add_argument("--impl-env", metavar="NAME[=VALUE]", action="append", default=[],
                     help="give the implementations under test this variable (its value here, or VALUE), repeatable; "
                          "beyond it they get only what a program needs to start (PATH, HOME, locale, NODE_*, "
                          "PYTHON*), never the suite's own variables (docs/protocol.md)")
    run.add_argument("--mattermost", metavar="SERVER", action="append",
                     help="a server to run on, repeatable: a version (11.0.3), an image name, local (every image "
                          "packaged here), esr, latest, previous-esr; default: the local images, else the official ESR")
    run.add_argument("--postgres-image", metavar="IMAGE", help="use this PostgreSQL image")
    run.add_argument("--mattermost-url", metavar="URL",
                     help="run against this existing server (the admin's token in $MM_CONFORMANCE_ADMIN_TOKEN)")
    run.add_argument("--allow-config-changes", action="store_true",
                     help="with --mattermost-url: let scenarios change server-wide settings (restored after each)")
    run.add_argument("--adapter-timeout", type=float, default=10.0, metavar="S", help="seconds per request (default 10)")
    run.add_argument("--report", type=Path, metavar="DIR", help="write JUnit XML and a Markdown summary here")
    run.add_argument("--expect", type=Path, metavar="FILE",
                     help="TOML file of declared deviations; the run fails on any other, and on stale ones")
    run.add_argument("--workers", type=int, default=None, metavar="N",
                     help="run the scenarios in N processes at once (pytest-xdist; each starts its deployment, or "
                          "shares the warm one): each server's scenarios go to one process, and with more processes "
                          "than servers its silent-server scenarios to the others (default: one per server and two "
                          "more, at most one more than cores; one per server while a server has no database "
                          "snapshot yet; 1: all in this process)")
    run.add_argument("--repeat", type=int, default=1, metavar="N",
                     help="the flake check: run N times and report every scenario whose outcome changed (exit 2)")
    run.add_argument("-k", dest="keyword", metavar="EXPR", help="only scenarios matching this pytest -k expression")
    run.add_argument("-q", "--quiet", action="store_true", help="less output")

    compare = commands.add_parser("diff", help="scenarios whose verdict, status or error id changed between runs")
    compare.add_argument("before", type=Path, help="report directory (or results.json) of the first run")
    compare.add_argument("after", type=Path, help="report directory (or results.json) of the second run")

    matrix = commands.add_parser("report", help="the conformance matrix (HTML + Markdown) of one or more runs")
    matrix.add_argument("runs", type=Path, nargs="+", help="report directories written by run --report")
    matrix.add_argument("--out", type=Path, required=True, metavar="DIR", help="where to write index.html, matrix.md")
    matrix.add_argument("--errata", type=Path, metavar="FILE",
                        help="also write the documentation errata the runs showed (docs/errata.md)")
    matrix.add_argument("--findings", type=Path, metavar="FILE",
                        help="also write what each implementation gets wrong, from the runs (docs/findings.md)")

    commands.add_parser("trace", help="check or regenerate the documentation trace (docs/trace.yaml)", add_help=False)

    images = commands.add_parser("images", help="build the suite's images and package Mattermost distributions")
    images.add_argument("action", choices=["build", "list"])
    images.add_argument("--from", dest="source", type=Path, action="append", metavar="PATH",
                        help="build: also package this Mattermost release tarball or mattermost/ directory "
                             "as mm-conformance/mattermost:<the version its binary reports> (repeatable)")

    adapters = commands.add_parser("adapters", help="install the shipped Node.js adapters' pinned npm packages")
    adapters.add_argument("action", choices=["install", "list"])
    adapters.add_argument("names", nargs="*", metavar="NAME", help=f"default: all of {', '.join(NPM_ADAPTERS)}")

    up = commands.add_parser("up", help="start a warm deployment per server and keep it for later runs")
    up.add_argument("--mattermost", metavar="SERVER", action="append", help="as for run (default: the local images)")
    commands.add_parser("down", help="remove every warm deployment")

    commands.add_parser("clean", help="remove every container, network and volume the suite's runs left behind")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    console = Console(stderr=True, soft_wrap=True)  # one line per message, even in CI logs
    try:
        if argv[:1] == ["trace"]:  # the trace tool parses its own options
            from mm_conformance.outcomes import trace
            return trace.main(argv[1:])
        args = _parser().parse_args(argv)
        if args.command == "images":
            return _images(args, console)
        if args.command == "clean":
            return _clean()
        if args.command in ("up", "down"):
            return _warm(args)
        if args.command == "adapters":
            return _adapters(args, console)
        if args.command == "diff":
            return _diff(args)
        if args.command == "report":
            html, markdown = matrix.write(args.runs, args.out)
            print(f"wrote {html} and {markdown}")
            if args.errata:
                args.errata.write_text(matrix.errata_document(args.runs))
                print(f"wrote {args.errata}")
            if args.findings:
                args.findings.write_text(matrix.findings_document(args.runs))
                print(f"wrote {args.findings}")
            return 0
        return _run(args)
    except (UsageError, InfrastructureError) as error:
        console.print(f"mm-conformance: error: {error}", highlight=False, markup=False)
        return EXIT_NO_VERDICT
    except KeyboardInterrupt:
        console.print("mm-conformance: interrupted", highlight=False)
        return EXIT_NO_VERDICT
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(args: argparse.Namespace) -> int:
    args.impl = args.impl or ["reference"]
    check_implementations(args.impl)
    passed = environment.parse_passed(args.impl_env)  # a bad --impl-env: one line before anything starts
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
    starting = _start_for_a_look(args.impl, passed)  # while Docker is asked below
    try:
        servers: list[MattermostServer] = []
        if not args.mattermost_url:
            docker_available()
            servers = select_servers(args.mattermost, local_mattermost_images())  # a bad --mattermost: usage error now
    except BaseException:
        for _, process in starting:
            _stop_quietly(process)
        raise
    if args.workers is None:
        # Not on an external server: no lock keeps two processes' settings changes apart there, and its
        # silent-server scenarios do not run (they need the suite's own listeners in front of the server).
        args.workers = 1 if args.mattermost_url else _default_workers(servers, args.postgres_image or POSTGRES_IMAGE)
    _exited_at_once(starting)
    header = environment.describe(passed)
    if header:
        print(f"mm-conformance: {header}", file=sys.stderr)
    if args.repeat == 1:
        return _run_once(args, args.report, deviations, servers)[1]
    # The flake check: the same run N times; any scenario whose verdict, status or
    # error id changes between runs makes every verdict of the suite doubtful.
    base = args.report or Path(tempfile.mkdtemp(prefix="mm-conformance-repeat-"))
    outcomes = [_run_once(args, base / f"run-{i}", deviations, servers) for i in range(1, args.repeat + 1)]
    changes = sorted({f"run {i}: {change}" for i, (later, _) in enumerate(outcomes[1:], start=2)
                      for change in runs.diff(outcomes[0][0], later)})
    for change in changes:
        print(f"mm-conformance: flaky: {change}")
    print(f"mm-conformance: {args.repeat} runs, {len(changes)} change(s) between them (reports in {base})")
    return EXIT_NO_VERDICT if changes else max(code for _, code in outcomes)


#: ``--workers`` beyond this many per core is a mistake (a typo, a copied value), not a plan.
MAX_WORKERS_PER_CORE = 4
#: How long an adapter is given to show that it does not exit at once, before the run starts.
EXITS_AT_ONCE_S = 0.5


def _check_writable(report: Path) -> None:
    """UsageError, in one line, unless ``--report`` names a directory where this run can write
    (tried, not guessed: root passes every permission check on a read-only file system)."""
    if report.exists() and not report.is_dir():
        raise UsageError(f"--report {report}: that is a file, not a directory")
    try:
        _staging_for(report).rmdir()
    except OSError as error:
        raise UsageError(f"--report {report}: cannot write there ({error.strerror or error})") from None


def _start_for_a_look(impls: list[str], passed: dict[str, str]) -> list[tuple[str, subprocess.Popen[bytes]]]:
    """Each command of the user's, started as the run will start it, to see it does not exit at once.
    A shipped adapter is not: its own tests check it starts, and n8n's costs a second of CPU."""
    started: list[tuple[str, subprocess.Popen[bytes]]] = []
    for impl in impls:
        if is_shipped(impl):
            continue
        command = implementation_command(impl)
        try:
            process = subprocess.Popen(shlex.split(command), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, start_new_session=True,
                                       env=environment.adapter_environment(passed=passed,
                                                                           declared=declared_environment(impl)))
        except (ValueError, OSError) as error:
            for _, process in started:
                _stop_quietly(process)
            raise UsageError(f"--impl {implementation_name(impl)}: {command!r} cannot be started: {error}") from None
        started.append((impl, process))
    return started


def _exited_at_once(started: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    """UsageError, naming the implementation and its last words, if an adapter exited before it was asked
    anything; the others are told to exit (stdin closed) and reaped."""
    deadline = time.monotonic() + EXITS_AT_ONCE_S
    try:
        for impl, process in started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            if process.returncode is not None:
                last = (_written_so_far(process.stderr).strip().splitlines() or ["no stderr"])[-1]
                raise UsageError(f"--impl {implementation_name(impl)} exited at once (code {process.returncode}) "
                                 f"before it was asked anything: {redact.one_line(redact.redact(last))[:300]}")
    finally:
        for _, process in started:
            _stop_quietly(process)


def _written_so_far(stream: IO[bytes] | None) -> str:
    """What an exited process wrote to ``stream``, without waiting for a child of it that holds it open."""
    if stream is None:
        return ""
    os.set_blocking(stream.fileno(), False)
    try:
        return (stream.read() or b"").decode(errors="replace")
    except BlockingIOError:
        return ""


def _stop_quietly(process: subprocess.Popen[bytes]) -> None:
    """Close the adapter's stdin, give it 5 s to exit, then kill its whole process group: what it
    started goes too."""
    with contextlib.suppress(OSError):
        if process.stdin:
            process.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    if process.stderr:
        process.stderr.close()


def _default_workers(servers: list[MattermostServer], postgres_image: str) -> int:
    """One process per server, each server's deployment its own, side by side; and two more for the
    silent-server scenarios (seconds of waiting each, see fixtures' server_scope) on the same
    deployments: they mostly wait, so at most one process more than cores. On 2 cores, 11.0.3
    alone: 2 processes 21-22 s, 3 processes 19-19.5 s; 5.37.0 with 11.0.3: 36 s with 2, 3 or 4.

    Not while a server has no database snapshot yet (or on another PostgreSQL image): the run
    cannot share a deployment then, and every other process would migrate a database of its own.
    """
    if any(premigrated_database(server.image, postgres_image) == postgres_image for server in servers):
        return max(1, len(servers))
    return max(1, min(len(servers) + 2, (os.cpu_count() or 1) + 1))


def _run_once(args: argparse.Namespace, report: Path | None, deviations: list[runs.Deviation],
              servers: list[MattermostServer]) -> tuple[list[results.ScenarioResult], int]:
    import pytest

    # Every value travels as --option=value: a separate value that looks like a path (an
    # adapter's absolute path, say) would make pytest look for its configuration above it.
    pytest_args = [str(SUITE_ROOT / "steps"), f"--rootdir={SUITE_ROOT}", "-c", str(SUITE_ROOT / "pyproject.toml"),
                   "-p", "no:cacheprovider", f"--adapter-timeout={args.adapter_timeout}"]
    # Only the plugins a run needs (see _only_needed_plugins): no other pytest plugin installed here.
    pytest_args += [arg for plugin in RUN_PLUGINS for arg in ("-p", plugin)]
    pytest_args += [f"--impl={impl}" for impl in args.impl]
    pytest_args += [f"--impl-env={variable}" for variable in args.impl_env]
    pytest_args += [f"--mattermost={server}" for server in args.mattermost or []]
    for option in ("postgres_image", "mattermost_url"):
        value = getattr(args, option)
        if value:
            pytest_args.append(f"--{option.replace('_', '-')}={value}")
    if args.allow_config_changes:
        pytest_args.append("--allow-config-changes")
    if args.workers > 1:
        pytest_args.append(f"--numprocesses={args.workers}")
    if args.keyword:
        pytest_args.append(f"-k={args.keyword}")
    staged = _staging_for(report) if report else None  # the report is moved into place once whole
    if staged:
        pytest_args += [f"--junitxml={staged / 'junit.xml'}", f"--adapter-log={staged / 'adapters.log'}"]
    collector = results.Collector()
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
                "implementation_environment": sorted(environment.parse_passed(args.impl_env)),
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


#: The pytest plugins a run loads (the suite's own come from conftest.py).
RUN_PLUGINS = ("xdist.plugin", "pytest_bdd.plugin")


@contextlib.contextmanager
def _shared_deployments(args: argparse.Namespace, servers: list[MattermostServer]) -> Iterator[None]:
    """With several workers, the servers' deployments start here, while the workers boot, and each
    serves every worker of its server; removed as the run ends. None for a server kept warm (``up``)."""
    if args.workers < 2 or args.mattermost_url or (args.postgres_image or POSTGRES_IMAGE) != POSTGRES_IMAGE:
        yield
        return
    directory = Path(tempfile.mkdtemp(prefix="mm-conformance-shared-"))
    with (_for_the_workers(SHARED_DIR_ENV, str(directory)),
          SharedDeployments(directory, [server for server in servers if WarmState.of(server.image) is None])):
        yield


def _diff(args: argparse.Namespace) -> int:
    _, before = runs.read(args.before)
    _, after = runs.read(args.after)
    changes = runs.diff(before, after)
    print("\n".join(changes) if changes else "no scenario changed its verdict, status or error id")
    return 1 if changes else 0


def _images(args: argparse.Namespace, console: Console) -> int:
    docker_available()
    if args.action == "list":
        images = local_mattermost_images()
        if not images:
            print("no Mattermost image is packaged here (mm-conformance images build --from PATH)")
        for version, image in sorted(images.items()):
            web_app = (image_labels(image) or {}).get(WEB_APP_LABEL, "?")
            fast = "pre-migrated database ready" if premigrated_database(image, POSTGRES_IMAGE) != POSTGRES_IMAGE \
                else "no pre-migrated database yet (made on first use)"
            print(f"{image}: Mattermost {version}, web app: {web_app}, {fast}")
        return 0
    builder = ImageBuilder(console)
    builder.ensure_postgres()
    builder.ensure_nginx()
    for source in args.source or []:
        image = builder.package(source)
        builder.ensure_premigrated(image)
        console.print(f"{image} (image {image_id(image)[7:19]}): run it with --mattermost {image.rsplit(':', 1)[1]}",
                      highlight=False)
    return 0


def _adapters(args: argparse.Namespace, console: Console) -> int:
    if args.action == "list":
        for name in KNOWN_IMPLEMENTATIONS:
            try:
                state = implementation_command(name)
            except AdapterNotInstalled as error:
                state = f"not installed: {error}"
            print(f"{name}: {state}")
        return 0
    unknown = [name for name in args.names if name not in NPM_ADAPTERS]
    if unknown:
        raise UsageError(f"no Node.js adapter called {', '.join(unknown)} (known: {', '.join(NPM_ADAPTERS)}; "
                         "the Python ones come with pip extras: .[mattermostdriver,mattermostautodriver])")
    for name in args.names or NPM_ADAPTERS:
        adapter = NPM_ADAPTERS[name]
        try:
            with console.status(f"{name} adapter: npm ci into {adapter.modules_dir}"):
                did = adapter.install()
        except AdapterNotInstalled as error:
            raise InfrastructureError(str(error)) from None
        console.print(f"{name} adapter: {'installed' if did else 'up to date'} in {adapter.modules_dir}",
                      highlight=False)
    return 0


def _warm(args: argparse.Namespace) -> int:
    """A deployment per server kept between runs: ``run`` uses it (and adds its own users and tokens)."""
    docker_available()
    if args.command == "down":
        removed = warm_down()
        print(f"mm-conformance: removed the warm deployments ({len(removed)} container(s), network(s) and volume(s))"
              if removed else "mm-conformance: no warm deployment is up")
        return 0
    for server in select_servers(args.mattermost, local_mattermost_images()):
        state = warm_up(server)
        print(f"{server}: warm at {state.base_url} (mm-conformance run uses it; mm-conformance down removes it)")
    return 0


def _clean() -> int:
    docker_available()
    removed, kept = clean()
    for thing in removed:
        print(f"removed {thing}")
    print(f"mm-conformance: removed {len(removed)} container(s), network(s) and volume(s) carrying the suite's label"
          if removed else "mm-conformance: nothing to remove")
    if kept:
        print(f"mm-conformance: kept {kept} that a run still in progress on this machine is using")
    return 0


if __name__ == "__main__":
    sys.exit(main())
