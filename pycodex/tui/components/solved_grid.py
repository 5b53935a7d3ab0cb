"""The versus matrix as a grid: one cell per problem, colored by who solved it (some sample
passed): both, only A, only B, neither; panel color until both sides have a verdict."""

from __future__ import annotations

from rich.style import Style
from textual.color import Color

from pycodex.tui.components.pass_grid import PassGrid

LEGEND = "solved by: green both · blue only A · amber only B · red neither"


class SolvedGrid(PassGrid):
    """cells: task_id -> both / only_a / only_b / neither (pycodex.report.paired's matrix)."""

    def __init__(self, state, **kwargs) -> None:
        super().__init__(state, **kwargs)
        self.cells: dict[str, str] = {}

    def set_matrix(self, matrix: dict[str, list[str]]) -> None:
        self.cells = {task: cell for cell, tasks in matrix.items() for task in tasks}
        self.refresh()

    def _cell_style(self, task_id: str, selected: bool) -> Style:
        theme = self.app.current_theme
        if selected:
            accent = Color.parse(theme.accent or theme.primary)
            return Style(color=accent.get_contrast_text(1.0).rich_color, bgcolor=accent.rich_color, bold=True, underline=True)
        colors = {"both": theme.success or "green", "only_a": theme.primary, "only_b": theme.warning or "orange",
                  "neither": theme.error or "red"}
        cell = self.cells.get(task_id)
        bg = Color.parse(colors[cell] if cell else (theme.panel or "#333333"))
        return Style(color=bg.get_contrast_text(1.0).rich_color, bgcolor=bg.rich_color)
