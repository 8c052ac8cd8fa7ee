"""Mutation benchmark of the suite: how many faults planted in the reference implementation it catches.

    pip install -e '.[mutants]'
    python benchmarks/mutants.py [--server 11.0.3] [--batch 12] [--sample N] [--seed S] [--out DIR]

Every mutant is one change that cosmic-ray's operators make to ``mm_conformance/protocol/reference.py``
(a comparison flipped, a ``not`` added or dropped, a number changed, an exception type
replaced, …). Mutants that change only a type annotation or a docstring are equivalent by
construction (``from __future__ import annotations``: annotations are never evaluated) and are
counted apart; mutants that do not compile are dropped.

Each mutant runs as an implementation of its own (a copy of the package with the one
change) through every scenario on one real server, twelve at a time side by side with the
unchanged reference as the control of its batch. A mutant is **killed** when a scenario
fails it, **stopped** when the suite refused to judge it (the adapter crashed or hung: no
verdict, which is also a rejection), **warned** when it passes with more warnings than the control
(a SHOULD-level rule: the report flags it, the verdict stays a pass), and **survives** otherwise. A batch whose control does
not pass is an infrastructure problem: its mutants are reported as not judged, never counted.

Survivors are looked up in docs/mutants.md, where each one is explained: equivalent (left out of
the kill rate) or beyond the rules (a behaviour no documented MUST speaks of; counted as surviving);
the script prints the unexplained ones.
Prints the figures and writes mutants.json and mutants.md to --out.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import hashlib
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
TARGET = ROOT / "mm_conformance" / "protocol" / "reference.py"
EXPLAINED = ROOT / "docs" / "mutants.md"
CONTROL = "reference"

#: The adapter of one mutant: its directory, holding the mutated package copy, comes first on sys.path.
_ADAPTER = """\
import builtins, importlib.util, runpy, sys
# What cosmic-ray's ExceptionReplacer puts in an except clause: an exception nothing raises.
builtins.CosmicRayTestingException = type("CosmicRayTestingException", (Exception,), {})
found = importlib.util.find_spec("mm_conformance.protocol.reference").origin  # found, not run: it runs once, below
if not found.startswith(sys.path[0]):
    sys.exit(f"the mutant's package is not the one imported: {found}")
runpy.run_module("mm_conformance.protocol.reference", run_name="__main__")
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
    outcome: str = ""  # killed, stopped, warned, survived, not judged
    failed: list[str] = field(default_factory=list)
    kind: str = ""  # of a survivor docs/mutants.md explains: "equivalent" or "beyond the rules"
    explanation: str = ""

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.code.encode()).hexdigest()[:16]

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


def _judged_earlier(path: Path, outcomes: tuple[str, ...]) -> dict[str, tuple[str, list[str]]]:
    """The mutants an earlier run judged with one of ``outcomes``, by fingerprint (the same change to
    the same code)."""
    if not path.exists():
        return {}
    return {m["fingerprint"]: (m["outcome"], m["failed"]) for m in json.loads(path.read_text())["mutants"]
            if m.get("fingerprint") and m["outcome"] in outcomes}


def explanations() -> dict[str, tuple[str, str]]:
    """docs/mutants.md's survivors, keyed by :attr:`Mutant.key`: each row ``| `key` | line |`` under a
    heading ``### Equivalent — why`` (behaves as the reference wherever a credential is used) or
    ``### Beyond the rules — why`` (behaves otherwise, where no documented MUST speaks)."""
    if not EXPLAINED.exists():
        return {}
    found, heading = {}, None
    for line in EXPLAINED.read_text().splitlines():
        if line.startswith("### "):
            heading = re.fullmatch(r"### (Equivalent|Beyond the rules) — (.+)", line)
        elif heading and (row := re.match(r"\| `(.+)` \|", line)):
            found[row[1].replace("\\|", "|")] = (heading[1].lower(), heading[2])
    return found


