"""One problem: prompt, canonical solution and tests, syntax-highlighted, in tabs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from pycodex.tui.components.code_view import CodeView
from pycodex.tui.components.rates import rate_text

if TYPE_CHECKING:
    from textual import getters

    from pycodex.tui.app import PycodexApp


class ProblemScreen(Screen):
    if TYPE_CHECKING:
        app = getters.app(PycodexApp)

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("g", "generate", "Generate"),
        Binding("1", "tab('prompt')", "Prompt"),
        Binding("2", "tab('solution')", "Solution"),
        Binding("3", "tab('tests')", "Tests"),
        Binding("l", "next_tab", "Next tab", show=False),
        Binding("h", "prev_tab", "Prev tab", show=False),
    ]

    DEFAULT_CSS = """
    ProblemScreen #problem-head { height: auto; padding: 0 1; background: $panel; }
    ProblemScreen TabbedContent { height: 1fr; }
    ProblemScreen TabPane { padding: 0; }
    ProblemScreen VerticalScroll { height: 1fr; }
    ProblemScreen .explain { color: $text-muted; padding: 0 1; }
    """

    def __init__(self, problem) -> None:
        super().__init__()
        self.problem = problem

    def compose(self) -> ComposeResult:
        p = self.problem
        yield Header()
        yield Static(self._head_text(), id="problem-head")
        with TabbedContent(initial="prompt"):
            with TabPane("1 Prompt", id="prompt"):
                with VerticalScroll():
                    yield Static("What the model sees: imports, signature and docstring. A sample continues this text.", classes="explain")
                    yield CodeView(p.prompt.lstrip("\n"))
            with TabPane("2 Canonical solution", id="solution"):
                with VerticalScroll():
                    yield Static("The reference body written by the HumanEval authors (diffs compare samples to it).", classes="explain")
                    yield CodeView((p.prompt + p.canonical_solution).lstrip("\n"))
            with TabPane("3 Tests", id="tests"):
                with VerticalScroll():
                    yield Static(
                        f"Hidden from the model. A sample passes when check({p.entry_point}) raises nothing within the time limit.",
                        classes="explain",
                    )
                    yield CodeView(p.test_view + f"\ncheck({p.entry_point})\n")
        yield Footer()

    def _head_text(self) -> Text:
        p = self.problem
        last, best = self.app.pass_rates.get(p.task_id, (None, None))
        text = Text()
        text.append(p.task_id, style="bold")
        text.append("  ")
        text.append(p.entry_point + "()", style=f"bold {self.app.current_theme.accent or ''}")
        text.append(f"  {p.assert_count} asserts  last ")
        text.append_text(rate_text(self.app, last, width=0))
        text.append("  best ")
        text.append_text(rate_text(self.app, best, width=0))
        if p.first_docstring_line:
            text.append("\n" + p.first_docstring_line, style="italic")
        return text

    def pass_rates_changed(self) -> None:
        self.query_one("#problem-head", Static).update(self._head_text())

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def _step_tab(self, step: int) -> None:
        tabs = ["prompt", "solution", "tests"]
        content = self.query_one(TabbedContent)
        content.active = tabs[(tabs.index(content.active) + step) % len(tabs)]

    def action_next_tab(self) -> None:
        self._step_tab(1)

    def action_prev_tab(self) -> None:
        self._step_tab(-1)

    def action_generate(self) -> None:
        from pycodex.tui.screens.samples import start_generation

        start_generation(self.app, self.problem)
