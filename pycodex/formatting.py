"""Small text formatters shared by the CLI and the TUI."""

from __future__ import annotations


def format_duration(seconds: float | None, unknown: str = "--") -> str:
    """42 -> '42s', 125 -> '2m05s', 3725 -> '1h02m'; None -> unknown."""
    if seconds is None:
        return unknown
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