def _package_with(mutant: Mutant, into: Path) -> Path:
    """A copy of the package with the mutant's reference.py, and the adapter that runs it."""
    directory = into / mutant.name
    if (directory / "adapter.py").exists():
        return directory / "adapter.py"
    shutil.copytree(ROOT / "mm_conformance", directory / "mm_conformance",
                    ignore=shutil.ignore_patterns("__pycache__", "templates", "adapters"))
    (directory / "mm_conformance" / "protocol" / "reference.py").write_text(mutant.code)
    adapter = directory / "adapter.py"
    adapter.write_text(_ADAPTER)
    return adapter


#: How the CLI refuses to start a run with an adapter that exits before it is asked anything.
_EXITED_AT_ONCE = re.compile(r"--impl (m\d+) exited at once")


def run_batch(batch: list[Mutant], server: str, work: Path, reports: Path) -> tuple[float, str]:
    """One run of every scenario with the batch's mutants and the control side by side (its report
    kept in ``reports``). A mutant whose adapter exits at once is stopped before the run (the CLI
    refuses to start with it), and the run goes on without it."""
    report = reports / f"{batch[0].name}-{batch[-1].name}"
    results = report / "results.json"
    started = time.perf_counter()
    running = list(batch)
    while True:
        shutil.rmtree(report, ignore_errors=True)
        impls = [f"--impl={CONTROL}"] + [f"--impl={m.name}={sys.executable} {_package_with(m, work)}"
                                         for m in running]
        run = subprocess.run([sys.executable, "-m", "mm_conformance", "run", "-q", f"--mattermost={server}",
                              f"--report={report}", *impls], cwd=ROOT, capture_output=True, text=True)
        closing = (run.stdout.strip().splitlines() or run.stderr.strip().splitlines() or ["no output"])[-1]
        exited = _EXITED_AT_ONCE.search(closing) if run.returncode == 2 else None
        if exited is None:
            break
        gone = next(m for m in running if m.name == exited[1])
        gone.outcome, gone.failed = "stopped", [closing]
        running.remove(gone)
    elapsed = time.perf_counter() - started
    scenarios = json.loads(results.read_text())["scenarios"] if results.exists() else []
    by_impl: dict[str, Counter[str]] = {}
    failed: dict[str, list[str]] = {}
    for s in scenarios:
        by_impl.setdefault(s["implementation"], Counter())[s["verdict"]] += 1
        if s["verdict"] == "fail":
            failed.setdefault(s["implementation"], []).append(s["title"] or s["name"])
    control = by_impl.get(CONTROL, Counter())
    if not control or control["fail"] or control["error"]:
        for m in running:
            m.outcome = "not judged"
            m.failed = [f"the control did not pass in this batch: {closing}"]
        return elapsed, closing
    for m in running:
        tally = by_impl.get(m.name, Counter())
        m.failed = failed.get(m.name, [])
        m.outcome = ("killed" if tally["fail"] else "stopped" if tally["error"] or not tally
                     else "warned" if tally["warn"] > control["warn"] else "survived")
    return elapsed, closing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="local", help="the Mattermost to run on (default: the newest "
                        "packaged here)")
    parser.add_argument("--batch", type=int, default=12, help="mutants side by side in one run (default 12)")
    parser.add_argument("--sample", type=int, default=0, help="run only this many mutants, drawn at random")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--summarise", action="store_true", help="run nothing that an earlier run in --out "
                        "judged: print its figures again, with docs/mutants.md as it is now")
    parser.add_argument("--reuse", action="store_true", help="keep the mutants an earlier run in --out rejected "
                        "and run only the others again: for when scenarios were added, never removed")
    args = parser.parse_args()

    server = args.server
    if server == "local":
        from mm_conformance.infra.images import local_mattermost_images
        from mm_conformance.mattermost.servers import version_key
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

    kept = ("killed", "stopped", "warned", "survived") if args.summarise else ("killed", "stopped")
    earlier = _judged_earlier(args.out / "mutants.json", kept) if args.reuse or args.summarise else {}
    for m in mutants:
        if m.fingerprint in earlier:
            m.outcome, m.failed = earlier[m.fingerprint]
    to_run = [m for m in mutants if not m.outcome]
    if args.reuse or args.summarise:
        print(f"{len(mutants) - len(to_run)} mutants judged by an earlier run kept; running {len(to_run)}")
    times = []
    with tempfile.TemporaryDirectory(prefix="mm-mutants-") as tmp:
        for i in range(0, len(to_run), args.batch):
            batch = to_run[i:i + args.batch]
            elapsed, closing = run_batch(batch, server, Path(tmp), args.out / "mutant-reports")
            times.append(elapsed)
            tally = Counter(m.outcome for m in batch)
            print(f"  {batch[0].name}–{batch[-1].name}: {elapsed:5.0f} s  "
                  + ", ".join(f"{n} {o}" for o, n in sorted(tally.items())), flush=True)

    written = args.out / "mutants.json"
    before = json.loads(written.read_text()) if written.exists() and not times else {}  # its timing, when nothing ran
    known = explanations()
    for m in mutants:
        m.kind, m.explanation = known.get(m.key, ("", ""))
    judged = [m for m in mutants if m.outcome != "not judged"]
    rejected = [m for m in judged if m.outcome in ("killed", "stopped")]
    survivors = [m for m in judged if m.outcome in ("warned", "survived")]
    explained = [m for m in survivors if m.explanation]
    equivalent_survivors = [m for m in survivors if m.kind == "equivalent"]
    countable = len(judged) - len(equivalent_survivors)
    rate = len(rejected) / countable if countable else 0.0
    outcomes = Counter(m.outcome for m in mutants)
    summary = {
        "server": server, "target": str(TARGET.relative_to(ROOT)), "mutants": made + equivalent + broken,
        "equivalent_by_construction": equivalent, "do_not_compile": broken, "run": len(mutants),
        "killed": outcomes["killed"], "stopped": outcomes["stopped"], "warned": outcomes["warned"],
        "survived": outcomes["survived"],
        "not_judged": outcomes["not judged"], "survivors_explained": len(explained),
        "survivors_equivalent": len(equivalent_survivors),
        "kill_rate_of_non_equivalent": round(rate, 4),
        "median_batch_s": round(statistics.median(times), 1) if times else before.get("median_batch_s"),
        "total_s": round(sum(times)) if times else before.get("total_s"),
    }
    print()
    print(f"killed {outcomes['killed']}, stopped (no verdict) {outcomes['stopped']}, survived with a warning "
          f"{outcomes['warned']}, survived {outcomes['survived']} ({len(explained)} of the survivors explained in "
          f"docs/mutants.md), not judged {outcomes['not judged']}")
    print(f"kill rate of non-equivalent mutants (rejected ÷ all run but the {len(equivalent_survivors)} survivors "
          f"docs/mutants.md shows equivalent): {len(rejected)} / {countable} = {rate:.1%}  "
          f"(goal ≥ 95 %; median batch {summary['median_batch_s']} s, {summary['total_s']} s in all)")
    print(f"rejected or warned (a SHOULD the report flags): {len(rejected) + outcomes['warned']} / {countable} = "
          f"{(len(rejected) + outcomes['warned']) / countable if countable else 0.0:.1%}")
    for m in survivors:
        mark = m.kind or "UNEXPLAINED"
        print(f"  {m.outcome} {m.name} reference.py:{m.line} [{mark}] `{m.key}`")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mutants.json").write_text(json.dumps(
        {**summary, "mutants": [{k: v for k, v in asdict(m).items() if k != "code"}
                                | {"key": m.key, "fingerprint": m.fingerprint} for m in mutants]}, indent=2))
    (args.out / "mutants.md").write_text(
        "| mutant | line | change | outcome | caught by |\n|---|---|---|---|---|\n" + "".join(
            f"| {m.name} | {m.line} | `{m.key.replace('|', chr(92) + '|')}` | {m.outcome} | "
            f"{(m.failed[0] if m.failed else m.explanation).replace('|', '/')} |\n" for m in mutants))
    return 0 if not [m for m in survivors if not m.explanation] else 1


if __name__ == "__main__":
    sys.exit(main())
