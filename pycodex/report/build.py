"""Reports on a stored run: the paper's measurements computed from the run store.

- pass@k (unbiased estimator) for every k up to the smallest per-problem sample count, each with a
  95% bootstrap interval over problems (problems resampled with replacement; samples fixed).
- Figure 7, choosing one of k samples: for k = 1..n, the expected pass rate when one sample is
  submitted out of k drawn at random (without replacement) from a problem's n samples, chosen by
  random choice, by highest mean token log-prob, by highest sum log-prob, next to the oracle
  (some sample of the k passes: pass@k). Computed exactly, not by simulation: with the n samples
  sorted by score (best first), sample r is the best of a random k-subset with probability
  C(n-1-r, k-1) / C(n, k); the expected pass rate is the sum of those weights over passing
  samples. Ties in score are broken uniformly at random, which in expectation replaces each tied
  sample's outcome by the mean of its tie group. Random choice gives c/n for every k.
  Replay backends store no log-probs (all 0.0): their ranking curves equal random choice.
- Figure 8: BLEU (sacrebleu sentence BLEU, 0-100) of each judged sample against the problem's
  canonical solution, for correct and wrong samples: count, mean, quartiles, and how much the two
  distributions overlap (AUC = P(BLEU of a random correct sample > that of a random wrong one),
  0.5 = no signal; share of wrong samples scoring above the correct median; histogram overlap).
- Per-problem pass counts (passes/n), hardest and easiest problems.

build_report() returns plain JSON-able data (pycodex.report.paired compares two); pycodex.report.render
draws it with rich and plotext.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np

from pycodex.metrics import pass_at_k

CI_LEVEL = 0.95
DEFAULT_BOOTSTRAP = 1000
TABLE_KS = (1, 2, 3, 5, 10, 20, 25, 50, 100, 150, 200)


# -- grouping -------------------------------------------------------------------------------


def judged_by_task(samples, task_order: Sequence[str] | None = None) -> "OrderedDict[str, list]":
    """task_id -> judged samples (ordered by index), tasks in run order."""
    groups: "OrderedDict[str, list]" = OrderedDict()
    for t in task_order or []:
        groups[t] = []
    for s in samples:
        if s.judged:
            groups.setdefault(s.task_id, []).append(s)
    for t in list(groups):
        if not groups[t]:
            del groups[t]
        else:
            groups[t].sort(key=lambda s: s.index)
    return groups


# -- pass@k and bootstrap -------------------------------------------------------------------


def per_problem_matrix(counts: Sequence[tuple[int, int]], ks: Sequence[int]) -> np.ndarray:
    """P x K matrix of per-problem pass@k."""
    return np.array([[pass_at_k(n, c, k) for k in ks] for n, c in counts], dtype=float).reshape(len(counts), len(ks))


def bootstrap_intervals(matrix: np.ndarray, resamples: int = DEFAULT_BOOTSTRAP, seed: int = 0, level: float = CI_LEVEL):
    """Percentile bootstrap over problems (rows). Returns (low, high) arrays, one entry per column."""
    p = matrix.shape[0]
    if p == 0 or resamples <= 0:
        return np.full(matrix.shape[1], np.nan), np.full(matrix.shape[1], np.nan)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(p, np.full(p, 1.0 / p), size=resamples)  # B x P: how often each problem is drawn
    means = weights @ matrix / p  # B x K
    alpha = (1 - level) / 2
    return np.quantile(means, alpha, axis=0), np.quantile(means, 1 - alpha, axis=0)


# -- Figure 7: ranking ------------------------------------------------------------------------


def _log_comb_table(n: int) -> np.ndarray:
    return np.array([math.lgamma(i + 1) for i in range(n + 1)])


def best_of_k_weights(n: int) -> np.ndarray:
    """W[k-1, r] = P(the sample ranked r (0 = best) is the best of a uniform random k-subset of n)."""
    lf = _log_comb_table(n)
    w = np.zeros((n, n))
    for k in range(1, n + 1):
        r = np.arange(0, n - k + 1)
        a = n - 1 - r
        log_num = lf[a] - lf[k - 1] - lf[a - (k - 1)]
        log_den = lf[n] - lf[k] - lf[n - k]
        w[k - 1, : n - k + 1] = np.exp(log_num - log_den)
    return w


def _tie_averaged(outcomes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Outcomes sorted by score (best first), each tie group replaced by its mean."""
    order = np.argsort(-scores, kind="stable")
    s, o = scores[order], outcomes[order].astype(float)
    out = o.copy()
    i = 0
    while i < len(s):
        j = i + 1
        while j < len(s) and s[j] == s[i]:
            j += 1
        out[i:j] = o[i:j].mean()
        i = j
    return out


