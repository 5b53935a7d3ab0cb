"""Colors for pass rates, taken from the current theme (success / warning / error)."""

from __future__ import annotations

from rich.text import Text

from pycodex.execution.verdict import CRASHED, FAILED, OUT_OF_MEMORY, PASSED, SYNTAX_ERROR, TIMED_OUT
from pycodex.runs.state import PENDING_STATES, SampleView


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


VERDICT_LABELS: dict[str, str] = {
    PASSED: "PASS",
    FAILED: "FAIL",
    TIMED_OUT: "TIMEOUT",
    CRASHED: "CRASH",
    OUT_OF_MEMORY: "OOM",
    SYNTAX_ERROR: "SYNTAX",
}


def verdict_label(status: SampleView) -> str:
    return VERDICT_LABELS.get(status, status.upper())


def verdict_style(app, status: SampleView) -> str:
    theme = app.current_theme
    if status == PASSED:
        return f"bold {theme.success or 'green'}"
    if status in (TIMED_OUT, OUT_OF_MEMORY):
        return f"bold {theme.warning or 'yellow'}"
    if status in PENDING_STATES:
        return f"bold {theme.primary}"
    return f"bold {theme.error or 'red'}"
