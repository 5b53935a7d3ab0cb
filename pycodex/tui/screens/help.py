"""`?`: every key binding, screen by screen, and what the screens show."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

EXTRA = {
    "Problem browser": [("j / k, ↑ / ↓, PgUp / PgDn, Home / End", "move"), ("click a header", "sort by it")],
    "Samples": [("Tab / Shift+Tab", "move between sample cards")],
    "Run dashboard": [("←↑↓→ / hjkl", "move between cells"), ("Enter / double click", "that problem's samples")],
    "Versus": [("←↑↓→ / hjkl, Tab", "move in the grids (they move together), next grid"), ("Enter", "A's and B's samples of that problem")],
    "Everywhere": [("Ctrl+P", "command palette: theme, model, dashboard, history"), ("Esc", "close / cancel / back")],
}


def _section(title: str, screen_cls) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    own = [c for c in reversed(screen_cls.__mro__) if c.__module__.startswith("pycodex.")]  # a base's first, as Textual merges them
    for binding in [b for c in own for b in c.__dict__.get("BINDINGS", [])]:
        if isinstance(binding, tuple):
            binding = Binding(*binding)
        if binding.key == "ctrl+c":
            continue
        key = binding.key_display or binding.key
        key = key.replace("question_mark", "?").replace("slash", "/").replace("escape", "Esc").replace("enter", "Enter")
        rows.append((key, binding.description or binding.action))
    rows.extend(EXTRA.get(title, []))
    return rows


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; max-width: 100; height: 90%; border: thick $primary; background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        from pycodex.tui.components.pass_grid import PassGrid
        from pycodex.tui.screens.browser import BrowserScreen
        from pycodex.tui.screens.dashboard import DashboardScreen
        from pycodex.tui.screens.diff import DiffScreen
        from pycodex.tui.screens.generate_form import GenerateForm
        from pycodex.tui.screens.problem import ProblemScreen
        from pycodex.tui.screens.runs import RunsScreen
        from pycodex.tui.screens.samples import SamplesScreen
        from pycodex.tui.screens.versus import VersusScreen
        from pycodex.tui.screens.versus.problem import VersusProblemScreen

        sections = [
            ("Everywhere", type(self.app)),
            ("Problem browser", BrowserScreen),
            ("Problem view", ProblemScreen),
            ("Generate form", GenerateForm),
            ("Samples", SamplesScreen),
            ("Diff", DiffScreen),
            ("Run dashboard", DashboardScreen),
            ("Run dashboard grid", PassGrid),
            ("Run history", RunsScreen),
            ("Versus", VersusScreen),
            ("Versus problem", VersusProblemScreen),
        ]
        table = Table(box=None, expand=True, show_header=False, pad_edge=False)
        table.add_column("key", style="bold", ratio=1, no_wrap=True)
        table.add_column("action", ratio=2)
        for title, cls in sections:
            table.add_row(Text(title, style="bold underline"), "")
            seen = set()
            for key, action in _section(title, cls):
                if (key, action) in seen:
                    continue
                seen.add((key, action))
                table.add_row(f"  {key}", action)
            table.add_row("", "")
        intro = Text.from_markup(
            "[b]pycodex[/b] — HumanEval as in the Codex paper (Chen et al. 2021). A [i]sample[/i] is text the model writes after "
            "the prompt; it passes when the hidden tests run clean. [b]pass@k[/b] = chance that at least one of k samples "
            "passes, estimated without bias from n ≥ k samples.\n"
        )
        with VerticalScroll():
            yield Static(intro)
            yield Static(table)

    def action_close(self) -> None:
        self.dismiss()
