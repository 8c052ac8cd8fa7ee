"""``mm-conformance``: run the suite, build its images.

``mm-conformance run`` is a thin front over pytest with the suite's plugin, so it
runs exactly the scenarios ``pytest`` runs. Exit codes:

0  the implementation conforms (every selected scenario passed)
1  it does not (at least one scenario failed)
2  infrastructure or usage problem (Docker down, image missing, adapter broken,
   bad option) — no verdict could be given
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from . import __version__, hygiene, results, runs
from . import report as matrix
from .adapters import KNOWN_IMPLEMENTATIONS, AdapterNotInstalled, check_implementations, implementation_name
from .errors import InfrastructureError, UsageError
from .deployment import ADMIN_TOKEN_ENV
from .images import SUITE_ROOT, ImageBuilder, docker_available, image_labels, pin_module_version, select_lines

EXIT_CONFORMS, EXIT_DEVIATES, EXIT_NO_VERDICT = 0, 1, 2
#: Where `run` writes the digests of every secret it registered (tests/test_hygiene.py scans with them).
SECRET_DIGESTS_ENV = "MM_CONFORMANCE_SECRET_DIGESTS"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mm-conformance", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the scenarios against a real Mattermost")
    run.add_argument("--impl", metavar="CMD", action="append",
                     help="reference (default), n8n, mattermostdriver, or a command speaking protocol v1; "
                          "repeat it to check several side by side on the same servers")
    run.add_argument("--impl-name", metavar="NAME", help="its name in reports")
    run.add_argument("--mattermost", default="esr", metavar="LINES", help="release lines: 11.7,11.10 | esr | latest | previous-esr | all")
    run.add_argument("--mattermost-image", metavar="IMAGE", help="use this Mattermost image (one line only)")
    run.add_argument("--postgres-image", metavar="IMAGE", help="use this PostgreSQL image")
    run.add_argument("--mattermost-url", metavar="URL",
                     help="run against this existing server (the admin's token in $MM_CONFORMANCE_ADMIN_TOKEN)")
    run.add_argument("--allow-config-changes", action="store_true",
                     help="with --mattermost-url: let scenarios change server-wide settings (restored after each)")
    run.add_argument("--adapter-timeout", type=float, default=10.0, metavar="S", help="seconds per request (default 10)")
    run.add_argument("--report", type=Path, metavar="DIR", help="write JUnit XML and a Markdown summary here")
    run.add_argument("--expect", type=Path, metavar="FILE",
                     help="TOML file of declared deviations; the run fails on any other, and on stale ones")
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

    commands.add_parser("trace", help="check or regenerate the documentation trace (docs/trace.yaml)", add_help=False)

    images = commands.add_parser("images", help="build or resolve the suite's images (no registry needed)")
    images.add_argument("action", choices=["build", "resolve", "list"])
    images.add_argument("--mattermost", default="all", metavar="LINES", help="release lines (default all)")
    images.add_argument("--support-only", action="store_true",
                        help="build only the base, PostgreSQL and nginx images (not the Mattermost lines)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    console = Console(stderr=True, soft_wrap=True)  # one line per message, even in CI logs
    try:
        if argv[:1] == ["trace"]:  # the trace tool parses its own options
            from . import trace
            return trace.main(argv[1:])
        args = _parser().parse_args(argv)
        if args.command == "images":
            return _images(args, console)
        if args.command == "diff":
            return _diff(args)
        if args.command == "report":
            html, markdown = matrix.write(args.runs, args.out)
            print(f"wrote {html} and {markdown}")
            if args.errata:
                args.errata.write_text(matrix.errata_document(args.runs))
                print(f"wrote {args.errata}")
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
    select_lines(args.mattermost)  # a bad release line is a usage error before anything starts
    args.impl = args.impl or ["reference"]
    check_implementations(args.impl, args.impl_name)
    for impl in args.impl:
        if impl in KNOWN_IMPLEMENTATIONS:
            try:
                KNOWN_IMPLEMENTATIONS[impl]()  # not installed: a one-line error before anything starts
            except AdapterNotInstalled as error:
                raise InfrastructureError(str(error)) from None
    deviations = runs.load_expectations(args.expect) if args.expect else []
    if args.repeat < 1:
        raise UsageError("--repeat needs a positive number of runs")
    if args.mattermost_url:
        if not os.environ.get(ADMIN_TOKEN_ENV):
            raise UsageError(f"--mattermost-url needs a system admin's personal access token in ${ADMIN_TOKEN_ENV}")
    else:
        docker_available()
    if args.repeat == 1:
        return _run_once(args, args.report, deviations)[1]
    # The flake check: the same run N times; any scenario whose verdict, status or
    # error id changes between runs makes every verdict of the suite doubtful.
    base = args.report or Path(tempfile.mkdtemp(prefix="mm-conformance-repeat-"))
    outcomes = [_run_once(args, base / f"run-{i}", deviations) for i in range(1, args.repeat + 1)]
    changes = sorted({f"run {i}: {change}" for i, (later, _) in enumerate(outcomes[1:], start=2)
                      for change in runs.diff(outcomes[0][0], later)})
    for change in changes:
        print(f"mm-conformance: flaky: {change}")
    print(f"mm-conformance: {args.repeat} runs, {len(changes)} change(s) between them (reports in {base})")
    return EXIT_NO_VERDICT if changes else max(code for _, code in outcomes)


def _run_once(args: argparse.Namespace, report: Path | None,
              deviations: list[runs.Deviation]) -> tuple[list[results.ScenarioResult], int]:
    import pytest

    pytest_args = [str(SUITE_ROOT / "steps"), "--rootdir", str(SUITE_ROOT), "-p", "no:cacheprovider",
                   "--mattermost", args.mattermost, "--adapter-timeout", str(args.adapter_timeout)]
    for impl in args.impl:
        pytest_args += ["--impl", impl]
    for option in ("impl_name", "mattermost_image", "postgres_image", "mattermost_url"):
        value = getattr(args, option)
        if value:
            pytest_args += [f"--{option.replace('_', '-')}", value]
    if args.allow_config_changes:
        pytest_args.append("--allow-config-changes")
    if args.keyword:
        pytest_args += ["-k", args.keyword]
    if report:
        report.mkdir(parents=True, exist_ok=True)
        pytest_args += ["--junitxml", str(report / "junit.xml")]
    pytest_args += ["-q"] if args.quiet else ["-v"]

    collector = results.Collector()
    code = pytest.main(pytest_args, plugins=[collector])
    if os.environ.get(SECRET_DIGESTS_ENV):
        # For the hygiene scan: digests of every secret the run saw, never the secrets themselves.
        digests = Path(os.environ[SECRET_DIGESTS_ENV])
        digests.write_text("".join(f"{d}\n" for d in hygiene.secret_digests(hygiene.registered_secrets())))
        digests.chmod(0o600)
    stale = runs.apply_expectations(collector.results, deviations)
    if report:
        (report / "summary.md").write_text(results.markdown_summary(collector.results))
        (report / "errata.md").write_text(results.errata_markdown(collector.results) or "No errata.\n")
        runs.write(collector.results, report, {
            "implementation": args.impl_name or ", ".join(implementation_name(i) for i in args.impl),
            "mattermost": args.mattermost, "suite": __version__})
        matrix.write([report], report)  # index.html + matrix.md: implementations side by side
    exit_code = results.exit_code(collector.results, pytest_exit=int(code))
    for line in stale:
        print(f"mm-conformance: {line}")
    if stale and exit_code == 0:
        exit_code = EXIT_DEVIATES
    print(results.closing_line(collector.results, exit_code))
    return collector.results, exit_code


def _diff(args: argparse.Namespace) -> int:
    _, before = runs.read(args.before)
    _, after = runs.read(args.after)
    changes = runs.diff(before, after)
    print("\n".join(changes) if changes else "no scenario changed its verdict, status or error id")
    return 1 if changes else 0


def _images(args: argparse.Namespace, console: Console) -> int:
    lines = select_lines(args.mattermost)
    if args.action == "resolve":
        builder = ImageBuilder(console)
        for line in lines:
            version = builder.resolve(line)
            pin_module_version(line, version)
            console.print(f"{line.name}: {line.branch} -> {version} (pinned in docker/releases.toml)")
        return 0
    docker_available()
    if args.action == "list":
        for line in lines:
            labels = image_labels(line.image)
            state = "not built" if labels is None else labels.get("org.mattermost.version", "?")
            console.print(f"{line.image}: {state}", highlight=False)
        return 0
    builder = ImageBuilder(console)
    builder.ensure_postgres()
    builder.ensure_nginx()
    if args.support_only:
        return 0
    failures = []
    for line in lines:
        try:
            builder.ensure_mattermost(line)
            builder.ensure_premigrated(line)
        except InfrastructureError as error:
            failures.append(f"Mattermost {line.name}: {error}")
    for failure in failures:
        console.print(f"mm-conformance: error: {failure}", highlight=False, markup=False)
    return EXIT_NO_VERDICT if failures else 0


if __name__ == "__main__":
    sys.exit(main())
