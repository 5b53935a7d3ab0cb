"""`pycodex tui` (and bare `pycodex`): open the Textual app. textual is imported only here."""

from __future__ import annotations

import typer

from pycodex.cli.common import JudgeOption, check_judge


def launch_tui(judge: str = "strict") -> None:
    from pycodex.tui.app import run_app

    run_app(executor_options={"judge": check_judge(judge)})


def register(app: typer.Typer) -> None:
    @app.command("tui")
    def tui(judge: str = JudgeOption) -> None:
        """Open the terminal UI (the same as running `pycodex` with no command)."""
        launch_tui(judge)
