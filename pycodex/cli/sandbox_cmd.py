"""`pycodex sandbox-info`: which isolation layers are active on this machine, and why (not)."""

from __future__ import annotations

import typer

from pycodex.cli.common import JsonOption, JudgeOption, check_judge, console, print_json


def sandbox_info_command(judge: str = JudgeOption, as_json: bool = JsonOption) -> None:
    """Run a probe sample in the sandbox and list each isolation layer: active or not, and why."""
    from pycodex.execution import sandbox_info

    layers = sandbox_info(check_judge(judge))
    if as_json:
        print_json([{"layer": name, "active": active, "reason": reason} for name, active, reason in layers])
        return
    from rich.table import Table

    table = Table(title="sandbox layers")
    table.add_column("layer", style="bold")
    table.add_column("active")
    table.add_column("why", overflow="fold")
    for name, active, reason in layers:
        table.add_row(name, "[green]yes[/]" if active else "[red]no[/]", reason)
    console().print(table)


def register(app: typer.Typer) -> None:
    app.command("sandbox-info")(sandbox_info_command)
