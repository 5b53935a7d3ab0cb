"""The named problem sets: `--problem-set humaneval|humaneval-plus|humaneval-plus-mini|mbpp-plus|chains`.

humaneval            the 164 problems of Chen et al. (2021), bundled (problems/HumanEval.jsonl.gz)
humaneval-plus       EvalPlus's HumanEval+ v0.1.10: the 164 with ~750 extra inputs each, judged as
                     evalplus 0.3.1 judges (pycodex/problems/evalplus.py); `test` runs the base
                     inputs then the plus inputs, `base_test` and `plus_test` each alone
humaneval-plus-mini  its Mini variant (the same 164, ~7 extra inputs each)
mbpp-plus            EvalPlus's MBPP+ v0.1.0 (399 tasks; the prompt is a description and a test,
                     the sample writes the whole function)
chains               130 synthetic problems chaining the paper's 13 string manipulations (section 6),
                     built from a seed (pycodex/problems/chains.py); each carries `chain`
"""

from __future__ import annotations

import json
from pathlib import Path

from pycodex.errors import UserError
from pycodex.problems.problem import ProblemSet, load_humaneval, load_problems

NAMES = ("humaneval", "humaneval-plus", "humaneval-plus-mini", "mbpp-plus", "chains")
INTROS = {  # one line each, for the TUI's browser and chooser
    "humaneval": "HumanEval (Chen et al. 2021): a sample passes when the problem's hidden asserts run clean.",
    "humaneval-plus": "HumanEval+ (EvalPlus v0.1.10): HumanEval's 164 with ~750 extra inputs each; a sample passes base and plus.",
    "humaneval-plus-mini": "HumanEval+ Mini (EvalPlus v0.1.10): the 164 with ~7 extra inputs each (a reduced HumanEval+); base and plus.",
    "mbpp-plus": "MBPP+ (EvalPlus v0.1.0): 399 tasks; the prompt is a description and a test, the sample writes the function.",
    "chains": "chains (paper section 6): docstrings chaining 1-13 string manipulations; pass rate falls 2-3x per block.",
}
DEFAULT = "humaneval"


def check_name(name: str) -> str:
    """A set name from the command line, checked (UserError: exit 2)."""
    normal = (name or "").strip().lower()
    if normal not in NAMES:
        raise UserError(f"unknown problem set {name!r}: choose one of {', '.join(NAMES)}")
    return normal


def load_named(name: str = DEFAULT) -> ProblemSet:
    name = check_name(name)
    if name == "humaneval":
        return load_humaneval()
    if name != "chains":
        from pycodex.problems import evalplus

        return evalplus.load(name)
    from pycodex.problems.chains import load_chains

    return load_chains()


def load(path: str | Path | None = None, problem_set: str | None = None) -> ProblemSet:
    """The user's --problems-file when given, else the named set (default: the bundled HumanEval)."""
    return load_problems(path) if path else load_named(problem_set or DEFAULT)


def prepare(problems, workers: int | None = None, build: bool = True) -> None:
    """Build now, many at once, the tests a set builds on first use (EvalPlus's sets: each task's CPU
    times measured once on this machine, with progress): call it before judging many problems.
    build=False: the CPU times only, each test built when first read."""
    from pycodex.problems import evalplus

    evalplus.prepare(problems, workers, build)


def run_set_summary(store, run_id: str, ks) -> dict:
    """A stored run's set and version, and for EvalPlus sets its pass@k by the base inputs alone
    (`base_pass_at_k`, beside the run's pass@k by base and plus)."""
    from pycodex.metrics import estimate_pass_at_k

    record = store.get_run(run_id)
    out: dict = {"problem_set": record.problem_set, "problem_set_version": record.problem_set_version}
    base = store.base_totals(run_id)
    if base:
        out["base_passed"] = sum(c for _, c in base.values())
        out["base_pass_at_k"] = {str(k): v for k, v in estimate_pass_at_k(base, list(ks)).items()}
    return out


def export(problem_set: ProblemSet, path: Path) -> int:
    """Write the set as HumanEval JSONL (gzipped when the name ends in .gz), extra fields kept."""
    import gzip

    from pycodex.jsonl import write_jsonl

    rows = [p.to_row() for p in problem_set]
    path = Path(path)
    if path.suffix != ".gz":
        write_jsonl(path, rows)
        return len(rows)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
            for row in rows:
                f.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
        tmp.replace(path)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    return len(rows)
