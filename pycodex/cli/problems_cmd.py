"""`pycodex problems list | show | verify | export`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pycodex.cli.common import (JsonOption, JudgeOption, ProblemSetOption, ProblemsFileOption, check_judge, console, load_problem_set,
                                print_json)

problems_app = typer.Typer(help="Browse the problem set (HumanEval by default).", no_args_is_help=True)


@problems_app.command("list")
def list_problems(problems_file: Optional[Path] = ProblemsFileOption, problem_set_name: Optional[str] = ProblemSetOption,
                  as_json: bool = JsonOption) -> None:
    """A table of every problem: id, entry point, number of asserts, first docstring line."""
    problem_set = load_problem_set(problems_file, problem_set_name)
    rows = [
        {
            "task_id": p.task_id,
            "entry_point": p.entry_point,
            "asserts": p.assert_count,
            "summary": p.first_docstring_line,
        }
        | ({"extra_inputs": p.extra_inputs} if p.has_base_test else {})
        | ({"chain": list(p.chain)} if p.chain is not None else {})
        for p in problem_set
    ]
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    label = problem_set.source.name if problem_set.name is None else f"{problem_set.name} {problem_set.version}"
    table = Table(title=f"{len(rows)} problems ({label})", expand=False)
    table.add_column("id", style="bold cyan", no_wrap=True)
    table.add_column("entry point", style="green", no_wrap=True)
    table.add_column("asserts", justify="right")
    table.add_column("first docstring line", overflow="ellipsis", no_wrap=True, max_width=80)
    for row in rows:
        table.add_row(row["task_id"], row["entry_point"], str(row["asserts"]), row["summary"])
    console().print(table)


@problems_app.command("show")
def show_problem(
    task_id: str = typer.Argument(..., help="HumanEval/12 or just 12."),
    problems_file: Optional[Path] = ProblemsFileOption,
    problem_set_name: Optional[str] = ProblemSetOption,
    as_json: bool = JsonOption,
) -> None:
    """The prompt, canonical solution and tests of one problem, syntax-highlighted (EvalPlus sets: the
    base inputs; `problems export` writes the whole test)."""
    problem = load_problem_set(problems_file, problem_set_name).get(task_id)
    if as_json:
        print_json(problem.view_row() | {"asserts": problem.assert_count})
        return
    from rich.panel import Panel
    from rich.syntax import Syntax

    out = console()
    for title, code in (
        (f"{problem.task_id} · prompt", problem.prompt),
        ("canonical solution", problem.canonical_solution),
        (f"tests · {problem.assert_count} asserts", problem.test_view),
    ):
        out.print(Panel(Syntax(code.strip("\n"), "python", theme="monokai", line_numbers=False), title=title, title_align="left"))


@problems_app.command("verify")
def verify_problems(
    problems_file: Optional[Path] = ProblemsFileOption,
    problem_set_name: Optional[str] = ProblemSetOption,
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Samples run in parallel (default: one per CPU)."),
    timeout: float = typer.Option(3.0, "--timeout", help="Seconds of CPU time (and of sleeping or blocked) per canonical solution; see docs/sandbox.md."),
    judge: str = JudgeOption,
    as_json: bool = JsonOption,
) -> None:
    """Run every canonical solution through the sandboxed executor: all must pass (exit 1 otherwise).

    EvalPlus sets: each canonical solution's outputs are recomputed in the sandbox and compared, in
    the judge, with the shipped expected outputs (base and plus inputs); each input's CPU time on
    this machine is measured first where not yet cached."""
    from pycodex.cli.evaluate_cmd import progress_bar
    from pycodex.execution import Executor
    from pycodex.execution.judging import run_judged
    from pycodex.runs.request import check_execution

    from pycodex.problems.sets import prepare

    check_execution(timeout, 4096, workers)
    check_judge(judge)
    problems = list(load_problem_set(problems_file, problem_set_name))
    prepare(problems, workers)
    with progress_bar(len(problems), "verifying canonical solutions", enabled=not as_json) as on_result:
        with Executor(workers=workers, timeout=timeout, judge=judge) as executor:
            verdicts = run_judged(executor, [(p, p.canonical_solution) for p in problems], on_result=on_result)
    # humaneval-plus: the canonical solution must pass HumanEval's own test too (base_passed)
    failures = [{"task_id": p.task_id, "status": v.status, "detail": v.detail} for p, v in zip(problems, verdicts)
                if not v.passed or getattr(v, "base_passed", None) is False]
    passed = len(problems) - len(failures)
    if as_json:
        print_json({"problems": len(problems), "passed": passed, "failures": failures, "judge": judge})
    else:
        out = console()
        for failure in failures:
            out.print(f"[red]{failure['task_id']}[/] {failure['status']}: {failure['detail']}")
        style = "green" if not failures else "red"
        out.print(f"[{style}]{passed}/{len(problems)} canonical solutions pass[/] ({judge} judge)")
    if failures:
        raise typer.Exit(1)


@problems_app.command("export")
def export_problems(
    output: Path = typer.Option(..., "--output", "-o", help="The file to write (.jsonl, or .jsonl.gz to compress).", dir_okay=False),
    problems_file: Optional[Path] = ProblemsFileOption,
    problem_set_name: Optional[str] = ProblemSetOption,
    as_json: bool = JsonOption,
) -> None:
    """Write a problem set in HumanEval's JSONL format (with its extra fields: base_test, chain), for other harnesses."""
    from pycodex.problems.sets import export, prepare

    problem_set = load_problem_set(problems_file, problem_set_name)
    prepare(problem_set)
    count = export(problem_set, output)
    if as_json:
        print_json({"problems": count, "output": str(output), "problem_set": problem_set.name, "problem_set_version": problem_set.version})
    else:
        console().print(f"{count} problems ({problem_set.name or problem_set.source}) written to {output}")


def register(app: typer.Typer) -> None:
    app.add_typer(problems_app, name="problems")
