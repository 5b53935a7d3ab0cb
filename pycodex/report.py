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

build_report() returns plain JSON-able data; render_report() / render_compare() draw it with rich
and plotext.
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


# -- the report -----------------------------------------------------------------------------------


def _canonical_solutions(run, problem_set=None) -> dict[str, str]:
    try:
        if problem_set is None:
            from pycodex.problems import load

            problem_set = load(run.config.get("problems_file"))
        return {p.task_id: p.canonical_solution for p in problem_set}
    except Exception:
        return {}


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
        "run": {
            "id": run.id,
            "name": run.name,
            "status": run.effective_status,
            "backend": run.backend,
            "model": run.model,
            "model_sha256": run.model_sha256,
            "n": run.n,
            "temperature": run.temperature,
            "top_p": run.config.get("params", {}).get("top_p"),
            "max_tokens": run.config.get("params", {}).get("max_tokens"),
            "seed": run.seed,
            "problems": len(run.task_ids),
            "created_at": run.created_at,
            "finished_at": run.finished_at,
        },
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
    if bleu:
        canonical = _canonical_solutions(run, problem_set)
        report["bleu"] = bleu_summary(bleu_scores(samples, canonical)) | {"metric": "sacrebleu sentence BLEU vs canonical solution (0-100)"}
    return report


# -- rendering -----------------------------------------------------------------------------------


def _pct(v: float | None) -> str:
    return "--" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f}%"


def _table_ks(ks: list[int]) -> list[int]:
    if not ks:
        return []
    shown = [k for k in ks if k in TABLE_KS]
    if ks[-1] not in shown:
        shown.append(ks[-1])
    return shown


def line_chart(series: dict[str, tuple[list, list]], title: str, xlabel: str, ylabel: str = "%", width: int = 78, height: int = 18) -> str | None:
    """A plotext line chart as plain text (works with plotext 5's and 6's APIs); None when nothing to plot."""
    series = {label: (list(xs), list(ys)) for label, (xs, ys) in series.items() if xs}
    if not series:
        return None
    try:
        import plotext as plt
    except ImportError:
        return None
    try:
        if hasattr(plt, "clear_figure"):  # plotext 5.x
            plt.clear_figure()
            for label, (xs, ys) in series.items():
                plt.plot(xs, ys, label=label, marker="braille")
            plt.title(title)
            plt.xlabel(xlabel)
            plt.ylabel(ylabel)
            plt.plotsize(width, height)
            plt.theme("clear")
            return plt.build()
        figure = plt.figure  # plotext 6.x
        figure.clear()
        for label, (xs, ys) in series.items():
            signal = figure.signal(xs, ys)
            signal.label(label)
            signal.lines()
            figure.draw(signal)
        figure.title(title)
        figure.label(xlabel, axis=0)
        figure.plot_size(width, height)
        return figure.build().string(colorless=True)
    except Exception:  # a plot is a nicety: never let it break a report
        return None


