"""Drawing report_sets' sections: base vs plus pass@k, and pass rate by chain length with the paper's line."""

from __future__ import annotations

from typing import Any

from pycodex.report_render import _pct, _table_ks, line_chart


def render_base_pass_at_k(report: dict[str, Any], out) -> None:
    base = {row["k"]: row for row in report.get("base_pass_at_k") or []}
    if not base:
        return
    from rich.table import Table

    plus = {row["k"]: row for row in report["pass_at_k"]}
    table = Table(title="humaneval-plus: HumanEval's own tests (base) and with the extra inputs (plus)", expand=False)
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
                      _pct(r["reference"]), f"{100 * r['reference_low']:.1f}–{100 * r['reference_high']:.1f}%")
    out.print(table)
    if rows[0].get("fitted_drop_per_block"):
        out.print(f"  measured drop per block (log-linear fit): {rows[0]['fitted_drop_per_block']:.2f}x")
    if plots:
        lengths = [r["length"] for r in rows]
        chart = line_chart(
            {"measured": (lengths, [100 * (r["pass_rate"] or 0) for r in rows]),
             "paper (2.5x per block)": (lengths, [100 * r["reference"] for r in rows])},
            "pass rate (%) by number of chained blocks", "blocks")
        if chart:
            out.print(chart, markup=False, highlight=False)
