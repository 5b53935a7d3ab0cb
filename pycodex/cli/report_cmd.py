"""`pycodex report RUN [--compare RUN2]`: pass@k with intervals, Figures 7-8, per-problem results."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pycodex.cli.common import JsonOption, ProblemsFileOption, console, load_problem_set, print_json

DbOption = typer.Option(None, "--db", help="The run store (SQLite). Default: PYCODEX_DB or the user data folder.", dir_okay=False)


def report_command(
    run: str = typer.Argument("last", help="Run id (or unique prefix, name, `last`)."),
    compare: Optional[str] = typer.Option(
        None, "--compare", "-c", help="A second run (B) on the same problems and seed: side by side, with B - A and its paired "
        "bootstrap interval, and which problems both / only A / only B / neither solved."),
    db: Optional[Path] = DbOption,
    as_json: bool = JsonOption,
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for the 95% intervals (0 = none)."),
    no_bleu: bool = typer.Option(False, "--no-bleu", help="Skip Figure 8 (BLEU), which takes a while on big runs."),
    no_plots: bool = typer.Option(False, "--no-plots", help="Tables only, no terminal plots."),
    all_problems: bool = typer.Option(False, "--all-problems", help="Print the per-problem table for every problem."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also save the report (tables and plots) as an HTML handout.", dir_okay=False),
    svg: Optional[Path] = typer.Option(None, "--svg", help="Also save the report as an SVG handout.", dir_okay=False),
    problems_file: Optional[Path] = ProblemsFileOption,
    problem_set_name: Optional[str] = typer.Option(
        None, "--problem-set", help="Read the problems (canonical solutions, chains) from this set instead of the run's own "
        "(stored with it): humaneval, humaneval-plus, humaneval-plus-mini, mbpp-plus or chains."),
) -> None:
    """pass@k with 95% intervals, the paper's Figures 7 and 8, per-problem counts and plots.

    Figure 7: choosing one of k samples by mean or sum log-prob vs random vs the oracle (pass@k).
    Figure 8: BLEU against the canonical solution, correct vs wrong samples.
    EvalPlus runs: pass@k by base and base + extra inputs; chains runs: pass rate by chain length
    (`--json` key by_chain_length) beside the paper's 2-3x drop per block.
    """
    from pycodex.errors import UserError
    from pycodex.report.build import build_report
    from pycodex.report.handout import check_paths, save_handout
    from pycodex.report.render import render_compare, render_report
    from pycodex.store.database import Store

    if bootstrap < 0:
        raise UserError(f"--bootstrap must be >= 0 (got {bootstrap})")
    check_paths(html, svg)
    problem_set = None
    if problems_file or problem_set_name:
        problem_set = load_problem_set(problems_file, problem_set_name)
    with Store(db) as store:
        first_id = store.resolve(run)
        second = None
        if compare:
            from pycodex.report.paired import check_comparable

            second_id = store.resolve(compare)
            check_comparable(store.get_run(first_id), store.get_run(second_id))
            second = build_report(store, second_id, problem_set=problem_set, bootstrap=bootstrap, bleu=not no_bleu)
        first = build_report(store, first_id, problem_set=problem_set, bootstrap=bootstrap, bleu=not no_bleu)
    comparison = None
    if second is not None:
        from pycodex.report.paired import compare_reports

        comparison = compare_reports(first, second, resamples=bootstrap)

    def draw(out) -> None:
        if second is not None and comparison is not None:
            render_compare(first, second, comparison, out, plots=not no_plots)
        else:
            render_report(first, out, plots=not no_plots, all_problems=all_problems)

    if html or svg:
        title = f"pycodex report {first['run']['id']}" + (f" vs {second['run']['id']}" if second else "")
        for path in save_handout(draw, html=html, svg=svg, title=title):
            console(stderr=True).print(f"wrote {path}")
    if as_json:
        print_json(first if comparison is None else {"a": first, "b": second, "comparison": comparison})
    else:
        draw(console())


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