def render_report(report: dict[str, Any], out, *, plots: bool = True, all_problems: bool = False) -> None:
    from rich.table import Table

    r, t = report["run"], report["totals"]
    title = f"run {r['id']}" + (f" ({r['name']})" if r.get("name") else "")
    out.print(f"[bold cyan]{title}[/]  {r['status']} · {r['backend']}" + (f" {r['model']}" if r.get("model") else ""))
    out.print(
        f"  {r['problems']} problems · n={r['n']} · T={r['temperature']} · top_p={r.get('top_p')} · max_tokens={r.get('max_tokens')} · seed={r['seed']}"
    )
    tps = f" · {t['tokens_per_second']:.1f} tok/s" if t.get("tokens_per_second") else ""
    out.print(
        f"  {t['judged']}/{t['expected_samples']} samples judged, {t['passed']} passed · {t['generated_tokens']} tokens{tps} · "
        + ", ".join(f"{k} {v}" for k, v in sorted(t["statuses"].items()))
    )
    if not report["pass_at_k"]:
        out.print("[yellow]no judged samples yet[/]")
        return

    pk = Table(title=f"pass@k with {int(CI_LEVEL * 100)}% bootstrap interval over problems", expand=False)
    pk.add_column("k", justify="right", style="bold")
    pk.add_column("pass@k", justify="right")
    pk.add_column("95% CI", justify="right", style="dim")
    rows = {row["k"]: row for row in report["pass_at_k"]}
    for k in _table_ks(list(rows)):
        row = rows[k]
        pk.add_row(str(k), _pct(row["value"]), f"{_pct(row['ci_low'])} – {_pct(row['ci_high'])}")
    out.print(pk)

    rk = report["ranking"]
    if rk["k"]:
        table = Table(title="Figure 7: one sample submitted out of k (expected pass rate)", expand=False)
        table.add_column("k", justify="right", style="bold")
        for name in ("random", "mean log-prob", "sum log-prob", "oracle (pass@k)"):
            table.add_column(name, justify="right")
        for k in _table_ks(rk["k"]):
            i = k - 1
            table.add_row(str(k), _pct(rk["random"][i]), _pct(rk["mean_logprob"][i]), _pct(rk["sum_logprob"][i]), _pct(rk["oracle"][i]))
        out.print(table)

    b = report.get("bleu")
    if b and (b["correct"]["count"] or b["wrong"]["count"]):
        table = Table(title="Figure 8: BLEU vs the canonical solution (correct vs wrong samples)", expand=False)
        table.add_column("samples", style="bold")
        for col in ("count", "mean", "q1", "median", "q3"):
            table.add_column(col, justify="right")
        for label in ("correct", "wrong"):
            d = b[label]
            fmt = lambda v: "--" if v is None else f"{v:.1f}"  # noqa: E731
            table.add_row(label, str(d["count"]), fmt(d["mean"]), fmt(d["q1"]), fmt(d["median"]), fmt(d["q3"]))
        out.print(table)
        if b.get("auc") is not None:
            out.print(
                f"  overlap: P(correct BLEU > wrong BLEU) = {b['auc']:.2f} (0.5 = no signal) · "
                f"{b['wrong_above_correct_median']:.0%} of wrong samples score above the correct median · histogram overlap {b['histogram_overlap']:.0%}"
            )

    per = report["per_problem"]
    if all_problems or len(per) <= 20:
        table = Table(title="per problem", expand=False)
        table.add_column("problem", style="cyan")
        table.add_column("passes/n", justify="right")
        table.add_column("rate", justify="right")
        for row in per:
            table.add_row(row["task_id"], f"{row['passed']}/{row['n']}", _pct(row["rate"]))
        out.print(table)
    else:
        for label, rows_ in (("hardest", report["hardest"]), ("easiest", report["easiest"])):
            out.print(f"  {label}: " + ", ".join(f"{x['task_id']} {x['passed']}/{x['n']}" for x in rows_))
    solved = sum(1 for row in per if row["passed"])
    out.print(f"  {solved}/{len(per)} problems solved at least once")

    if plots and len(rows) >= 2:
        ks = list(rows)
        chart = line_chart({"pass@k": (ks, [100 * rows[k]["value"] for k in ks])}, "pass@k (%) vs k", "k")
        if chart:
            out.print(chart, markup=False, highlight=False)
        chart = line_chart(
            {
                "random": (rk["k"], [100 * v for v in rk["random"]]),
                "mean log-prob": (rk["k"], [100 * v for v in rk["mean_logprob"]]),
                "sum log-prob": (rk["k"], [100 * v for v in rk["sum_logprob"]]),
                "oracle": (rk["k"], [100 * v for v in rk["oracle"]]),
            },
            "Figure 7: pass rate (%) when one of k samples is submitted",
            "k",
        )
        if chart:
            out.print(chart, markup=False, highlight=False)


