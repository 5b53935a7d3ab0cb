"""The versus dashboard: A's and B's grids, the solved matrix as a third grid, pass@k of each and
B - A with its paired bootstrap interval (report --compare's numbers), all updated as verdicts
arrive. Enter on a problem opens A's and B's samples side by side."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from pycodex.runs.state import RunPhase, RunView
from pycodex.runs.versus.state import VersusState
from pycodex.runs.workbench import Workbench
from pycodex.store.records import CANCELLED, FAILED, FINISHED, RUNNING
from pycodex.tui.components.pass_grid import PassGrid
from pycodex.tui.components.solved_grid import LEGEND, SolvedGrid
from pycodex.tui.screens.versus.session import VersusDeltas, VersusEnded, VersusEvent, VersusRequest, VersusSession, VersusStored

REDRAW_HZ = 10
SHOWN_KS = (1, 2, 5, 10, 20, 50, 100)


def side_label(side: Any) -> str:
    if side.stored_run is not None:
        return f"stored run {side.stored_run}"
    return (f"T={side.temperature:g} " if side.temperature is not None else "") + side.spec.label  # T first: long labels are cut


class VersusScreen(Screen):
    BINDINGS = [
        Binding("escape", "cancel_or_back", "Cancel / back"),
        Binding("n", "new_versus", "New versus"),
    ]

    DEFAULT_CSS = """
    VersusScreen #vs-head { height: auto; padding: 0 1; background: $panel; }
    VersusScreen #vs-stats { height: auto; padding: 0 1; }
    VersusScreen #vs-grids { height: 1fr; }
    VersusScreen #vs-grids > Vertical { width: 1fr; height: 1fr; }
    VersusScreen .grid-title { height: 1; padding: 0 1; text-style: bold; }
    VersusScreen #vs-cell { height: auto; padding: 0 1; background: $panel; }
    """

    def __init__(self, workbench: Workbench) -> None:
        super().__init__()
        self.workbench = workbench
        self.problem_set = workbench.problem_set
        self.default_model = workbench.model
        self.state = VersusState()
        self.request: VersusRequest | None = None
        self.session: VersusSession | None = None
        self.comparison: dict[str, Any] = {}
        self.status: RunView = RunPhase.IDLE
        self.finished: tuple = ()  # both sides' RunFinished, once the versus ends
        self._dirty = False
        self.sub_title = "versus: A and B on the same problems"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="vs-head")
        yield Static("", id="vs-stats")
        with Horizontal(id="vs-grids"):
            for side, grid in (("A", PassGrid(self.state.sides[0], id="grid-a")), ("B", PassGrid(self.state.sides[1], id="grid-b")),
                               ("solved", SolvedGrid(self.state.sides[0], id="grid-solved"))):
                with Vertical():
                    yield Static(side, classes="grid-title", id=f"title-{grid.id}")
                    with VerticalScroll(can_focus=False):  # Tab goes grid to grid
                        yield grid
        yield Static("", id="vs-cell")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#grid-a", PassGrid).focus()
        for grid in self.query(PassGrid):
            self.watch(grid, "cursor", self._cursor_moved, init=False)
        self.set_interval(1 / REDRAW_HZ, self._redraw_if_dirty)
        self._update()
        if self.request is None:
            self.call_after_refresh(self.action_new_versus)

    # -- starting ----------------------------------------------------------------------
    def action_new_versus(self) -> None:
        if self.running:
            self.notify("a versus is running: Esc cancels it first", timeout=3)
            return
        from pycodex.tui.screens.versus.form import VersusForm

        initial = self.request or VersusRequest(a=None, b=None, problems="0-2")  # type: ignore[arg-type]
        texts = [self.default_model, self.default_model]
        temperatures = ["0.2", "0.8"]
        if self.request is not None:
            for i, side in enumerate((self.request.a, self.request.b)):
                texts[i] = f"run:{side.stored_run}" if side.stored_run is not None else str(side.spec)
                temperatures[i] = "" if side.temperature is None else f"{side.temperature:g}"

        def chosen(request: VersusRequest | None) -> None:
            if request is not None:
                self.start(request)

        self.app.push_screen(VersusForm(initial, problem_set=self.problem_set, a_text=texts[0], b_text=texts[1],
                                        temperatures=(temperatures[0], temperatures[1])), chosen)

    def start(self, request: VersusRequest) -> None:
        self.request = request
        task_ids = [p.task_id for p in self.problem_set.select(request.problems)]
        self.state.reset(task_ids, request.n, (side_label(request.a), side_label(request.b)))
        self.comparison = {}
        self.finished = ()
        self.status = RunPhase.STARTING
        for grid in self.query(PassGrid):
            grid.cursor = 0
        self.session = VersusSession(self, request, self.workbench)
        self.workbench.sessions.add(self.session)  # quit waits for it to let go of the models
        self.session.start()
        self._update()

    @property
    def running(self) -> bool:
        return self.session is not None and self.status in (RunPhase.STARTING, RUNNING, RunPhase.CANCELLING)

    # -- events (UI thread) ------------------------------------------------------------
    def on_versus_event(self, message: VersusEvent) -> None:
        self.state.apply(message.side, message.event)
        if self.status == RunPhase.STARTING:
            self.status = RUNNING
        self._dirty = True

    def on_versus_stored(self, message: VersusStored) -> None:
        self.state.load_stored(message.side, message.state, message.samples)
        self._dirty = True

    def on_versus_deltas(self, message: VersusDeltas) -> None:
        for (side, task_id, index), text in message.deltas.items():
            self.state.append_text(side, task_id, index, text, restart=(side, task_id, index) in message.restarts)

    def on_versus_ended(self, message: VersusEnded) -> None:
        if self.session is not None:
            self.session.stop()
        if message.error:
            cancelled = self.session is not None and self.session.cancel_requested
            self.status = CANCELLED if cancelled else FAILED
            if not cancelled:
                self.notify(message.error, title="Versus failed", severity="error", timeout=10)
        else:
            self.finished = message.finished
            statuses = {f.status for f in message.finished}
            self.status = FINISHED if statuses == {FINISHED} else (CANCELLED if CANCELLED in statuses else FAILED)
        for side in self.state.sides:
            side.current_task = None
        self._update()

    def _redraw_if_dirty(self) -> None:
        if self._dirty:
            self._update()

    # -- rendering ---------------------------------------------------------------------
    def _update(self) -> None:
        self._dirty = False
        ks = [k for k in SHOWN_KS if k <= max(1, self.state.sides[0].n)]
        self.comparison = self.state.comparison(ks=ks)
        solved = self.query_one(SolvedGrid)
        solved.set_matrix(self.comparison["matrix"])
        for grid in self.query(PassGrid):
            grid.refresh(layout=True)
        self._update_head()
        self.query_one("#vs-stats", Static).update(self._stats_table())
        self._update_cell()

    def _update_head(self) -> None:
        head = Text()
        if self.request is None:
            head.append("versus: n chooses A and B", style="bold")
        else:
            r = self.request
            head.append(f"[{self.status}] ", style="bold")
            head.append(f"{len(self.state.sides[0].task_ids)} problems · n={self.state.sides[0].n} · seed {r.seed} · max {r.max_tokens} tokens", style="dim")
        self.query_one("#vs-head", Static).update(head)
        for grid_id, text in (("grid-a", f"A {self.state.labels[0]}"), ("grid-b", f"B {self.state.labels[1]}"), ("grid-solved", "solved by")):
            self.query_one(f"#title-{grid_id}", Static).update(Text(text, overflow="ellipsis", no_wrap=True))

    def _stats_table(self) -> Table:
        table = Table(box=None, pad_edge=False, padding=(0, 1), show_header=True, header_style="bold", expand=False)
        table.add_column("")
        table.add_column("A", justify="right")
        table.add_column("B", justify="right")
        table.add_column("B - A [95% paired]", justify="right")
        sides = self.state.sides
        progress = [f"{t['judged']}/{t['expected']} judged" for t in (s.totals for s in sides)]
        table.add_row("progress", *progress, f"{self.comparison.get('shared_problems', 0)} problems on both")
        for row in self.comparison.get("pass_at_k", []):
            interval = "" if row["ci_low"] != row["ci_low"] else f" [{100 * row['ci_low']:+.1f}, {100 * row['ci_high']:+.1f}]"
            table.add_row(f"pass@{row['k']}", f"{100 * row['a']:.1f}%", f"{100 * row['b']:.1f}%", f"{100 * row['diff']:+.1f} pt{interval}")
        counts = self.comparison.get("counts") or {}
        if counts:
            table.add_row("solved", f"only A {counts['only_a']}", f"only B {counts['only_b']}", f"both {counts['both']} · neither {counts['neither']}")
        return table

    def _focused_grid(self) -> PassGrid:
        focused = self.focused
        return focused if isinstance(focused, PassGrid) else self.query_one("#grid-a", PassGrid)

    def _update_cell(self) -> None:
        task_id = self._focused_grid().current_task_id
        text = Text()
        if task_id is not None:
            text.append(task_id, style="bold")
            if task_id in self.problem_set:
                text.append(f" {self.problem_set.get(task_id).entry_point}()")
            for side, name in zip(self.state.sides, "AB"):
                tally = side.tallies.get(task_id)
                if tally is not None and tally.expected:
                    text.append(f"  {name} {tally.passed}/{tally.judged} passed", style="dim" if tally.judged < tally.expected else "")
            text.append("  " + LEGEND, style="dim")
        self.query_one("#vs-cell", Static).update(text)

    def _cursor_moved(self, cursor: int) -> None:
        """The three grids show the same problem."""
        for grid in self.query(PassGrid):
            grid.cursor = cursor
        self._update_cell()

    def on_pass_grid_cell_selected(self, message: PassGrid.CellSelected) -> None:
        if self.request is None:
            return
        from pycodex.tui.screens.versus.problem import VersusProblemScreen

        self.app.push_screen(VersusProblemScreen(self.problem_set.get(message.task_id), self.state))

    def action_cancel_or_back(self) -> None:
        if self.running and self.session is not None and self.status != RunPhase.CANCELLING:
            self.session.cancel()
            self.status = RunPhase.CANCELLING
            self._update()
        else:
            self.app.pop_screen()

    def on_unmount(self) -> None:
        if self.session is not None:
            self.session.cancel()
            self.session.stop()
