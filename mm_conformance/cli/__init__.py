"""``mm-conformance``: run the suite, package its images, clean up after it.

``mm-conformance run`` is a thin front over pytest with the suite's plugin, so it
runs exactly the scenarios ``pytest`` runs. Exit codes:

0  the implementation conforms (every selected scenario passed)
1  it does not (at least one scenario failed)
2  infrastructure or usage problem (Docker down, image missing, adapter broken,
   bad option) — no verdict could be given

The parser is :mod:`.parser`; ``run`` is :mod:`.run` (with :mod:`.first_look`, which sees an
adapter start before the run does); the other subcommands are :mod:`.commands`.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

from mm_conformance.cli import commands, run
from mm_conformance.cli.parser import EXIT_NO_VERDICT
from mm_conformance.cli.parser import parser as _parser
from mm_conformance.errors import InfrastructureError, UsageError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    console = Console(stderr=True, soft_wrap=True)  # one line per message, even in CI logs
    try:
        if argv[:1] == ["trace"]:  # the trace tool parses its own options
            from mm_conformance.outcomes import trace
            return trace.main(argv[1:])
        args = _parser().parse_args(argv)
        if args.command == "images":
            return commands.images(args, console)
        if args.command == "clean":
            return commands.clean()
        if args.command in ("up", "down"):
            return commands.warm(args)
        if args.command == "adapters":
            return commands.adapters(args, console)
        if args.command == "diff":
            return commands.diff(args)
        if args.command == "report":
            return commands.report(args)
        return run.run(args)
    except (UsageError, InfrastructureError) as error:
        console.print(f"mm-conformance: error: {error}", highlight=False, markup=False)
        return EXIT_NO_VERDICT
    except KeyboardInterrupt:
        console.print("mm-conformance: interrupted", highlight=False)
        return EXIT_NO_VERDICT
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0

