"""`pycodex tui` (and bare `pycodex`): open the Textual app. textual is imported only here."""

from __future__ import annotations

import typer


def launch_tui() -> None:
    from pycodex.tui.app import run_app

    run_app()


def register(app: typer.Typer) -> None:
    @app.command("tui")
    def tui() -> None:
        """Open the terminal UI (the same as running `pycodex` with no command)."""
        launch_tui()
