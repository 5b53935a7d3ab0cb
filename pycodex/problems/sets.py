"""The named problem sets: `--problem-set humaneval|humaneval-plus|chains`.

humaneval       the 164 problems of Chen et al. (2021), bundled (problems/HumanEval.jsonl.gz)
humaneval-plus  the same 164 problems with ~144 extra inputs each (problems/HumanEvalPlus.jsonl.gz,
                made by problems/humaneval_plus/generate.py); `test` runs HumanEval's own test then
                the extra inputs, `base_test` is HumanEval's own test
chains          130 synthetic problems chaining the paper's 13 string manipulations (section 6),
                built from a seed (pycodex/problems/chains.py); each carries `chain`
"""

from __future__ import annotations

import json
from pathlib import Path

from pycodex import locations
from pycodex.errors import UserError
from pycodex.problems.problem import HUMANEVAL_SIZE, ProblemSet, load_humaneval, load_problems

NAMES = ("humaneval", "humaneval-plus", "chains")
INTROS = {  # one line each, for the TUI's browser and chooser
    "humaneval": "HumanEval (Chen et al. 2021): a sample passes when the problem's hidden asserts run clean.",
    "humaneval-plus": "humaneval-plus: HumanEval's 164 with ~144 extra inputs each; a sample passes base (HumanEval's asserts) and plus.",
    "chains": "chains (paper section 6): docstrings chaining 1-13 string manipulations; pass rate falls 2-3x per block.",
}
DEFAULT = "humaneval"
PLUS_VERSION = "1-seed14"  # problems/humaneval_plus/generate.py VERSION


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
    if name == "humaneval-plus":
        problem_set = load_problems(locations.humaneval_plus_file())
        if len(problem_set) != HUMANEVAL_SIZE or any(p.base_test is None for p in problem_set):
            raise UserError(f"bundled humaneval-plus file {problem_set.source} is not the 164 problems with their base tests: reinstall pycodex")
        problem_set.name, problem_set.version = name, PLUS_VERSION
        return problem_set
    from pycodex.problems.chains import load_chains

    return load_chains()


def load(path: str | Path | None = None, problem_set: str | None = None) -> ProblemSet:
    """The user's --problems-file when given, else the named set (default: the bundled HumanEval)."""
    return load_problems(path) if path else load_named(problem_set or DEFAULT)


def run_set_summary(store, run_id: str, ks) -> dict:
    """A stored run's set and version, and for humaneval-plus its pass@k by HumanEval's own tests
    (`base_pass_at_k`, beside the run's pass@k by the plus tests)."""
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
