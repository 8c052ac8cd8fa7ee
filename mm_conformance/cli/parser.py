"""The command line of ``mm-conformance``: its subcommands and their options.

``run``'s options that pytest takes as well come from :mod:`mm_conformance.run_options`; those
only ``run`` has (``--report``, ``--expect``, ``--workers``, ``--repeat``, ``-k``, ``-q``) are declared here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mm_conformance import __version__, run_options
from mm_conformance.protocol.adapters import NPM_ADAPTERS

EXIT_CONFORMS, EXIT_DEVIATES, EXIT_NO_VERDICT = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mm-conformance",
        description="Check a Mattermost API credential implementation against real Mattermost servers.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the scenarios against a real Mattermost")
    for option in run_options.SHARED:
        run.add_argument(option.flag, **option.keywords())
    run.add_argument("--report", type=Path, metavar="DIR", help="write JUnit XML and a Markdown summary here")
    run.add_argument("--expect", type=Path, metavar="FILE",
                     help="TOML file of declared deviations; the run fails on any other, and on stale ones")
    run.add_argument("--workers", type=int, default=None, metavar="N",
                     help="run the scenarios in N processes at once (pytest-xdist; they share each server's "
                          "deployment, or the warm one): each server's scenarios go to one process, and with more "
                          "processes than servers only those that need its extras stay together, the others go to "
                          "whichever is free (default: four for one or two servers, at most two more than cores; "
                          "else one per server and two more, at most one more than cores; one per server while a "
                          "server has no database snapshot yet; 1: all in this process)")
    run.add_argument("--repeat", type=int, default=1, metavar="N",
                     help="the flake check: run N times and report every scenario whose outcome changed (exit 2)")
    run.add_argument("-k", dest="keyword", metavar="EXPR", help="only scenarios matching this pytest -k expression")
    run.add_argument("-q", "--quiet", action="store_true", help="less output")

    compare = commands.add_parser("diff", help="scenarios whose verdict, status or error id changed between runs, "
                                               "or between the versions of one run")
    compare.add_argument("before", type=Path, help="report directory (or results.json) of the first run; alone: "
                                                   "a run over several servers, compared version by version")
    compare.add_argument("after", type=Path, nargs="?", help="report directory (or results.json) of the second run")

    matrix = commands.add_parser(
        "report", help="the conformance matrix (HTML + Markdown) of one or more runs, merged as one run",
        description="Merge runs (the shards of a run spread over CI jobs, say) into one: the matrix, and the merged "
                    "results.json that diff and report read as one run's. Each implementation's scenario on a "
                    "server comes from one run only: two runs holding the same one are refused.")
    matrix.add_argument("runs", type=Path, nargs="+", help="report directories written by run --report")
    matrix.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="where to write index.html, matrix.md and the merged results.json")
    matrix.add_argument("--expect", type=Path, metavar="FILE",
                        help="TOML file of declared deviations, judged over the merged runs as one run judges them")
    matrix.add_argument("--exit-code", action="store_true",
                        help="exit as run does, by the merged results: 0 conforms, 1 does not (or a declared "
                             "deviation no longer happens), 2 no verdict (default: 0 once the report is written)")
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

    adapters = commands.add_parser(
        "adapters", help="check that an adapter speaks protocol v1 (in seconds, no server); list or install the "
                         "shipped ones",
        description="check: start the adapter, talk protocol v1 to it against loopback endpoints on 127.0.0.1 "
                    "(no Mattermost, no network) and print one line per check; exit 0 when every check passes, 1 "
                    "when one fails, 2 for a bad command line. schema: the path of protocol v1's JSON Schema, for "
                    "a validator of your own. list: the shipped adapters and whether they are installed. install: "
                    f"the Node.js adapters' pinned npm packages ({', '.join(NPM_ADAPTERS)}).",
        epilog='e.g. mm-conformance adapters check "node my-adapter.js" ; mm-conformance adapters check n8n')
    adapters.add_argument("action", choices=["check", "schema", "list", "install"])
    adapters.add_argument("names", nargs="*", metavar="ADAPTER",
                          help="check: one adapter, as --impl takes it (a shipped one's name, or a command line in "
                               f"quotes); install: Node.js adapters (default: all of {', '.join(NPM_ADAPTERS)})")
    for option in (run_options.ADAPTER_TIMEOUT, run_options.IMPL_ENV):
        adapters.add_argument(option.flag, **{**option.keywords(), "help": f"check: {option.help}"})

    up = commands.add_parser("up", help="start a warm deployment per server and keep it for later runs")
    up.add_argument("--mattermost", metavar="SERVER", action="append", help="as for run (default: the local images)")
    commands.add_parser("down", help="remove every warm deployment")

    commands.add_parser("clean", help="remove every container, network and volume the suite's runs left behind")
    return parser