def ranking_curves(groups: "OrderedDict[str, list]", kmax: int | None = None) -> dict[str, Any]:
    """Figure 7 curves for k = 1..kmax (default: the smallest n), averaged over problems."""
    if not groups:
        return {"k": [], "random": [], "mean_logprob": [], "sum_logprob": [], "oracle": []}
    n_min = min(len(v) for v in groups.values())
    kmax = min(kmax or n_min, n_min)
    ks = list(range(1, kmax + 1))
    weights: dict[int, np.ndarray] = {}
    sums = {name: np.zeros(kmax) for name in ("random", "mean_logprob", "sum_logprob", "oracle")}
    for samples in groups.values():
        n = len(samples)
        if n not in weights:
            weights[n] = best_of_k_weights(n)
        w = weights[n][:kmax]
        outcomes = np.array([bool(s.passed) for s in samples], dtype=float)
        c = int(outcomes.sum())
        sums["random"] += c / n
        sums["oracle"] += np.array([pass_at_k(n, c, k) for k in ks])
        for name, attr in (("mean_logprob", "mean_logprob"), ("sum_logprob", "sum_logprob")):
            scores = np.array([getattr(s, attr) for s in samples], dtype=float)
            sums[name] += w @ _tie_averaged(outcomes, scores)
    p = len(groups)
    return {"k": ks, **{name: (v / p).tolist() for name, v in sums.items()}}


# -- Figure 8: BLEU -----------------------------------------------------------------------------


def _describe(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "mean": None, "q1": None, "median": None, "q3": None}
    a = np.array(values)
    return {
        "count": len(values),
        "mean": float(a.mean()),
        "q1": float(np.quantile(a, 0.25)),
        "median": float(np.quantile(a, 0.5)),
        "q3": float(np.quantile(a, 0.75)),
    }


def bleu_scores(samples, canonical: dict[str, str]) -> list[tuple[float, bool]]:
    """(sentence BLEU vs the canonical solution, passed) for each judged sample with a known problem."""
    import sacrebleu

    out = []
    for s in samples:
        if not s.judged or s.task_id not in canonical:
            continue
        ref = canonical[s.task_id]
        score = sacrebleu.sentence_bleu(s.completion, [ref]).score if s.completion.strip() else 0.0
        out.append((min(100.0, max(0.0, float(score))), bool(s.passed)))
    return out


def bleu_summary(scored: list[tuple[float, bool]]) -> dict[str, Any]:
    correct = [b for b, ok in scored if ok]
    wrong = [b for b, ok in scored if not ok]
    result: dict[str, Any] = {"correct": _describe(correct), "wrong": _describe(wrong), "auc": None, "wrong_above_correct_median": None, "histogram_overlap": None}
    if correct and wrong:
        c = np.sort(np.array(correct))
        w = np.array(wrong)
        # AUC by ranks: for each wrong score, the correct samples below it and equal to it.
        below = np.searchsorted(c, w, side="left")
        upto = np.searchsorted(c, w, side="right")
        greater = len(c) - upto
        equal = upto - below
        result["auc"] = float((greater.sum() + 0.5 * equal.sum()) / (len(c) * len(w)))
        result["wrong_above_correct_median"] = float(np.mean(w > np.median(c)))
        bins = np.linspace(0, 100, 11)
        hc, _ = np.histogram(np.clip(c, 0, 100), bins=bins)
        hw, _ = np.histogram(np.clip(w, 0, 100), bins=bins)
        result["histogram_overlap"] = float(np.minimum(hc / hc.sum(), hw / hw.sum()).sum())
        result["histogram"] = {"bins": bins.tolist(), "correct": hc.tolist(), "wrong": hw.tolist()}
    return result


def base_pass_at_k(groups, ks: Sequence[int], bootstrap: int, seed: int) -> list[dict[str, Any]]:
    """pass@k by HumanEval's own tests (humaneval-plus runs: each verdict's base_passed)."""
    counts = [(len(v), sum(bool(s.base_passed) for s in v)) for v in groups.values() if all(s.base_passed is not None for s in v)]
    if not counts or len(counts) != len(groups) or not ks:
        return []
    matrix = per_problem_matrix(counts, ks)
    lo, hi = bootstrap_intervals(matrix, bootstrap, seed)
    values = matrix.mean(axis=0)
    return [{"k": k, "value": float(values[i]), "ci_low": float(lo[i]), "ci_high": float(hi[i])} for i, k in enumerate(ks)]


