"""Mutation benchmark of the suite: how many faults planted in the reference implementation it catches.

    python benchmarks/mutants.py [--server 11.0.3] [--batch 12] [--sample N] [--seed S] [--out DIR]

Every mutant is one change that cosmic-ray's operators make to ``mm_conformance/reference.py``
(a comparison flipped, a ``not`` added or dropped, a number changed, an exception type
replaced, …). Mutants that change only a type annotation or a docstring are equivalent by
construction (``from __future__ import annotations``: annotations are never evaluated) and are
counted apart; mutants that do not compile are dropped.

Each mutant runs as an implementation of its own (a copy of the package with the one
change) through every scenario on one real server, twelve at a time side by side with the
unchanged reference as the control of its batch. A mutant is **killed** when a scenario
fails it, **stopped** when the suite refused to judge it (the adapter crashed or hung: no
verdict, which is also a rejection), and **survives** otherwise. A batch whose control does
not pass is an infrastructure problem: its mutants are reported as not judged, never counted.

Survivors are looked up in docs/mutants.md, where each one is explained (equivalent, or not
observable by a conformance suite, with the reason); the script prints the unexplained ones.
Prints the figures and writes mutants.json and mutants.md to --out.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import parso  # noqa: F401  (imported before cosmic_ray.plugins: its operator provider imports parso circularly)
from cosmic_ray.ast import ast_nodes, get_ast
from cosmic_ray.mutating import mutate_code
from cosmic_ray.plugins import get_operator, operator_names

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "mm_conformance" / "reference.py"
EXPLAINED = ROOT / "docs" / "mutants.md"
CONTROL = "reference"

#: The adapter of one mutant: its directory, holding the mutated package copy, comes first on sys.path.
_ADAPTER = """\
import builtins, runpy, sys
# What cosmic-ray's ExceptionReplacer puts in an except clause: an exception nothing raises.
builtins.CosmicRayTestingException = type("CosmicRayTestingException", (Exception,), {})
import mm_conformance.reference
if not mm_conformance.reference.__file__.startswith(sys.path[0]):
    sys.exit(f"the mutant's package is not the one imported: {mm_conformance.reference.__file__}")
runpy.run_module("mm_conformance.reference", run_name="__main__")
"""


@dataclass
class Mutant:
    name: str
    operator: str
    occurrence: int
    line: int
    before: str
    after: str
    code: str = field(repr=False)
    outcome: str = ""  # killed, stopped, survived, not judged
    failed: list[str] = field(default_factory=list)
    explanation: str = ""

    @property
    def key(self) -> str:
        """How docs/mutants.md names it: stable while the changed line's text is."""
        return f"{self.operator.removeprefix('core/')}: {self.before.strip()} → {self.after.strip()}"


def _semantics(code: str) -> str:
    """The module without its docstrings and annotations: two codes with the same semantics behave alike."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            body[0] = ast.Pass()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
        if isinstance(node, ast.arg):
            node.annotation = None
        if isinstance(node, ast.AnnAssign):
            node.annotation = ast.Constant(None)
    return ast.dump(tree)


def mutants_of(source: str) -> tuple[list[Mutant], int, int]:
    """Every single-change mutant of ``source``; with the counts of equivalent ones and of those that
    cosmic-ray could not make or that do not compile."""
    original = _semantics(source)
    module = get_ast(source)
    mutants, equivalent, broken = [], 0, 0
    for operator_name in operator_names():
        operator_class = get_operator(operator_name)
        if operator_class.arguments():
            continue
        operator = operator_class()
        positions = [start for node in ast_nodes(module) for start, _ in operator.mutation_positions(node)]
        for occurrence, (line, _column) in enumerate(positions):
            try:
                code = mutate_code(source, operator, occurrence)
            except (AttributeError, AssertionError):  # ExceptionReplacer on a dotted name (cosmic-ray 8.7)
                code = None
            if code is None:
                broken += 1
                continue
            try:
                if _semantics(code) == original:
                    equivalent += 1
                    continue
            except SyntaxError:
                broken += 1
                continue
            before, after = _changed_line(source, code, line)
            mutants.append(Mutant(f"m{len(mutants) + 1:03d}", operator_name, occurrence, line, before, after, code))
    return mutants, equivalent, broken


def _changed_line(source: str, code: str, line: int) -> tuple[str, str]:
    old, new = source.splitlines(), code.splitlines()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag != "equal":
            return " ".join(old[i1:i2]), " ".join(new[j1:j2])
    return old[line - 1], new[line - 1]


def explanations() -> dict[str, str]:
    """docs/mutants.md's table: ``| `key` | why |`` rows, keyed by :attr:`Mutant.key`."""
    if not EXPLAINED.exists():
        return {}
    rows = re.findall(r"^\| `(.+?)` \| (.+?) \|$", EXPLAINED.read_text(), flags=re.MULTILINE)
    return {key.replace("\\|", "|"): why for key, why in rows}


def _package_with(mutant: Mutant, into: Path) -> Path:
    """A copy of the package with the mutant's reference.py, and the adapter that runs it."""
    directory = into / mutant.name
    shutil.copytree(ROOT / "mm_conformance", directory / "mm_conformance",
                    ignore=shutil.ignore_patterns("__pycache__", "templates", "adapters"))
    (directory / "mm_conformance" / "reference.py").write_text(mutant.code)
    adapter = directory / "adapter.py"
    adapter.write_text(_ADAPTER)
    return adapter


