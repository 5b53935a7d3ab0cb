"""Report sections for problem sets beyond HumanEval: pass rate by chain length, the run's problems.

by_chain_length: for the chains set (section 6 of the paper), each chain length's problems,
samples, passes and pass rate, beside the paper's reference, a drop of 2 to 3 times per added
block, drawn from the measured rate at the shortest length: rate(L) = rate(L0) / f ** (L - L0),
f = 2.5 (the line), 2 and 3 (the band).
"""

from __future__ import annotations

from typing import Any

import numpy as np

REFERENCE_FACTOR, REFERENCE_LOW, REFERENCE_HIGH = 2.5, 3.0, 2.0  # the paper: 2-3x per block


def by_chain_length(groups, problem_set) -> list[dict[str, Any]]:
    """Pass rate per chain length, with the paper's reference (empty when no problem has a chain)."""
    chains = {p.task_id: p.chain for p in problem_set or () if p.chain is not None}
    rows: dict[int, dict[str, Any]] = {}
    for task_id, samples in groups.items():
        if task_id not in chains:
            continue
        row = rows.setdefault(len(chains[task_id]), {"problems": 0, "samples": 0, "passed": 0})
        row["problems"] += 1
        row["samples"] += len(samples)
        row["passed"] += sum(bool(s.passed) for s in samples)
    out = [{"length": length, **row, "pass_rate": row["passed"] / row["samples"] if row["samples"] else None}
           for length, row in sorted(rows.items())]
    if out:
        first = out[0]
        anchor = first["pass_rate"] or 0.0
        for row in out:  # no line to draw from a shortest length that never passed
            steps = row["length"] - first["length"]
            row["reference"] = anchor / REFERENCE_FACTOR ** steps if anchor else None
            row["reference_low"] = anchor / REFERENCE_LOW ** steps if anchor else None
            row["reference_high"] = anchor / REFERENCE_HIGH ** steps if anchor else None
        rates = [(r["length"], r["pass_rate"]) for r in out if r["pass_rate"]]
        if len(rates) >= 2:  # the measured drop per block: a fit of log(rate) on length
            xs, ys = np.array([x for x, _ in rates], float), np.log([y for _, y in rates])
            slope = float(np.polyfit(xs, ys, 1)[0])
            for row in out:
                row["fitted_drop_per_block"] = float(np.exp(-slope))
    return out


def load_run_problems(run, problem_set=None):
    """The problems a run was judged against (its --problems-file or its named set), or None."""
    if problem_set is not None:
        return problem_set
    try:
        from pycodex.problems.sets import load

        return load(run.config.get("problems_file"), run.problem_set)
    except Exception:  # a report must not fail because a problems file moved
        return None