def compare_reports(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    ra = {row["k"]: row for row in a["pass_at_k"]}
    rb = {row["k"]: row for row in b["pass_at_k"]}
    common = sorted(set(ra) & set(rb))
    pa = {row["task_id"]: row for row in a["per_problem"]}
    pb = {row["task_id"]: row for row in b["per_problem"]}
    shared = [t for t in pa if t in pb]
    return {
        "runs": [a["run"]["id"], b["run"]["id"]],
        "pass_at_k": [{"k": k, "a": ra[k]["value"], "b": rb[k]["value"], "diff": rb[k]["value"] - ra[k]["value"]} for k in common],
        "shared_problems": len(shared),
        "solved_only_by_a": [t for t in shared if pa[t]["passed"] and not pb[t]["passed"]],
        "solved_only_by_b": [t for t in shared if pb[t]["passed"] and not pa[t]["passed"]],
    }


def render_compare(a: dict[str, Any], b: dict[str, Any], out, *, plots: bool = True) -> None:
    from rich.table import Table

    cmp_ = compare_reports(a, b)
    ida, idb = a["run"]["id"], b["run"]["id"]
    table = Table(title=f"{ida} vs {idb}", expand=False)
    table.add_column("", style="bold")
    table.add_column(ida + (f" ({a['run']['name']})" if a["run"].get("name") else ""), justify="right")
    table.add_column(idb + (f" ({b['run']['name']})" if b["run"].get("name") else ""), justify="right")
    table.add_column("diff", justify="right")
    for key in ("backend", "model", "n", "temperature", "top_p", "max_tokens", "seed", "problems"):
        table.add_row(key, str(a["run"].get(key)), str(b["run"].get(key)), "")
    table.add_row("judged / passed", f"{a['totals']['judged']} / {a['totals']['passed']}", f"{b['totals']['judged']} / {b['totals']['passed']}", "")
    ra = {row["k"]: row for row in a["pass_at_k"]}
    rb = {row["k"]: row for row in b["pass_at_k"]}
    for k in _table_ks(sorted(set(ra) | set(rb))):
        va, vb = ra.get(k), rb.get(k)
        fmt = lambda r: "--" if r is None else f"{_pct(r['value'])} [dim]({_pct(r['ci_low'])}–{_pct(r['ci_high'])})[/]"  # noqa: E731
        diff = f"{100 * (vb['value'] - va['value']):+.2f} pt" if va and vb else ""
        table.add_row(f"pass@{k}", fmt(va), fmt(vb), diff)
    for label, key in (("best mean log-prob @n", "mean_logprob"), ("random @n", "random")):
        xa, xb = a["ranking"][key], b["ranking"][key]
        table.add_row(label, _pct(xa[-1] if xa else None), _pct(xb[-1] if xb else None), "")
    ba, bb = a.get("bleu") or {}, b.get("bleu") or {}
    if ba and bb:
        fmt = lambda d: "--" if not d or d.get("mean") is None else f"{d['mean']:.1f}"  # noqa: E731
        table.add_row("BLEU correct (mean)", fmt(ba.get("correct")), fmt(bb.get("correct")), "")
        table.add_row("BLEU wrong (mean)", fmt(ba.get("wrong")), fmt(bb.get("wrong")), "")
    out.print(table)
    out.print(
        f"  {cmp_['shared_problems']} shared problems · solved only by {ida}: {len(cmp_['solved_only_by_a'])} · only by {idb}: {len(cmp_['solved_only_by_b'])}"
    )
    if plots and (len(ra) >= 2 or len(rb) >= 2):
        chart = line_chart(
            {
                ida: (list(ra), [100 * r["value"] for r in ra.values()]),
                idb: (list(rb), [100 * r["value"] for r in rb.values()]),
            },
            "pass@k (%) vs k",
            "k",
        )
        if chart:
            out.print(chart, markup=False, highlight=False)
