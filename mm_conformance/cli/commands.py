"""The subcommands besides ``run``: ``images``, ``adapters``, ``up``/``down``, ``clean``, ``diff`` and ``report``."""

from __future__ import annotations

import argparse
import math
import shlex
import time
from pathlib import Path

from rich.console import Console

from mm_conformance import run_options
from mm_conformance.cli.parser import EXIT_DEVIATES
from mm_conformance.errors import InfrastructureError, UsageError
from mm_conformance.infra.engine import docker_available
from mm_conformance.infra.images import (
    WEB_APP_LABEL,
    ImageBuilder,
    image_id,
    image_labels,
    local_mattermost_images,
)
from mm_conformance.infra.shared import clean as clean_leftovers
from mm_conformance.infra.shared import warm_down, warm_up
from mm_conformance.infra.shared_extras import SharedExtras
from mm_conformance.infra.snapshots import current_snapshot, ensure_premigrated
from mm_conformance.infra.support import POSTGRES, choose, fallback_line
from mm_conformance.mattermost.servers import select_servers
from mm_conformance.outcomes import merge, runs
from mm_conformance.outcomes import report as matrix
from mm_conformance.outcomes.results import ScenarioResult, closing_line, exit_code
from mm_conformance.protocol.adapters import (
    KNOWN_IMPLEMENTATIONS,
    NPM_ADAPTERS,
    AdapterNotInstalled,
    declared_environment,
    implementation_command,
    implementation_name,
)
from mm_conformance.protocol.check import check_adapter
from mm_conformance.protocol.environment import adapter_environment
from mm_conformance.protocol.schema import SCHEMA_PATH


def diff(args: argparse.Namespace) -> int:
    """Exit 1 when a scenario changed, 0 when none did. A run of one implementation, or a merge of
    shards, is read with each result naming its implementation (as ``report`` reads it)."""
    before = merge.read_run(args.before).results
    if args.after is None:
        return _diff_across_versions(args.before, before)
    after = merge.read_run(args.after).results
    changes = runs.diff(before, after)
    print("\n".join(changes) if changes else "no scenario changed its verdict, status or error id")
    return 1 if changes else 0


def _diff_across_versions(path: Path, results: list[ScenarioResult]) -> int:
    """One run over several servers: one table, each version to the next, per implementation."""
    versions, changes = runs.across_versions(results)
    if len(versions) < 2:
        held = f"results of {versions[0]} only" if versions else "no server's results"
        raise UsageError(f"{path} holds {held}: run it over several servers (--mattermost local), "
                         "or name a second run to compare with")
    print(f"versions, oldest first: {' → '.join(versions)}")
    if not changes:
        print("no scenario changed its verdict, status or error id from one version to the next")
        return 0
    print("| implementation | upgrade | scenario | before | after |\n|---|---|---|---|---|")
    for change in changes:
        print(f"| {change.implementation} | {change.before} → {change.after} | {change.scenario} "
              f"| {change.was} | {change.now} |")
    return 1


def report(args: argparse.Namespace) -> int:
    """The runs merged into one report (and one results.json) in ``--out``; with ``--exit-code``, their verdict."""
    if any(_same_path(args.out, run) for run in args.runs):
        raise UsageError(f"--out {args.out} is one of the runs it reads: the merged results.json would replace "
                         "that run's own; write the report elsewhere")
    deviations = runs.load_expectations(args.expect) if args.expect else []
    merged = merge.merge(args.runs)  # one line, before anything is written, when two runs hold the same result
    stale = runs.apply_expectations(merged.results, deviations)
    html, markdown = matrix.write(merged, args.out)
    results_file = merge.write(merged, args.out)
    print(f"wrote {html}, {markdown} and {results_file} ({len(merged.runs)} run(s) merged)")
    if args.errata:
        args.errata.write_text(matrix.errata_document(merged))
        print(f"wrote {args.errata}")
    if args.findings:
        args.findings.write_text(matrix.findings_document(merged))
        print(f"wrote {args.findings}")
    for line in stale:
        print(f"mm-conformance: {line}")
    if not args.exit_code:
        return 0
    code = exit_code(merged.results, pytest_exit=0)
    if stale and code == 0:
        code = EXIT_DEVIATES
    print(closing_line(merged.results, code))
    return code


def _same_path(a: Path, b: Path) -> bool:
    return a.resolve() == (b.parent if b.name == runs.RESULTS_FILE else b).resolve()


