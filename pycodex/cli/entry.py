"""The `pycodex` console script. Bare `pycodex` opens the TUI without building the Typer app
(saves a fifth of a second of start-up); anything else goes to the CLI."""

from __future__ import annotations

import sys


def main() -> None:
    if len(sys.argv) > 1:
        from pycodex.cli.app import main as cli_main

        cli_main(sys.argv[1:])
        return
    from pycodex.errors import UserError

    try:
        from pycodex.tui.app import run_app

        run_app()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
