"""The first screen: every problem in a filterable, sortable table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from pycodex.tui.components.problem_table import ProblemTable

if TYPE_CHECKING:
    from textual import getters

    from pycodex.tui.app import PycodexApp


class BrowserScreen(Screen):
    if TYPE_CHECKING:
        app = getters.app(PycodexApp)

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", key_display="/"),
        Binding("enter", "open", "Open", show=False),
        Binding("g", "generate", "Generate"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("P", "app.pick_problem_set", "Problem set"),
        Binding("E", "app.dashboard", "Eval dashboard"),
        Binding("R", "app.runs", "Runs"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    DEFAULT_CSS = """
    BrowserScreen #filter-row { height: 1; margin: 0 0 1 0; }
    BrowserScreen #filter-label { width: 3; padding: 0 1; color: $accent; text-style: bold; }
    BrowserScreen #filter { width: 1fr; border: none; height: 1; padding: 0 1; background: $boost; }
    BrowserScreen #filter:focus { border: none; background: $primary 25%; }
    BrowserScreen #count { width: auto; padding: 0 1 0 2; color: $text-muted; }
    BrowserScreen #intro { height: auto; padding: 0 1; color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._intro(), id="intro")
        with Horizontal(id="filter-row"):
            yield Static("/", id="filter-label")
            yield Input(placeholder="filter by id, entry point or docstring (press /)", id="filter", compact=True)
            yield Static("", id="count")
        yield ProblemTable(id="problems")
        yield Footer()

    def _intro(self) -> str:
        from pycodex.problems.sets import INTROS

        return INTROS.get(self.app.problem_set.name or "", "Problems from your own file: a sample passes when its tests run clean.")

    def problem_set_changed(self) -> None:
        """The app switched sets (P): show the new one's problems."""
        self.query_one("#intro", Static).update(self._intro())
        self.query_one("#filter", Input).value = ""  # another set's ids: the old filter would hide them all
        table = self.query_one(ProblemTable)
        table.filter_text = ""
        table.set_problems(list(self.app.problem_set))
        self._update_count()

    def on_mount(self) -> None:
        table = self.query_one(ProblemTable)
        table.set_problems(list(self.app.problem_set))
        self._update_count()
        table.focus()

    def pass_rates_changed(self) -> None:
        self.query_one(ProblemTable).rebuild()
        self._update_count()

    def _update_count(self) -> None:
        table = self.query_one(ProblemTable)
        total = len(self.app.problem_set)
        rated = len([last for last, _ in self.app.pass_rates.values() if last is not None])
        text = f"{table.row_count}/{total} problems"
        if rated:
            text += f" · {rated} with results"
        self.query_one("#count", Static).update(text)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "filter":
            return
        table = self.query_one(ProblemTable)
        table.filter_text = event.value.strip()
        table.rebuild()
        if table.row_count:
            table.move_cursor(row=0)
        self._update_count()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the filter opens the highlighted match (the first, unless ↓ moved on)."""
        if event.input.id == "filter":
            table = self.query_one(ProblemTable)
            table.focus()
            if table.row_count:
                self.action_open()

    def on_key(self, event) -> None:
        # Down arrow in the filter box goes to the table (type, then arrow to pick).
        if event.key == "down" and isinstance(self.focused, Input):
            self.query_one(ProblemTable).focus()
            event.stop()

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.value:
            box.value = ""
        self.query_one(ProblemTable).focus()

    def action_cycle_sort(self) -> None:
        self.query_one(ProblemTable).cycle_sort()

    def _current(self):
        task_id = self.query_one(ProblemTable).current_task_id
        return self.app.problem_set.get(task_id) if task_id else None

    def on_data_table_row_selected(self, event) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        problem = self._current()
        if problem is None:
            return
        from pycodex.tui.screens.problem import ProblemScreen

        self.app.push_screen(ProblemScreen(problem))

    def action_generate(self) -> None:
        problem = self._current()
        if problem is None:
            return
        from pycodex.tui.screens.samples import start_generation

        start_generation(self.app, problem)
