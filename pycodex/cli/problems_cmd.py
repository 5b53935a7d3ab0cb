"""`pycodex problems list | show | verify`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pycodex.cli.common import JsonOption, ProblemsFileOption, console, load_problem_set, print_json

problems_app = typer.Typer(help="Browse the problem set (HumanEval by default).", no_args_is_help=True)


@problems_app.command("list")
def list_problems(problems_file: Optional[Path] = ProblemsFileOption, as_json: bool = JsonOption) -> None:
    """A table of every problem: id, entry point, number of asserts, first docstring line."""
    problem_set = load_problem_set(problems_file)
    rows = [
        {
            "task_id": p.task_id,
            "entry_point": p.entry_point,
            "asserts": p.assert_count,
            "summary": p.first_docstring_line,
        }
        for p in problem_set
    ]
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} problems ({problem_set.source.name})", expand=False)
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
    as_json: bool = JsonOption,
) -> None:
    """The prompt, canonical solution and tests of one problem, syntax-highlighted."""
    problem = load_problem_set(problems_file).get(task_id)
    if as_json:
        print_json(problem.to_dict() | {"asserts": problem.assert_count})
        return
    from rich.panel import Panel
    from rich.syntax import Syntax

    out = console()
    for title, code in (
        (f"{problem.task_id} · prompt", problem.prompt),
        ("canonical solution", problem.canonical_solution),
        (f"tests · {problem.assert_count} asserts", problem.test),
    ):
        out.print(Panel(Syntax(code.strip("\n"), "python", theme="monokai", line_numbers=False), title=title, title_align="left"))


def register(app: typer.Typer) -> None:
    app.add_typer(problems_app, name="problems")