# -- the report -----------------------------------------------------------------------------------


def _canonical_solutions(run, problem_set=None) -> dict[str, str]:
    try:
        from pycodex.report.sets import load_run_problems

        problem_set = load_run_problems(run, problem_set)
        return {p.task_id: p.canonical_solution for p in problem_set}
    except Exception:
        return {}


def _run_section(run) -> dict[str, Any]:
    """The report's "run": what was run, with what."""
    params = run.config.get("params", {})
    return run.summary() | {
        "model_sha256": run.model_sha256, "top_p": params.get("top_p"), "max_tokens": params.get("max_tokens"),
        "problem_set": run.problem_set, "problem_set_version": run.problem_set_version,
    }


def build_report(store, run_id: str, *, problem_set=None, bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0, bleu: bool = True) -> dict[str, Any]:
    run = store.get_run(run_id)
    samples = store.samples(run_id)
    groups = judged_by_task(samples, run.task_ids)
    counts = [(len(v), sum(bool(s.passed) for s in v)) for v in groups.values()]
    n_min = min((n for n, _ in counts), default=0)
    ks = list(range(1, n_min + 1))
    matrix = per_problem_matrix(counts, ks) if counts and ks else np.zeros((0, 0))
    lo, hi = bootstrap_intervals(matrix, bootstrap, seed) if ks else (np.array([]), np.array([]))
    values = matrix.mean(axis=0) if ks else np.array([])
    pass_rows = [
        {"k": k, "value": float(values[i]), "ci_low": float(lo[i]), "ci_high": float(hi[i])} for i, k in enumerate(ks)
    ]
    per_problem: list[dict[str, Any]] = [
        {"task_id": t, "passed": c, "n": n, "rate": c / n}
        for (t, v), (n, c) in zip(groups.items(), counts)
    ]
    by_rate = sorted(per_problem, key=lambda r: (r["rate"], r["n"]))
    by_rate_desc = sorted(per_problem, key=lambda r: (-r["rate"], -r["n"]))
    status_counts: dict[str, int] = {}
    for s in samples:
        key = s.status or "unjudged"
        status_counts[key] = status_counts.get(key, 0) + 1
    finish_counts: dict[str, int] = {}
    for s in samples:
        finish_counts[s.finish_reason or "?"] = finish_counts.get(s.finish_reason or "?", 0) + 1
    tokens = sum(s.tokens for s in samples)
    gen_seconds = run.generation_wall_seconds or sum(s.seconds for s in samples)
    report: dict[str, Any] = {
        "run": _run_section(run),
        "totals": {
            "samples": len(samples),
            "expected_samples": run.total,
            "judged": sum(n for n, _ in counts),
            "passed": sum(c for _, c in counts),
            "problems_judged": len(groups),
            "n_min": n_min,
            "n_max": max((n for n, _ in counts), default=0),
            "generated_tokens": tokens,
            "generation_seconds": gen_seconds,
            "tokens_per_second": tokens / gen_seconds if gen_seconds > 0 else None,
            "statuses": status_counts,
            "finish_reasons": finish_counts,
        },
        "pass_at_k": pass_rows,
        "bootstrap": {"resamples": bootstrap, "level": CI_LEVEL, "over": "problems", "seed": seed},
        "ranking": ranking_curves(groups) | {
            "estimator": "exact expectation over uniformly random k-subsets of each problem's n samples; ties broken at random"
        },
        "per_problem": per_problem,
        "hardest": by_rate[:10],
        "easiest": by_rate_desc[:10],
    }
    from pycodex.report.sets import by_chain_length, load_run_problems

    base_rows = base_pass_at_k(groups, ks, bootstrap, seed)
    if base_rows:  # humaneval-plus: "pass_at_k" is by the plus tests, this by HumanEval's own
        report["base_pass_at_k"] = base_rows
    chain_rows = by_chain_length(groups, load_run_problems(run, problem_set))
    if chain_rows:
        report["by_chain_length"] = chain_rows
    if bleu:
        canonical = _canonical_solutions(run, problem_set)
        report["bleu"] = bleu_summary(bleu_scores(samples, canonical)) | {"metric": "sacrebleu sentence BLEU vs canonical solution (0-100)"}
    return report