def images(args: argparse.Namespace, console: Console) -> int:
    docker_available()
    if args.action == "list":
        images = local_mattermost_images()
        if not images:
            print("no Mattermost image is packaged here (mm-conformance images build --from PATH)")
        # Asked of local images only: listing pulls nothing.
        databases = [image for image in (POSTGRES.official, POSTGRES.own) if image_id(image) is not None]
        for version, image in sorted(images.items()):
            web_app = (image_labels(image) or {}).get(WEB_APP_LABEL, "?")
            ready = [database for database in databases if current_snapshot(image, database)]
            fast = (f"pre-migrated database ready on {' and '.join(ready)}" if ready
                    else "no pre-migrated database yet (made on first use)")
            print(f"{image}: Mattermost {version}, web app: {web_app}, {fast}")
        return 0
    builder = ImageBuilder(console)
    builder.ensure_postgres()
    builder.ensure_nginx()
    if args.source:
        database = choose(POSTGRES)  # the PostgreSQL image runs will use: its snapshot is made now
        said = fallback_line({POSTGRES: database})
        if said:
            console.print(f"mm-conformance: {said}", highlight=False, markup=False)
    for source in args.source or []:
        image = builder.package(source)
        ensure_premigrated(image, database.image, builder)
        built = image_id(image)
        assert built is not None, image  # package() has just built it
        console.print(f"{image} (image {built[7:19]}): run it with --mattermost {image.rsplit(':', 1)[1]}",
                      highlight=False)
    return 0


def adapters(args: argparse.Namespace, console: Console) -> int:
    if args.action == "list":
        for name in KNOWN_IMPLEMENTATIONS:
            try:
                state = implementation_command(name)
            except AdapterNotInstalled as error:
                state = f"not installed: {error}"
            print(f"{name}: {state}")
        return 0
    if args.action == "check":
        return _check_adapter(args, console)
    if args.action == "schema":  # for a validator of the adapter author's: check-jsonschema --schemafile "$(…)"
        print(SCHEMA_PATH)
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


#: How a check's line starts, by its verdict (protocol/check.py): words, so that any terminal or CI log shows them.
_MARKS = {True: "pass", False: "FAIL", None: "not run"}


def _check_adapter(args: argparse.Namespace, console: Console) -> int:
    """``adapters check IMPL``: one line per check of protocol v1; exit 0 when each passes, 1 otherwise.

    IMPL is what ``run --impl`` takes (a shipped adapter's name, ``NAME=COMMAND``, or a command
    line); several words are taken as one command line, each word quoted as it was given.
    """
    if not args.names:
        raise UsageError("adapters check needs an adapter: a shipped one's name "
                         f"({', '.join(KNOWN_IMPLEMENTATIONS)}) or a command line, e.g. \"python3 my_adapter.py\"")
    impl = args.names[0] if len(args.names) == 1 else shlex.join(args.names)
    if not (0 < args.adapter_timeout < math.inf):
        raise UsageError(f"--adapter-timeout needs a positive number of seconds, not {args.adapter_timeout:g}")
    passed = run_options.passed_environment(args.impl_env)
    try:
        command = implementation_command(impl)
    except AdapterNotInstalled as error:
        raise InfrastructureError(str(error)) from None
    print(f"{implementation_name(impl)}: {command}", flush=True)
    started = time.monotonic()
    with console.status("checking protocol v1 (loopback endpoints on 127.0.0.1, no Mattermost)"):
        verdicts = check_adapter(command, timeout_s=args.adapter_timeout,
                                 env=adapter_environment(passed=passed, declared=declared_environment(impl)))
    for verdict in verdicts:
        print(f"  {_MARKS[verdict.passed]:<7}  {verdict.check}: {verdict.detail}")
    failed = sum(verdict.passed is False for verdict in verdicts)
    not_run = sum(verdict.passed is None for verdict in verdicts)
    took = f"{time.monotonic() - started:.1f} s"
    if not failed and not not_run:
        print(f"it speaks protocol v1: {len(verdicts)} of {len(verdicts)} checks pass ({took}); "
              "mm-conformance run --impl … judges the credential on real servers")
        return 0
    print(f"it does not speak protocol v1 yet: {failed} check(s) fail, {not_run} could not run ({took}); "
          "docs/protocol.md says what each one expects")
    return 1


def warm(args: argparse.Namespace) -> int:
    """A deployment per server kept between runs: ``run`` uses it (and adds its own users and tokens)."""
    docker_available()
    if args.command == "down":
        removed = warm_down()
        print(f"mm-conformance: removed the warm deployments ({len(removed)} container(s), network(s) and volume(s))"
              if removed else "mm-conformance: no warm deployment is up")
        return 0
    servers = select_servers(args.mattermost, local_mattermost_images())
    said = fallback_line({POSTGRES: choose(POSTGRES)})  # what warm deployments run on, as a run would
    if said:
        print(f"mm-conformance: {said}")
    for server in servers:
        state = warm_up(server)
        extras = SharedExtras(state).recorded() if state.run_id else []
        print(f"{server}: warm at {state.base_url} on {state.postgres_image}"
              f"{', with ' + ', '.join(extras) if extras else ''} "
              "(mm-conformance run uses it; mm-conformance down removes it)")
    return 0


def clean() -> int:
    docker_available()
    removed, kept = clean_leftovers()
    for thing in removed:
        print(f"removed {thing}")
    print(f"mm-conformance: removed {len(removed)} container(s), network(s) and volume(s) carrying the suite's label"
          if removed else "mm-conformance: nothing to remove")
    if kept:
        print(f"mm-conformance: kept {kept} that a run still in progress on this machine is using")
    return 0
