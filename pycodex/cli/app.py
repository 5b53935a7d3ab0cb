"""`pycodex` entry point: the Typer app, one module per command group, errors as one line."""

from __future__ import annotations

import sys
from typing import Any, Optional, cast

import typer

from pycodex import __version__
from pycodex.errors import UserError

app = typer.Typer(
    name="pycodex",
    help="Reproduce the Codex paper's HumanEval evaluation with local GGUF models. Run with no command to open the TUI.",
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pycodex {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Reproduce the Codex paper (Chen et al. 2021) with local models: explore HumanEval, generate, execute safely, measure pass@k.

    Run `pycodex` with no command to open the terminal UI.
    """
    from pycodex.cli.evaluate_cmd import progress_bar
    from pycodex.problems.cpu_times import set_progress

    set_progress(progress_bar)  # (EvalPlus sets: timing the canonical solutions once shows a bar on stderr)
    if ctx.invoked_subcommand is None:
        from pycodex.cli.tui_cmd import launch_tui

        launch_tui()


def _register_commands() -> None:
    # Each module adds its commands; none imports heavy modules at import time.
    from pycodex.cli import (
        eval_cmd,
        evaluate_cmd,
        models_cmd,
        problems_cmd,
        repl_cmd,
        report_cmd,
        runs_cmd,
        sandbox_cmd,
        solve_cmd,
        tui_cmd,
        versus_cmd,
    )

    for module in (problems_cmd, evaluate_cmd, sandbox_cmd, solve_cmd, repl_cmd, models_cmd, eval_cmd, runs_cmd, report_cmd, versus_cmd, tui_cmd):
        module.register(app)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI. Usage errors and bad flag values, like UserError, are one line and exit 2."""
    args = sys.argv[1:] if argv is None else argv
    # click's exceptions (typer vendors click in newer releases): found through a public class.
    click_exception: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    group = typer.main.get_command(app)
    try:
        code = group.main(args=args, prog_name="pycodex", standalone_mode=False)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click_exception as error:
        click_error = cast(Any, error)
        words, node = ["pycodex"], cast(Any, group)
        for arg in args:  # the (sub)command the error belongs to
            node = getattr(node, "commands", {}).get(arg)
            if node is None:
                break
            words.append(arg)
        print(f"error: {click_error.format_message()} (see {' '.join(words)} --help)", file=sys.stderr)
        sys.exit(click_error.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(code if isinstance(code, int) else 0)
