"""Colors for pass rates, taken from the current theme (success / warning / error)."""

from __future__ import annotations

from rich.text import Text


def rate_color(app, rate: float | None) -> str:
    theme = app.current_theme
    if rate is None:
        return theme.foreground or "grey50"
    if rate >= 0.75:
        return theme.success or "green"
    if rate >= 0.25:
        return theme.warning or "yellow"
    return theme.error or "red"


def rate_text(app, rate: float | None, width: int = 5) -> Text:
    if rate is None:
        return Text("·".rjust(width), style="dim")
    return Text(f"{rate * 100:.0f}%".rjust(width), style=f"bold {rate_color(app, rate)}")


VERDICT_LABELS = {
    "passed": "PASS",
    "failed": "FAIL",
    "timed out": "TIMEOUT",
    "crashed": "CRASH",
    "out of memory": "OOM",
    "syntax error": "SYNTAX",
}


def verdict_label(status: str) -> str:
    return VERDICT_LABELS.get(status, status.upper())


def verdict_style(app, status: str) -> str:
    theme = app.current_theme
    if status == "passed":
        return f"bold {theme.success or 'green'}"
    if status in ("timed out", "out of memory"):
        return f"bold {theme.warning or 'yellow'}"
    if status in ("streaming", "running", "queued", "pending"):
        return f"bold {theme.primary}"
    return f"bold {theme.error or 'red'}"
