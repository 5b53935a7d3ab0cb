"""Stored runs (history), newest first; Enter opens one in the dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING

import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from pycodex.tui.screens.handed import WorkbenchScreen
from textual.widgets import DataTable, Footer, Header, Static

from pycodex.tui.components.rates import rate_text

if TYPE_CHECKING:
    from textual import getters

    from pycodex.tui.app import PycodexApp


class RunsTable(DataTable):
    if TYPE_CHECKING:
        app = getters.app(PycodexApp)

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]


class RunsScreen(WorkbenchScreen):
    if TYPE_CHECKING:
        app = getters.app(PycodexApp)

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("enter", "open", "Open", show=False),
        Binding("r", "reload", "Reload"),
    ]

    DEFAULT_CSS = """
    RunsScreen #runs-head { height: auto; padding: 0 1; background: $panel; }
    RunsScreen RunsTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"Stored runs in {self.workbench.db_path}", id="runs-head")
        yield RunsTable(cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(RunsTable)
        for key, label in (("id", "Run"), ("name", "Name"), ("status", "Status"), ("model", "Model"), ("n", "n"),
                           ("t", "T"), ("problems", "Problems"), ("done", "Judged"), ("rate", "Pass rate"), ("when", "Created")):
            table.add_column(label, key=key)
        table.focus()
        self.action_reload()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def action_reload(self) -> None:
        from pycodex.tui import data

        try:
            runs = data.list_runs(self.workbench.db_path)
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._show, runs)

    def _show(self, runs) -> None:
        table = self.query_one(RunsTable)
        table.clear()
        for r in runs:
            model = r.model or r.backend
            if model and "/" in model:
                model = model.rsplit("/", 1)[-1]
            table.add_row(
                Text(r.id, style="bold"),
                r.name or "",
                r.effective_status,
                model or "",
                str(r.n),
                "" if r.temperature is None else f"{r.temperature:g}",
                str(len(r.task_ids)),
                f"{r.executed}/{r.total}",
                rate_text(self.app, r.pass_rate),
                time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at)),
                key=r.id,
            )
        if not runs:
            self.query_one("#runs-head", Static).update(
                f"No stored runs in {self.workbench.db_path} yet: E opens the dashboard, n there starts an eval."
            )

    def on_data_table_row_selected(self, event) -> None:
        event.stop()
        self._open(event.row_key.value)

    def action_open(self) -> None:
        table = self.query_one(RunsTable)
        if table.row_count:
            self._open(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _open(self, run_id: str | None) -> None:
        from pycodex.tui.screens.dashboard import DashboardScreen

        if run_id is None:
            return
        self.app.push_screen(DashboardScreen(run_id=run_id, workbench=self.workbench))

    def action_back(self) -> None:
        self.app.pop_screen()
