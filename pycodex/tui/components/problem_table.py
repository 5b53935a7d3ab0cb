"""The table of problems: id, entry point, asserts, last/best pass rate, first docstring line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from pycodex.tui.components.rates import rate_text

if TYPE_CHECKING:
    from textual import getters

    from pycodex.tui.app import PycodexApp

COLUMNS = (
    ("id", "ID"),
    ("entry", "Entry point"),
    ("asserts", "Asserts"),
    ("last", "Last"),
    ("best", "Best"),
    ("doc", "Docstring"),
)
SORTABLE = ("id", "entry", "asserts", "last", "best")
ENTRY_SHARE = 0.18  # of the table's width at most for the entry point (the docstring gets the rest)


def problem_matches(problem, needle: str) -> bool:
    if not needle:
        return True
    needle = needle.lower()
    return (
        needle in problem.task_id.lower()
        or needle in problem.entry_point.lower()
        or needle in problem.docstring.lower()
    )


class ProblemTable(DataTable):
    """Vim keys on top of DataTable's arrows / PageUp / PageDown; Enter selects."""
    if TYPE_CHECKING:
        app = getters.app(PycodexApp)


    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("home", "scroll_top", "First", show=False),
        Binding("end", "scroll_bottom", "Last", show=False),
    ]

    DEFAULT_CSS = """
    ProblemTable { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.sort_key = "id"
        self.sort_reverse = False
        self.filter_text = ""
        self._problems: list = []

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def on_resize(self) -> None:
        self.fit_docstring_column()

    def fit_docstring_column(self) -> None:
        """The docstring column takes whatever width the others leave (no horizontal scrolling); the
        entry point column gives up its longest names' tails (…) beyond ENTRY_SHARE of the width."""
        doc = self.columns.get(ColumnKey("doc"))
        entry = self.columns.get(ColumnKey("entry"))
        if doc is None or entry is None or not self.size.width:
            return
        longest = max((len(p.entry_point) for p in self._problems), default=0)
        entry_width = max(len("Entry point") + 2, min(longest, int(self.size.width * ENTRY_SHARE)))
        if entry.auto_width or entry.width != entry_width:
            entry.auto_width = False
            entry.width = entry_width
        others = sum(c.get_render_width(self) for key, c in self.columns.items() if key.value != "doc")
        available = self.size.width - others - 2 * self.cell_padding - 2  # vertical scrollbar
        width = max(12, available)
        if doc.auto_width or doc.width != width:
            doc.auto_width = False
            doc.width = width
            self._require_update_dimensions = True
            self.refresh(layout=True)

    def set_problems(self, problems: list) -> None:
        self._problems = problems
        self.rebuild()

    def _sort_value(self, problem):
        rates = self.app.pass_rates.get(problem.task_id, (None, None))
        if self.sort_key == "entry":
            return problem.entry_point.lower()
        if self.sort_key == "asserts":
            return problem.assert_count
        if self.sort_key in ("last", "best"):
            value = rates[0] if self.sort_key == "last" else rates[1]
            return -1.0 if value is None else value
        return problem.number if problem.number is not None else problem.task_id

    def visible_problems(self) -> list:
        shown = [p for p in self._problems if problem_matches(p, self.filter_text)]
        shown.sort(key=self._sort_value, reverse=self.sort_reverse)
        if self.filter_text and self.sort_key == "id" and not self.sort_reverse:
            # Default order while filtering: best matches first (exact entry point, then prefix).
            needle = self.filter_text.lower()
            shown.sort(key=lambda p: (p.entry_point.lower() != needle, not p.entry_point.lower().startswith(needle)))
        return shown

    def rebuild(self) -> None:
        current = self.current_task_id
        self.clear()
        for problem in self.visible_problems():
            last, best = self.app.pass_rates.get(problem.task_id, (None, None))
            self.add_row(
                problem.task_id,
                Text(problem.entry_point, style="bold", overflow="ellipsis", no_wrap=True),
                Text(str(problem.assert_count), justify="right"),
                rate_text(self.app, last),
                rate_text(self.app, best),
                Text(problem.first_docstring_line, style="italic", overflow="ellipsis", no_wrap=True),
                key=problem.task_id,
            )
        self._update_headers()
        self.fit_docstring_column()
        if current is not None and current in self.rows:
            self.move_cursor(row=self.get_row_index(current))

    def _update_headers(self) -> None:
        for key, label in COLUMNS:
            column = self.columns.get(ColumnKey(key))
            if column is None:
                continue
            arrow = (" ▼" if self.sort_reverse else " ▲") if key == self.sort_key else ""
            column.label = Text(label + arrow)
            column.content_width = max(column.content_width, len(label) + 2)  # room for the arrow
        self._clear_caches()  # the header row is cached by DataTable
        self.refresh()

    def sort_by(self, key: str) -> None:
        if key not in SORTABLE:
            return
        if key == self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key = key
            self.sort_reverse = key in ("last", "best", "asserts")
        self.rebuild()

    def cycle_sort(self) -> None:
        index = (SORTABLE.index(self.sort_key) + 1) % len(SORTABLE)
        self.sort_key = SORTABLE[index]
        self.sort_reverse = self.sort_key in ("last", "best", "asserts")
        self.rebuild()

    @property
    def current_task_id(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(event.column_key.value or "")
