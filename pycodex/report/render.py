"""Drawing a report (pycodex.report.build's plain data) for the terminal: rich tables and plotext charts."""

from __future__ import annotations

import math
from typing import Any

from pycodex.report.build import CI_LEVEL, TABLE_KS


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
    _render_header(report, out)
    if not report["pass_at_k"]:
        out.print("[yellow]no judged samples yet[/]")
        return
    rows = {row["k"]: row for row in report["pass_at_k"]}
    _render_pass_at_k(rows, out)
    render_base_pass_at_k(report, out)
    render_by_chain_length(report, out, plots=plots)
    _render_ranking(report["ranking"], out)
    _render_bleu(report.get("bleu"), out)
    _render_per_problem(report, out, all_problems)
    if plots and len(rows) >= 2:
        _render_plots(rows, report["ranking"], out)


def _render_header(report: dict[str, Any], out) -> None:
    r, t = report["run"], report["totals"]
    title = f"run {r['id']}" + (f" ({r['name']})" if r.get("name") else "")
    problem_set = f" · {r['problem_set']} {r.get('problem_set_version') or ''}" if r.get("problem_set") else ""
    out.print(f"[bold cyan]{title}[/]  {r['status']} · {r['backend']}" + (f" {r['model']}" if r.get("model") else "") + problem_set)
    out.print(
        f"  {r['problems']} problems · n={r['n']} · T={r['temperature']} · top_p={r.get('top_p')} · max_tokens={r.get('max_tokens')} · seed={r['seed']}"
    )
    tps = f" · {t['tokens_per_second']:.1f} tok/s" if t.get("tokens_per_second") else ""
    out.print(
        f"  {t['judged']}/{t['expected_samples']} samples judged, {t['passed']} passed · {t['generated_tokens']} tokens{tps} · "
        + ", ".join(f"{k} {v}" for k, v in sorted(t["statuses"].items()))
    )


def _render_pass_at_k(rows: dict[int, dict[str, Any]], out) -> None:
    from rich.table import Table

    pk = Table(title=f"pass@k with {int(CI_LEVEL * 100)}% bootstrap interval over problems", expand=False)
    pk.add_column("k", justify="right", style="bold")
    pk.add_column("pass@k", justify="right")
    pk.add_column("95% CI", justify="right", style="dim")
    for k in _table_ks(list(rows)):
        row = rows[k]
        pk.add_row(str(k), _pct(row["value"]), f"{_pct(row['ci_low'])} – {_pct(row['ci_high'])}")
    out.print(pk)


def _render_ranking(rk: dict[str, Any], out) -> None:
    from rich.table import Table

    if not rk["k"]:
        return
    table = Table(title="Figure 7: one sample submitted out of k (expected pass rate)", expand=False)
    table.add_column("k", justify="right", style="bold")
    for name in ("random", "mean log-prob", "sum log-prob", "oracle (pass@k)"):
        table.add_column(name, justify="right")
    for k in _table_ks(rk["k"]):
        i = k - 1
        table.add_row(str(k), _pct(rk["random"][i]), _pct(rk["mean_logprob"][i]), _pct(rk["sum_logprob"][i]), _pct(rk["oracle"][i]))
    out.print(table)


def _render_bleu(b: dict[str, Any] | None, out) -> None:
    from rich.table import Table

    if not b or not (b["correct"]["count"] or b["wrong"]["count"]):
        return
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


def _render_per_problem(report: dict[str, Any], out, all_problems: bool) -> None:
    from rich.table import Table

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


def _render_plots(rows: dict[int, dict[str, Any]], rk: dict[str, Any], out) -> None:
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


def render_compare(a: dict[str, Any], b: dict[str, Any], comparison: dict[str, Any], out, *, plots: bool = True) -> None:
    """Two reports side by side; `comparison` is pycodex.report.paired.compare_reports(a, b)."""
    from rich.table import Table

    ida, idb = a["run"]["id"], b["run"]["id"]
    table = Table(title=f"A {ida} vs B {idb}", expand=False)
    table.add_column("", style="bold")
    table.add_column("A " + ida + (f" ({a['run']['name']})" if a["run"].get("name") else ""), justify="right")
    table.add_column("B " + idb + (f" ({b['run']['name']})" if b["run"].get("name") else ""), justify="right")
    table.add_column(f"B - A, paired {CI_LEVEL:.0%} interval", justify="right")
    for key in ("backend", "model", "n", "temperature", "top_p", "max_tokens", "seed", "problems"):
        table.add_row(key, str(a["run"].get(key)), str(b["run"].get(key)), "")
    table.add_row("judged / passed", f"{a['totals']['judged']} / {a['totals']['passed']}", f"{b['totals']['judged']} / {b['totals']['passed']}", "")
    ra = {row["k"]: row for row in a["pass_at_k"]}
    rb = {row["k"]: row for row in b["pass_at_k"]}
    paired = {row["k"]: row for row in comparison["pass_at_k"]}
    for k in _table_ks(sorted(set(ra) | set(rb))):
        va, vb = ra.get(k), rb.get(k)
        fmt = lambda r: "--" if r is None else f"{_pct(r['value'])} [dim]({_pct(r['ci_low'])}–{_pct(r['ci_high'])})[/]"  # noqa: E731
        table.add_row(f"pass@{k}", fmt(va), fmt(vb), paired_difference_text(paired.get(k)))
    for label, key in (("best mean log-prob @n", "mean_logprob"), ("random @n", "random")):
        xa, xb = a["ranking"][key], b["ranking"][key]
        table.add_row(label, _pct(xa[-1] if xa else None), _pct(xb[-1] if xb else None), "")
    ba, bb = a.get("bleu") or {}, b.get("bleu") or {}
    if ba and bb:
        fmt = lambda d: "--" if not d or d.get("mean") is None else f"{d['mean']:.1f}"  # noqa: E731
        table.add_row("BLEU correct (mean)", fmt(ba.get("correct")), fmt(bb.get("correct")), "")
        table.add_row("BLEU wrong (mean)", fmt(ba.get("wrong")), fmt(bb.get("wrong")), "")
    out.print(table)
    out.print(solved_matrix_table(comparison))
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


