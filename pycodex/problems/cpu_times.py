"""Each EvalPlus input's CPU time under its canonical solution, measured on this machine, in the
sandbox, once per release file and task (cached by the file's sha256 in the user's data dir).

evalplus times its ground truth on the machine that judges (its per-input limit is max(1 s, 4 x that
time), plus_test.call_limits): limits depend on the hardware, so they are never shipped. Only the
inputs over THRESHOLD matter (below MIN_LIMIT / LIMIT_FACTOR = 0.25 s the limit is the 1 s floor),
so only those are kept: `{task_id: [[index, seconds], ...]}`, the index counting the base inputs
then the plus inputs of the release row.

How: one ordinary executor job per task (the strict judge, every sandbox layer): the "sample" is
the release's prompt + canonical solution (untrusted code, as any sample) and a wrapper that times
each call with time.process_time() and prints the slow ones on its stdout; the test, run in the
judge, calls it on every input. Nothing crosses back but that text (the verdict's output), parsed
line by line: a job whose last line is not the end mark is an error, never a guess.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pycodex import locations
from pycodex.errors import UserError

THRESHOLD = 0.2  # CPU seconds: an input at or below it gets the 1 s floor however slow this machine's timer
JOB_CPU_LIMIT = 600.0  # CPU seconds of one task's timing job (the slowest task took 21 s: MBPP/599)
_MARK = "#pycodex-cpu"
_LINE = re.compile(rf"^{_MARK} (\d+) (\d+\.\d+)$")
_END = re.compile(rf"^{_MARK} end (\d+)$")

_WRAPPER = '''

def _pycodex_timed(end, *args):
    import time as _time
    global _pycodex_calls
    if end:
        print("{mark} end %d" % _pycodex_calls, flush=True)
        return None
    start = _time.process_time()
    try:
        {entry_point}(*args)
    finally:
        spent = _time.process_time() - start
        if spent > {threshold}:
            print("{mark} %d %.6f" % (_pycodex_calls, spent), flush=True)
        _pycodex_calls += 1
    return None


_pycodex_calls = 0
'''

_TEST = '''_INPUTS = {inputs}


def check(candidate):
    for args in _INPUTS:
        try:
            candidate(False, *args)
        except Exception:  # (evalplus times the ground truth whatever it does)
            pass
    candidate(True)
'''



@contextmanager
def _silent(total: int, label: str) -> Iterator:
    yield lambda index, verdict: None


_progress: list = [_silent]


def set_progress(factory) -> None:
    """Where measuring shows its progress: factory(total, label) is a context manager yielding
    on_result(index, verdict) (the CLI installs a rich bar on stderr; silent elsewhere)."""
    _progress[0] = factory


def cache_file(sha256: str) -> Path:
    return locations.data_dir() / "evalplus" / f"{sha256}.cpu.json"


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data["tasks"] if isinstance(data, dict) and isinstance(data.get("tasks"), dict) else {}
    except (OSError, ValueError):
        return {}


def _timing_problem(row: dict):
    from pycodex.problems.plus_test import literal
    from pycodex.problems.problem import Problem

    inputs = literal([tuple(args) for args in row["base_input"] + row["plus_input"]])
    return Problem(task_id=row["task_id"], prompt="", entry_point="_pycodex_timed",
                   canonical_solution="", test=_TEST.format(inputs=inputs), cpu_limits=(JOB_CPU_LIMIT, 0.0))


def _program(row: dict) -> str:
    return (row["prompt"] + row["canonical_solution"]
            + _WRAPPER.format(mark=_MARK, entry_point=row["entry_point"], threshold=THRESHOLD))


def parse(task_id: str, output: str, count: int) -> list[list]:
    """[[index, seconds], ...] from a timing job's output; UserError where it is not complete."""
    slow: list[list] = []
    for line in output.splitlines():
        found = _LINE.match(line)
        if found and int(found.group(1)) < count:
            slow.append([int(found.group(1)), float(found.group(2))])
        ended = _END.match(line)
        if ended:
            if int(ended.group(1)) != count:
                break
            return slow
    raise UserError(f"timing {task_id}'s canonical solution on this machine gave no complete answer "
                    f"(its output: {output[-200:]!r})")


def measure(name: str, sha256: str, rows: list[dict], workers: int | None = None) -> dict[str, list[list]]:
    """task_id -> its slow inputs' [[index, CPU seconds], ...], from the cache or measured now in the
    sandbox (the rows the cache lacks), then cached."""
    path = cache_file(sha256)
    known = _read(path)
    missing = [row for row in rows if row["task_id"] not in known]
    if missing:
        known = {**known, **_run(name, missing, workers)}
        _write(path, name, known)
    return {row["task_id"]: known[row["task_id"]] for row in rows}


def _run(name: str, rows: list[dict], workers: int | None) -> dict[str, list[list]]:
    from pycodex.execution import Executor

    problems = [_timing_problem(row) for row in rows]
    label = f"timing {name} on this machine (once)"
    with _progress[0](len(rows), label) as on_result, Executor(workers=workers, memory_limit_mb=4096) as executor:
        verdicts = executor.run([(p, _program(row)) for p, row in zip(problems, rows)], on_result=on_result)
    out = {}
    for row, verdict in zip(rows, verdicts):
        if not verdict.passed:
            raise UserError(f"timing {row['task_id']}'s canonical solution on this machine failed: {verdict.result}")
        out[row["task_id"]] = parse(row["task_id"], verdict.output, len(row["base_input"]) + len(row["plus_input"]))
    return out


def _write(path: Path, name: str, tasks: dict) -> None:
    """Merged with what another process wrote meanwhile, then replaced atomically."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        merged = {**_read(path), **tasks}
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"set": name, "threshold": THRESHOLD, "tasks": merged}, sort_keys=True))
        tmp.replace(path)


def seconds(slow: list[list], base: int, plus: int) -> tuple[list[float], list[float]]:
    """The base and plus inputs' CPU seconds (0.0 for those at or below THRESHOLD)."""
    every = [0.0] * (base + plus)
    for index, spent in slow:
        every[index] = spent
    return every[:base], every[base:]
