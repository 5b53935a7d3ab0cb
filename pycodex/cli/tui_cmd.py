"""`pycodex tui` (and bare `pycodex`): open the Textual app. textual is imported only here."""

from __future__ import annotations

from typing import Optional

import typer

from pycodex.cli.common import JudgeOption, check_judge


def launch_tui(judge: str = "strict", problem: Optional[str] = None) -> None:
    from pycodex.tui.app import run_app

    run_app(executor_options={"judge": check_judge(judge)}, problem=problem)


def register(app: typer.Typer) -> None:
    @app.command("tui")
    def tui(
        judge: str = JudgeOption,
        problem: Optional[str] = typer.Option(None, "--problem", help="Open this problem's view (a number or id, e.g. 55 or HumanEval/55)."),
    ) -> None:
        """Open the terminal UI (the same as running `pycodex` with no command)."""
        launch_tui(judge, problem)
