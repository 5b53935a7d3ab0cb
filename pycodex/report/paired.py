"""Two runs on the same problems compared pair by pair: the paired difference of pass@k with a
paired bootstrap interval, and the per-problem matrix (solved by both, only A, only B, neither).

Paired: each problem is one pair (A's samples, B's samples). A bootstrap resample draws problems
with replacement and keeps each drawn problem's two halves together, so the interval is that of
mean(pass@k of B - pass@k of A) over problems, which is much narrower than two separate intervals
when A and B find the same problems easy. Seeded: the same runs give the same interval.

`report --compare`, `pycodex versus` and the TUI's versus dashboard all call paired_comparison(),
the TUI with the counts it has so far (only the problems judged on both sides).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from pycodex.errors import UserError
from pycodex.report.build import CI_LEVEL, DEFAULT_BOOTSTRAP, bootstrap_intervals, per_problem_matrix

MATRIX_CELLS = ("both", "only_a", "only_b", "neither")


def solved_cell(a_passed: int, b_passed: int) -> str:
    """Which side solved a problem (some sample passed): both, only_a, only_b or neither."""
    if a_passed and b_passed:
        return "both"
    if a_passed:
        return "only_a"
    return "only_b" if b_passed else "neither"


def paired_comparison(
    totals_a: Mapping[str, tuple[int, int]],
    totals_b: Mapping[str, tuple[int, int]],
    *,
    order: Sequence[str] | None = None,
    resamples: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    ks: Sequence[int] | None = None,
) -> dict[str, Any]:
    """totals: task_id -> (judged samples n, passed c). Over the problems judged on both sides (in
    `order`, else A's order): pass@k of each for k up to the smallest n (only `ks` among them when
    given: each k's row is the same either way), the difference B - A with its paired bootstrap
    interval, and the matrix."""
    tasks = [t for t in (order or list(totals_a)) if t in totals_a and t in totals_b and totals_a[t][0] and totals_b[t][0]]
    n_min = min((min(totals_a[t][0], totals_b[t][0]) for t in tasks), default=0)
    ks = [k for k in (ks or range(1, n_min + 1)) if 1 <= k <= n_min]
    rows: list[dict[str, Any]] = []
    if tasks and ks:
        ma = per_problem_matrix([totals_a[t] for t in tasks], ks)
        mb = per_problem_matrix([totals_b[t] for t in tasks], ks)
        low, high = bootstrap_intervals(mb - ma, resamples, seed)
        va, vb = ma.mean(axis=0), mb.mean(axis=0)
        rows = [
            {"k": k, "a": float(va[i]), "b": float(vb[i]), "diff": float(vb[i] - va[i]), "ci_low": float(low[i]), "ci_high": float(high[i])}
            for i, k in enumerate(ks)
        ]
    matrix: dict[str, list[str]] = {cell: [] for cell in MATRIX_CELLS}
    for t in tasks:
        matrix[solved_cell(totals_a[t][1], totals_b[t][1])].append(t)
    return {
        "shared_problems": len(tasks),
        "pass_at_k": rows,
        "matrix": matrix,
        "counts": {cell: len(matrix[cell]) for cell in MATRIX_CELLS},
        "bootstrap": {"resamples": resamples, "level": CI_LEVEL, "over": "problems, paired", "seed": seed},
    }


def totals_of(report: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """task_id -> (n, passed) from a build_report() dict's per-problem rows."""
    return {row["task_id"]: (row["n"], row["passed"]) for row in report["per_problem"]}


def check_comparable(a: Any, b: Any) -> None:
    """Two stored runs (RunRecords) can be paired: the same problem set, the same problems and,
    when both sampled a model, the same seed. Else a one-line UserError naming the difference.
    (A replay or an imported run has no seed that matters: its samples are fixed.)"""
    where = f"runs {a.id} and {b.id} cannot be compared pair by pair"
    if (a.problem_set or "file") != (b.problem_set or "file") or a.config.get("problems_file") != b.config.get("problems_file"):
        raise UserError(f"{where}: different problem sets ({a.problem_set or a.config.get('problems_file')} vs "
                        f"{b.problem_set or b.config.get('problems_file')})")
    if set(a.task_ids) != set(b.task_ids):
        only_a, only_b = sorted(set(a.task_ids) - set(b.task_ids)), sorted(set(b.task_ids) - set(a.task_ids))
        example = (only_a or only_b)[0]
        raise UserError(f"{where}: different problems ({len(a.task_ids)} vs {len(b.task_ids)}; {example} is in only one)")
    if _seeded(a.backend) and _seeded(b.backend) and a.seed != b.seed:
        raise UserError(f"{where}: different seeds ({a.seed} vs {b.seed}); run both with the same --seed (pycodex versus does)")


def compare_reports(a: dict[str, Any], b: dict[str, Any], *, resamples: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """Two build_report() dicts compared pair by pair (`report --compare --json`'s "comparison")."""
    order = [row["task_id"] for row in a["per_problem"]]
    return {"runs": [a["run"]["id"], b["run"]["id"]]} | paired_comparison(totals_of(a), totals_of(b), order=order, resamples=resamples, seed=seed)


def _seeded(kind: str) -> bool:
    """A backend kind whose samples depend on the run's seed: one that generates and is no replay."""
    from pycodex.generation import registry

    found = registry.find_kind(kind)
    return found is not None and found.generates and not found.replay
