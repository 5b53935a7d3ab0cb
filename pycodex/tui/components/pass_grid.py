"""A grid of problems whose cells fill with color as their samples are judged (passes / n)."""

from __future__ import annotations

import math

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.color import Color
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from pycodex.runs.state import RunState

CELL_WIDTH = 5


class PassGrid(Widget, can_focus=True):
    BINDINGS = [
        Binding("left,h", "move(-1, 0)", "Left", show=False),
        Binding("right,l", "move(1, 0)", "Right", show=False),
        Binding("up,k", "move(0, -1)", "Up", show=False),
        Binding("down,j", "move(0, 1)", "Down", show=False),
        Binding("enter", "select", "Samples"),
    ]

    DEFAULT_CSS = """
    PassGrid { height: auto; padding: 0 1; }
    """

    cursor = reactive(0)

    class CellSelected(Message):
        def __init__(self, task_id: str) -> None:
            super().__init__()
            self.task_id = task_id

    def __init__(self, state: RunState, labels: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state
        self.labels = labels or {}

    def _columns(self, width: int | None = None) -> int:
        width = (width if width is not None else self.content_size.width) or 80
        return max(1, width // CELL_WIDTH)

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(1, math.ceil(len(self.state.task_ids) / self._columns(width)))

    def _label(self, task_id: str) -> str:
        if task_id in self.labels:
            return self.labels[task_id]
        tail = task_id.rsplit("/", 1)[-1]
        return tail[: CELL_WIDTH - 1]

    def _cell_style(self, task_id: str, selected: bool) -> Style:
        theme = self.app.current_theme
        tally = self.state.tallies.get(task_id)
        panel = Color.parse(theme.panel or "#333333")
        if tally is None or (tally.generated == 0 and tally.judged == 0):
            bg = panel
        elif tally.judged == 0:
            bg = panel.blend(Color.parse(theme.primary), 0.45)
        else:
            fail = Color.parse(theme.error or "red")
            ok = Color.parse(theme.success or "green")
            bg = fail.blend(ok, tally.passed / tally.judged)
            if not tally.complete:
                bg = panel.blend(bg, 0.6)
        fg = bg.get_contrast_text(1.0)
        if selected:
            accent = Color.parse(theme.accent or theme.primary)
            return Style(color=accent.get_contrast_text(1.0).rich_color, bgcolor=accent.rich_color, bold=True, underline=True)
        return Style(color=fg.rich_color, bgcolor=bg.rich_color)

    def render(self) -> Text:
        cols = self._columns()
        text = Text(no_wrap=True, overflow="crop")
        for i, task_id in enumerate(self.state.task_ids):
            if i and i % cols == 0:
                text.append("\n")
            label = self._label(task_id).center(CELL_WIDTH - 1)
            text.append(label, style=self._cell_style(task_id, self.has_focus and i == self.cursor))
            text.append(" ")
        return text

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def watch_cursor(self) -> None:
        self.refresh()

    def action_move(self, dx: int, dy: int) -> None:
        if not self.state.task_ids:
            return
        cols = self._columns()
        target = self.cursor + dx + dy * cols
        self.cursor = max(0, min(len(self.state.task_ids) - 1, target))

    def action_select(self) -> None:
        if self.state.task_ids:
            self.post_message(self.CellSelected(self.state.task_ids[self.cursor]))

    def on_click(self, event) -> None:
        cols = self._columns()
        index = event.y * cols + (event.x - 1) // CELL_WIDTH
        if 0 <= index < len(self.state.task_ids):
            self.cursor = index
            self.focus()
            if event.chain >= 2:
                self.action_select()

    @property
    def current_task_id(self) -> str | None:
        return self.state.task_ids[self.cursor] if self.state.task_ids else None
