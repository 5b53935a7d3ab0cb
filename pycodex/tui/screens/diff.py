"""A sample against the canonical solution: unified or side by side, whitespace-insensitive option."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from pycodex.tui.components.rates import verdict_label, verdict_style
from pycodex.diffing import diff_rows, similarity


class DiffScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("s", "toggle_layout", "Side-by-side / unified"),
        Binding("w", "toggle_whitespace", "Ignore whitespace"),
        Binding("j,down", "scroll_down", "Down", show=False),
        Binding("k,up", "scroll_up", "Up", show=False),
    ]

    DEFAULT_CSS = """
    DiffScreen #diff-head { height: auto; padding: 0 1; background: $panel; }
    DiffScreen #diff-scroll { height: 1fr; }
    DiffScreen #diff-body { padding: 0 1; }
    """

    def __init__(self, problem, sample, *, side_by_side: bool = False, ignore_whitespace: bool = False) -> None:
        super().__init__()
        self.problem = problem
        self.sample = sample
        self.side_by_side = side_by_side
        self.ignore_whitespace = ignore_whitespace

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="diff-head")
        with VerticalScroll(id="diff-scroll"):
            yield Static("", id="diff-body")
        yield Footer()

    def on_mount(self) -> None:
        self._render_diff()

    def _colors(self):
        theme = self.app.current_theme
        return theme.success or "green", theme.error or "red"

    def _render_diff(self) -> None:
        canonical = self.problem.canonical_solution
        completion = self.sample.text
        head = Text()
        head.append(f"{self.problem.task_id} sample #{self.sample.index} ", style="bold")
        head.append(f" {verdict_label(self.sample.status)} ", style=verdict_style(self.app, self.sample.status) + " reverse")
        ratio = similarity(canonical, completion, ignore_whitespace=self.ignore_whitespace)
        head.append(f"   line similarity {ratio * 100:.0f}%", style="dim")
        head.append("\n")
        added, removed = self._colors()
        head.append("- canonical solution", style=removed)
        head.append("   ")
        head.append("+ sample", style=added)
        head.append(
            f"   layout: {'side-by-side' if self.side_by_side else 'unified'} · whitespace: {'ignored' if self.ignore_whitespace else 'exact'}",
            style="dim",
        )
        self.query_one("#diff-head", Static).update(head)
        body = self.query_one("#diff-body", Static)
        if self.side_by_side:
            body.update(self._side_by_side(canonical, completion))
        else:
            body.update(self._unified(canonical, completion))

    def _unified(self, canonical: str, completion: str) -> Text:
        added, removed = self._colors()
        text = Text()
        rows = diff_rows(canonical, completion, ignore_whitespace=self.ignore_whitespace)
        if not rows:
            return Text("(both empty)", style="dim")
        for row in rows:
            if row.tag == "equal":
                text.append(f"  {row.right}\n")
            elif row.tag == "delete":
                text.append(f"- {row.left}\n", style=removed)
            else:
                text.append(f"+ {row.right}\n", style=added)
        text.rstrip()
        return text

    def _side_by_side(self, canonical: str, completion: str) -> Table:
        added, removed = self._colors()
        table = Table(expand=True, show_edge=False, box=None, pad_edge=False, show_header=True, header_style="bold")
        table.add_column("#", justify="right", style="dim", width=3, no_wrap=True)
        table.add_column("canonical solution", ratio=1, overflow="fold")
        table.add_column("#", justify="right", style="dim", width=3, no_wrap=True)
        table.add_column(f"sample #{self.sample.index}", ratio=1, overflow="fold")
        for row in diff_rows(canonical, completion, ignore_whitespace=self.ignore_whitespace, side_by_side=True):
            left_style = "" if row.tag == "equal" else removed
            right_style = "" if row.tag == "equal" else added
            table.add_row(
                "" if row.left_no is None else str(row.left_no),
                Text(row.left if row.left is not None else "", style=left_style),
                "" if row.right_no is None else str(row.right_no),
                Text(row.right if row.right is not None else "", style=right_style),
            )
        return table

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_toggle_layout(self) -> None:
        self.side_by_side = not self.side_by_side
        self._render_diff()

    def action_toggle_whitespace(self) -> None:
        self.ignore_whitespace = not self.ignore_whitespace
        self._render_diff()

    def action_scroll_down(self) -> None:
        self.query_one("#diff-scroll", VerticalScroll).scroll_down()

    def action_scroll_up(self) -> None:
        self.query_one("#diff-scroll", VerticalScroll).scroll_up()
