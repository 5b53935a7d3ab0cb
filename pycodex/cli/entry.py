"""The `pycodex` console script. Bare `pycodex` opens the TUI without building the Typer app
(saves a fifth of a second of start-up); anything else goes to the CLI. A command that may load a
model loads llama.cpp's libraries before anything imports numpy (pycodex.generation.llama.native)."""

from __future__ import annotations

import sys


def main() -> None:
    from pycodex.generation.llama.native import preload_for

    preload_for(sys.argv[1:])
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