def paired_difference_text(row: dict[str, Any] | None) -> str:
    """`+12.50 pt [+3.10, +21.90]`: B - A in percentage points with its paired interval."""
    if row is None:
        return ""
    interval = "" if math.isnan(row["ci_low"]) else f" [{100 * row['ci_low']:+.2f}, {100 * row['ci_high']:+.2f}]"
    return f"{100 * row['diff']:+.2f} pt{interval}"


def solved_matrix_table(comparison: dict[str, Any]):
    """Per problem, who solved it (some sample passed): both, only A, only B, neither."""
    from rich.table import Table

    counts, matrix = comparison["counts"], comparison["matrix"]
    table = Table(title=f"solved, {comparison['shared_problems']} shared problems", expand=False)
    table.add_column("", style="bold")
    table.add_column("B solved", justify="right")
    table.add_column("B did not", justify="right")
    table.add_row("A solved", f"[green]{counts['both']}[/] both", f"[cyan]{counts['only_a']}[/] only A")
    table.add_row("A did not", f"[magenta]{counts['only_b']}[/] only B", f"{counts['neither']} neither")
    for cell, label in (("only_a", "only A"), ("only_b", "only B")):
        if matrix[cell]:
            shown = ", ".join(matrix[cell][:8]) + (f" +{len(matrix[cell]) - 8}" if len(matrix[cell]) > 8 else "")
            table.caption = ((table.caption + "\n") if table.caption else "") + f"{label}: {shown}"
    return table


# -- problem sets (pycodex.report.sets): base vs plus, pass rate by chain length ----------------


def render_base_pass_at_k(report: dict[str, Any], out) -> None:
    base = {row["k"]: row for row in report.get("base_pass_at_k") or []}
    if not base:
        return
    from rich.table import Table

    plus = {row["k"]: row for row in report["pass_at_k"]}
    table = Table(title="base inputs alone (base) and with the extra inputs (plus)", expand=False)
    table.add_column("k", justify="right", style="bold")
    table.add_column("base", justify="right")
    table.add_column("plus", justify="right")
    table.add_column("plus / base", justify="right", style="dim")
    for k in _table_ks([k for k in plus if k in base]):
        b, p = base[k]["value"], plus[k]["value"]
        table.add_row(str(k), _pct(b), _pct(p), f"{p / b:.2f}" if b else "--")
    out.print(table)


def render_by_chain_length(report: dict[str, Any], out, plots: bool = True) -> None:
    rows = report.get("by_chain_length") or []
    if not rows:
        return
    from rich.table import Table

    table = Table(title="chains: pass rate by chain length (paper: 2-3x lower per added block)", expand=False)
    for name in ("blocks", "problems", "samples", "passed", "pass rate", "paper 2.5x", "band 3x-2x"):
        table.add_column(name, justify="right")
    for r in rows:
        table.add_row(str(r["length"]), str(r["problems"]), str(r["samples"]), str(r["passed"]), _pct(r["pass_rate"]),
                      _pct(r["reference"]),
                      f"{100 * r['reference_low']:.1f}–{100 * r['reference_high']:.1f}%" if r["reference"] is not None else "--")
    out.print(table)
    if rows[0].get("fitted_drop_per_block"):
        out.print(f"  measured drop per block (log-linear fit): {rows[0]['fitted_drop_per_block']:.2f}x")
    if plots:
        lengths = [r["length"] for r in rows]
        chart = line_chart(
            {"measured": (lengths, [100 * (r["pass_rate"] or 0) for r in rows]),
             "paper (2.5x per block)": (lengths, [100 * r["reference"] for r in rows]) if rows[0]["reference"] is not None else ([], [])},
            "pass rate (%) by number of chained blocks", "blocks")
        if chart:
            out.print(chart, markup=False, highlight=False)