def run_batch(batch: list[Mutant], server: str, work: Path, reports: Path) -> tuple[float, str]:
    """One run of every scenario with the batch's mutants and the control side by side (its report
    kept in ``reports``)."""
    report = reports / f"{batch[0].name}-{batch[-1].name}"
    shutil.rmtree(report, ignore_errors=True)
    impls = [f"--impl={CONTROL}"] + [f"--impl={m.name}={sys.executable} {_package_with(m, work)}" for m in batch]
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "mm_conformance", "run", "-q", f"--mattermost={server}",
                          f"--report={report}", *impls], cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    closing = (run.stdout.strip().splitlines() or run.stderr.strip().splitlines() or ["no output"])[-1]
    results = report / "results.json"
    scenarios = json.loads(results.read_text())["scenarios"] if results.exists() else []
    by_impl: dict[str, Counter[str]] = {}
    failed: dict[str, list[str]] = {}
    for s in scenarios:
        by_impl.setdefault(s["implementation"], Counter())[s["verdict"]] += 1
        if s["verdict"] == "fail":
            failed.setdefault(s["implementation"], []).append(s["title"] or s["name"])
    control = by_impl.get(CONTROL, Counter())
    if not control or control["fail"] or control["error"]:
        for m in batch:
            m.outcome = "not judged"
            m.failed = [f"the control did not pass in this batch: {closing}"]
        return elapsed, closing
    for m in batch:
        tally = by_impl.get(m.name, Counter())
        m.failed = failed.get(m.name, [])
        m.outcome = "killed" if tally["fail"] else "stopped" if tally["error"] or not tally else "survived"
    return elapsed, closing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="local", help="the Mattermost to run on (default: the newest "
                        "packaged here)")
    parser.add_argument("--batch", type=int, default=12, help="mutants side by side in one run (default 12)")
    parser.add_argument("--sample", type=int, default=0, help="run only this many mutants, drawn at random")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    server = args.server
    if server == "local":
        from mm_conformance.images import local_mattermost_images
        from mm_conformance.servers import version_key
        images = local_mattermost_images()
        if not images:
            print("not measured: no Mattermost image is packaged here (mm-conformance images build --from PATH)")
            return 2
        server = max(images, key=version_key)

    mutants, equivalent, broken = mutants_of(TARGET.read_text())
    made = len(mutants)
    if args.sample and args.sample < made:
        mutants = sorted(random.Random(args.seed).sample(mutants, args.sample), key=lambda m: m.name)
    print(f"{made + equivalent + broken} mutants of {TARGET.relative_to(ROOT)} (cosmic-ray operators): "
          f"{equivalent} change only an annotation or a docstring (equivalent), {broken} could not be made or do not compile, "
          f"{made} to run{f'; a sample of {len(mutants)} (seed {args.seed})' if len(mutants) < made else ''}, "
          f"on {server}, {args.batch} at a time beside the reference")

    times = []
    with tempfile.TemporaryDirectory(prefix="mm-mutants-") as tmp:
        for i in range(0, len(mutants), args.batch):
            batch = mutants[i:i + args.batch]
            elapsed, closing = run_batch(batch, server, Path(tmp), args.out / "mutant-reports")
            times.append(elapsed)
            tally = Counter(m.outcome for m in batch)
            print(f"  {batch[0].name}–{batch[-1].name}: {elapsed:5.0f} s  "
                  + ", ".join(f"{n} {o}" for o, n in sorted(tally.items())), flush=True)

    known = explanations()
    for m in mutants:
        m.explanation = known.get(m.key, "")
    judged = [m for m in mutants if m.outcome != "not judged"]
    rejected = [m for m in judged if m.outcome in ("killed", "stopped")]
    survivors = [m for m in judged if m.outcome == "survived"]
    explained = [m for m in survivors if m.explanation]
    countable = len(judged) - len(explained)
    rate = len(rejected) / countable if countable else 0.0
    outcomes = Counter(m.outcome for m in mutants)
    summary = {
        "server": server, "target": str(TARGET.relative_to(ROOT)), "mutants": made + equivalent + broken,
        "equivalent_by_construction": equivalent, "do_not_compile": broken, "run": len(mutants),
        "killed": outcomes["killed"], "stopped": outcomes["stopped"], "survived": outcomes["survived"],
        "not_judged": outcomes["not judged"], "survivors_explained": len(explained),
        "kill_rate_of_non_equivalent": round(rate, 4),
        "median_batch_s": round(statistics.median(times), 1) if times else None,
        "total_s": round(sum(times)),
    }
    print()
    print(f"killed {outcomes['killed']}, stopped (no verdict) {outcomes['stopped']}, "
          f"survived {outcomes['survived']} ({len(explained)} explained in docs/mutants.md), "
          f"not judged {outcomes['not judged']}")
    print(f"kill rate of non-equivalent mutants: {len(rejected)} / {countable} = {rate:.1%}  "
          f"(goal ≥ 95 %; median batch {summary['median_batch_s']} s, {summary['total_s']} s in all)")
    for m in survivors:
        mark = "explained" if m.explanation else "UNEXPLAINED"
        print(f"  survivor {m.name} reference.py:{m.line} [{mark}] `{m.key}`")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mutants.json").write_text(json.dumps(
        {**summary, "mutants": [{k: v for k, v in asdict(m).items() if k != "code"} | {"key": m.key}
                                for m in mutants]}, indent=2))
    (args.out / "mutants.md").write_text(
        "| mutant | line | change | outcome | caught by |\n|---|---|---|---|---|\n" + "".join(
            f"| {m.name} | {m.line} | `{m.key.replace('|', chr(92) + '|')}` | {m.outcome} | "
            f"{(m.failed[0] if m.failed else m.explanation).replace('|', '/')} |\n" for m in mutants))
    return 0 if not [m for m in survivors if not m.explanation] else 1


if __name__ == "__main__":
    sys.exit(main())
