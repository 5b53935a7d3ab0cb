"""EvalPlus's file formats: its samples in ("solution" or "completion"), its eval_results.json out.

A sample with "solution" is a whole program (evalplus runs it as is); one with "completion" is
the text after the prompt (evalplus runs prompt + completion), as in human-eval. The results file
is what `evalplus.evaluate` 0.3.1 writes beside SAMPLES.jsonl: SAMPLES_eval_results.json with
"date", "hash" (the md5 of the problems file's JSONL) and "eval": task_id -> one entry per sample
in file order ("task_id", "solution", "base_status" and "plus_status" of "pass", "fail" or
"timeout", and "base_fail_tests"/"plus_fail_tests": the input it failed on, as evalplus's default
fast check reports it).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path

_STATUS = {"passed": "pass", "timed out": "timeout"}  # every other verdict is evalplus's "fail"
_FAILED_INPUT = re.compile(r"input #(\d+): ")
_FAILED_CALL = re.compile(r"\[call #(\d+)\]")


def judged_pairs(rows, problem_set) -> list[tuple]:
    """(problem, completion) for each row: a "solution" is judged as the whole program (when it
    starts with the prompt, as the completion after it, so that the prompt's helpers stay)."""
    pairs = []
    for row in rows:
        problem = problem_set.get(row["task_id"])
        solution = row.get("solution")
        if solution is None:
            pairs.append((problem, row["completion"]))
        elif solution.startswith(problem.prompt):
            pairs.append((problem, solution[len(problem.prompt):]))
        else:
            pairs.append((replace(problem, prompt=""), solution))
    return pairs


def results_path(samples_path: str | Path) -> Path:
    """evalplus's name: SAMPLES.jsonl -> SAMPLES_eval_results.json."""
    path = Path(samples_path)
    return path.with_name(path.name[: -len(".jsonl")] + "_eval_results.json" if path.name.endswith(".jsonl")
                          else path.name + "_eval_results.json")


def _mbpp_json(task_id: str, args):
    """evalplus's mbpp_serialize_inputs: the arguments JSON cannot hold, as it writes them."""
    number = task_id.rsplit("/", 1)[-1]
    if number == "115":
        return [[list(item) for item in args[0]]]
    if number == "124":
        return [str(args[0]), str(args[1])]
    if number == "252":
        return [str(args[0])]
    return args


def _failed_index(detail: str) -> int | None:
    """The input a run failed on: "input #N" from the comparison, or the judge's "[call #N]" (a
    return value that is not plain data: call N judged input N - 1)."""
    match = _FAILED_INPUT.search(detail or "")
    if match:
        return int(match.group(1))
    match = _FAILED_CALL.search(detail or "")
    return int(match.group(1)) - 1 if match else None


def _failed_tests(status: str, detail: str, inputs: list, task_id: str) -> list:
    index = _failed_index(detail)
    if status == "passed" or index is None or not 0 <= index < len(inputs):
        return []
    args = inputs[index]
    return [_mbpp_json(task_id, args) if task_id.startswith("Mbpp/") else args]


def eval_results(rows, verdicts, pairs, release_rows: dict[str, dict], data_md5: str) -> dict:
    """The content of evalplus's eval_results.json for judged rows (JudgedVerdicts of an EvalPlus set)."""
    out: dict[str, list] = {}
    for row, verdict, (problem, completion) in zip(rows, verdicts, pairs):
        task = release_rows[row["task_id"]]
        plus = verdict.plus_status or "failed"
        out.setdefault(row["task_id"], []).append({
            "task_id": row["task_id"], "solution": problem.prompt + completion,
            "base_status": _STATUS.get(verdict.base_status, "fail"), "plus_status": _STATUS.get(plus, "fail"),
            "base_fail_tests": _failed_tests(verdict.base_status, verdict.base_detail, task["base_input"], row["task_id"]),
            "plus_fail_tests": _failed_tests(plus, verdict.plus_detail, task["plus_input"], row["task_id"])})
    return {"date": datetime.now().strftime("%Y-%m-%d %H:%M"), "hash": data_md5, "eval": out}


def write_eval_results(samples_path, rows, evaluation, problem_set) -> Path:
    """Write SAMPLES_eval_results.json as evalplus does (json.dump, one line)."""
    from pycodex.problems.evalplus import RELEASES, read_rows, release_bytes

    release = RELEASES[problem_set.name]
    release_rows = {row["task_id"]: row for row in read_rows(release)}
    data = eval_results(rows, evaluation.verdicts, judged_pairs(rows, problem_set), release_rows,
                        hashlib.md5(release_bytes(release)).hexdigest())
    path = results_path(samples_path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(data, f)
    tmp.replace(path)
    return path
