"""One problem of a versus: A's samples and B's in two columns, streaming and judged live, each
card with its diff against the canonical solution. It reads the versus dashboard's state (handed
down) on a timer; the dashboard folds the events."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from pycodex.runs.state import problem_pass_at_k
from pycodex.runs.versus.state import VersusState
from pycodex.tui.components.diff_card import DiffCard

REFRESH_HZ = 10


class VersusProblemScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("d", "toggle_diff", "Diff / code"),
        Binding("j,down", "app.focus_next", "Next", show=False),
        Binding("k,up", "app.focus_previous", "Prev", show=False),
    ]

    DEFAULT_CSS = """
    VersusProblemScreen #vp-head { height: auto; padding: 0 1; background: $panel; }
    VersusProblemScreen #vp-columns { height: 1fr; }
    VersusProblemScreen #vp-columns > Vertical { width: 1fr; }
    VersusProblemScreen .column-title { height: auto; padding: 0 1; text-style: bold; }
    """

    def __init__(self, problem, state: VersusState) -> None:
        super().__init__()
        self.problem = problem
        self.state = state
        self.cards: dict[tuple[int, int], DiffCard] = {}
        self.show_diff = True
        self.sub_title = f"versus · {problem.task_id}"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="vp-head")
        with Horizontal(id="vp-columns"):
            for side in (0, 1):
                with Vertical():
                    yield Static("", classes="column-title", id=f"vp-title-{side}")
                    with VerticalScroll(id=f"vp-cards-{side}"):
                        for index in range(max(1, self.state.sides[side].n)):
                            card = DiffCard(self.state.sample(side, self.problem.task_id, index), self.problem.canonical_solution)
                            self.cards[(side, index)] = card
                            yield card
        yield Footer()

    def on_mount(self) -> None:
        self.state.take_changed(self.problem.task_id)
        self.set_interval(1 / REFRESH_HZ, self._refresh_changed)
        self._update_titles()
        if self.cards:
            self.cards[(0, 0)].focus()

    def _refresh_changed(self) -> None:
        changed = self.state.take_changed(self.problem.task_id)
        for side, _task, index in changed:
            card = self.cards.get((side, index))
            if card is None:
                continue
            card.sample = self.state.sample(side, self.problem.task_id, index)
            card.refresh_all()
        if changed:
            self._update_titles()

    def _update_titles(self) -> None:
        p = self.problem
        head = Text()
        head.append(f"{p.task_id} {p.entry_point}()", style="bold")
        head.append("   - canonical line  + sample line" if self.show_diff else "   code as generated", style="dim")
        self.query_one("#vp-head", Static).update(head)
        for side in (0, 1):
            samples = [self.state.sample(side, p.task_id, i) for i in range(max(1, self.state.sides[side].n))]
            judged = [s for s in samples if s.judged]
            passed = sum(s.passed for s in judged)
            text = Text(f"{'AB'[side]} {self.state.labels[side]}", overflow="ellipsis", no_wrap=True)
            text.append(f"\n{passed}/{len(judged)} passed", style="")
            values = problem_pass_at_k(len(judged), passed)
            if values:
                text.append("  " + "  ".join(f"pass@{k} {v:.2f}" for k, v in list(values.items())[:3]), style="dim")
            self.query_one(f"#vp-title-{side}", Static).update(text)

    def action_toggle_diff(self) -> None:
        self.show_diff = not self.show_diff
        for card in self.cards.values():
            card.show_diff = self.show_diff
            card.refresh_all()
        self._update_titles()
