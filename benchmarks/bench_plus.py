"""Benchmark: what humaneval-plus catches that HumanEval's own tests miss.

    python benchmarks/bench_plus.py [--workers N] [--limit 6]

Mutants: small edits of every canonical solution (benchmarks/mutants.py: comparisons, operators,
constants, and/or, not) plus bench_evaluate.wrong_variants. Each is judged by humaneval-plus
(base = HumanEval's tests, plus = those and the extra inputs). A mutant that passes base
"survives". Does it differ from the canonical solution on some valid input? If it fails plus,
yes; if it passes plus, it is judged again against a held-out set, the same contracts with
another seed and twice as many inputs: failing that, it differs and plus missed it; passing it,
no difference was found (most such mutants are equivalent, e.g. `<` vs `<=` on a value never
equal). Prints the share of differing survivors that plus catches, with the load average.
The same samples judged by the strict and the classic judge must agree.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "problems" / "humaneval_plus"))

HELD_OUT_SEED = 1014


def held_out_set(problems):
    """The same contracts, another seed, 300 inputs per problem: judged only by this benchmark."""
    import generate

    from pycodex.problems.problem import Problem, ProblemSet

    rows = [generate.plus_problem(p.base_problem() or p, seed=HELD_OUT_SEED, per_problem=300)[0] for p in problems]
    return ProblemSet([Problem(**r) for r in rows], name="held-out", version=str(HELD_OUT_SEED))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--limit", type=int, default=6, help="AST mutants per problem at most")
    ap.add_argument("--problems", default="all")
    args = ap.parse_args(argv)

    from bench_evaluate import wrong_variants
    from mutants import ast_mutants

    from pycodex.evaluate import evaluate_samples
    from pycodex.problems.sets import load

    plus = load(None, "humaneval-plus")
    problems = plus.select(args.problems)
    rows = []
    for problem in problems:
        for completion in ast_mutants(problem, args.limit) + wrong_variants(problem)[:2]:
            rows.append({"task_id": problem.task_id, "completion": completion})
    print(f"{len(rows)} mutants of {len(problems)} problems, {args.workers} workers, load average {os.getloadavg()[0]:.1f}")

    start = time.perf_counter()
    strict = evaluate_samples(rows, plus, ks=[1], workers=args.workers, judge="strict")
    plus_seconds = time.perf_counter() - start
    classic = evaluate_samples(rows, plus, ks=[1], workers=args.workers, judge="classic")
    disagree = sum(1 for a, b in zip(strict.results, classic.results) if (a["passed"], a["base_passed"]) != (b["passed"], b["base_passed"]))

    survivors = [(row, r) for row, r in zip(rows, strict.results) if r["base_passed"]]
    caught = [row for row, r in survivors if not r["passed"]]
    passed_plus = [row for row, r in survivors if r["passed"]]
    held = held_out_set(problems)
    held_eval = evaluate_samples(passed_plus, held, ks=[1], workers=args.workers) if passed_plus else None
    missed = [dict(row, why=r["result"]) for row, r in zip(passed_plus, held_eval.results if held_eval else []) if not r["passed"]]
    differing = len(caught) + len(missed)

    print(f"base (HumanEval's tests): {len(survivors)} of {len(rows)} mutants survive")
    print(f"plus fails {len(caught)} of them; of the {len(passed_plus)} that pass plus, {len(missed)} fail the held-out set "
          f"(they differ from the canonical: plus missed them), {len(passed_plus) - len(missed)} show no difference")
    if differing:
        print(f"share of differing survivors that plus fails: {len(caught)}/{differing} = {len(caught) / differing:.1%}")
    print(f"strict and classic disagree on {disagree} mutants; plus judging took {plus_seconds:.1f} s "
          f"({len(rows) / plus_seconds:.0f} mutants/s, each judged by base and plus); load average {os.getloadavg()[0]:.1f}")
    for row in missed:
        print(f"  missed: {row['task_id']}: {row['completion'].strip()[:100]!r}\n      held-out: {row['why'][:300]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
