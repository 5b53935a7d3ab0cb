"""The floor under any judge of an EvalPlus samples file: the samples' own work, timed alone.

Each sample runs in a child forked from a small worker process, with no isolation, no codec and no
comparison: its base inputs, then its plus inputs, in evalplus's order, each under evalplus's
limit (max(1 s, 4 x the canonical solution's CPU time on that input, measured here first, outside
the timing)), stopping after the input where evalplus's own results say the part failed first
(the fast check both tools make). `workers` samples at a time. What that takes is the samples' code
alone on this machine: no judge (evalplus, pycodex) can judge the same file faster on the same
cores, so evalplus's time over it is the highest ratio any judge could show on that file.

    from plus_floor import floor
    floor(release_rows, samples, evalplus_results, workers) -> {"floor_s": ..., "cpu_s": ...}
"""

from __future__ import annotations

import copy
import json
import os
import resource
import signal
import time
from concurrent.futures import ProcessPoolExecutor

MIN_LIMIT, FACTOR = 1.0, 4.0  # evalplus 0.3.1's defaults


class _OverLimit(BaseException):
    pass


def _over(signum, frame):
    raise _OverLimit()


def _limits(row: dict) -> list[float]:
    """Each input's limit: max(1 s, 4 x the canonical solution's CPU time on it, here)."""
    namespace: dict = {}
    exec(row["prompt"] + row["canonical_solution"], namespace)
    function, limits = namespace[row["entry_point"]], []
    for args in row["base_input"] + row["plus_input"]:
        started = time.process_time()
        try:
            function(*copy.deepcopy(args))
        except BaseException:  # noqa: BLE001 - (its time is all that counts)
            pass
        limits.append(max(MIN_LIMIT, FACTOR * (time.process_time() - started)))
    return limits


def _stop(inputs: list, failed: list) -> int:
    """How many inputs the part runs: up to the first failing one evalplus reported (all: none)."""
    if not failed:
        return len(inputs)
    first = json.dumps(failed[0], default=repr)
    return next((i + 1 for i, args in enumerate(inputs) if json.dumps(args, default=repr) == first), len(inputs))


def _run(program: str, entry_point: str, parts: list[list[tuple[list, float]]]) -> float:
    """In a pool worker: fork a child that runs the parts; returns the child's CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    pid = os.fork()
    if pid == 0:
        try:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            signal.signal(signal.SIGPROF, _over)
            namespace: dict = {}
            exec(program, namespace)
            function = namespace[entry_point]
            for part in parts:  # (each part in a process of its own under evalplus: the same work)
                for args, limit in part:
                    signal.setitimer(signal.ITIMER_PROF, limit)
                    try:
                        function(*args)
                    except BaseException:  # noqa: BLE001
                        pass
                    signal.setitimer(signal.ITIMER_PROF, 0)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def floor(rows: list[dict], samples: list[dict], results: dict, workers: int) -> dict:
    """rows: the release's rows as pycodex reads them (evalplus.read_rows: MBPP's arguments converted
    as evalplus converts them); samples: the samples file's rows (solution or completion);
    results: evalplus's eval_results.json of that file. Wall and CPU seconds of the floor."""
    by_id = {row["task_id"]: row for row in rows}
    limits = {task_id: _limits(row) for task_id, row in by_id.items()}
    seen: dict[str, int] = {}
    jobs = []
    for sample in samples:
        task_id = sample["task_id"]
        row, index = by_id[task_id], seen.get(task_id, 0)
        seen[task_id] = index + 1
        verdict = results["eval"][task_id][index]
        program = sample.get("solution") or row["prompt"] + sample["completion"]
        base, plus = row["base_input"], row["plus_input"]
        parts = [list(zip(base, limits[task_id]))[: _stop(base, verdict["base_fail_tests"])],
                 list(zip(plus, limits[task_id][len(base):]))[: _stop(plus, verdict["plus_fail_tests"])]]
        jobs.append((program, row["entry_point"], parts))
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        cpu = sum(pool.map(_run, *zip(*jobs), chunksize=4))
    return {"floor_s": round(time.perf_counter() - started, 2), "floor_cpu_s": round(cpu, 1)}
