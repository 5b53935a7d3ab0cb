"""The run dashboard: the live view of the same pipeline `pycodex eval` runs, or a stored run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from pycodex.runs.workbench import Workbench
from pycodex.tui.screens.handed import WorkbenchScreen
from textual.widgets import Footer, Header, Static

from pycodex.tui.components.pass_grid import PassGrid
from pycodex.formatting import format_duration
from pycodex.tui.messages import DeltasFlushed, PipelineEventMessage, RunEnded
from pycodex.runs.state import RunPhase, RunState
from pycodex.store.records import CANCELLED, FAILED, FINISHED, RUNNING

if TYPE_CHECKING:
    from textual import getters

    from pycodex.generation.base import SamplingParams
    from pycodex.tui.app import PycodexApp
    from pycodex.tui.runner import RunSession


REDRAW_HZ = 10  # the most redraws a second while a run streams events


class DashboardScreen(WorkbenchScreen):
    if TYPE_CHECKING:
        app = getters.app(PycodexApp)

    BINDINGS = [
        Binding("escape", "cancel_or_back", "Cancel / back"),
        Binding("n", "new_eval", "New eval"),
        Binding("r", "resume", "Resume run"),
        Binding("R", "app.runs", "History"),
    ]

    DEFAULT_CSS = """
    DashboardScreen #dash-head { height: auto; padding: 0 1; background: $panel; }
    DashboardScreen #dash-stats { height: auto; padding: 0 1; }
    DashboardScreen #dash-legend { height: auto; padding: 0 1; color: $text-muted; }
    DashboardScreen #grid-scroll { height: 1fr; }
    DashboardScreen #dash-cell { height: auto; padding: 0 1; background: $panel; }
    """

    def __init__(self, run_id: str | None = None, state: RunState | None = None, *, workbench: Workbench | None = None) -> None:
        super().__init__(workbench=workbench)
        self.run_id = run_id
        self.state = state or RunState()
        self.session: RunSession | None = None
        self.params: SamplingParams | None = None
        self._dirty = False
        self.redraws = 0  # full redraws and events seen: the redraw rate is measured by a test
        self.events_applied = 0
        if not self.state.task_ids and run_id is None:
            self.state.task_ids = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="dash-head")
        yield Static("", id="dash-stats")
        yield Static(
            "cell = one problem · fills red→green with passed/judged · dim while unfinished · Enter opens its samples",
            id="dash-legend",
        )
        with VerticalScroll(id="grid-scroll"):
            yield PassGrid(self.state, id="grid")
        yield Static("", id="dash-cell")
        yield Footer()

    def on_mount(self) -> None:
        if not self.state.task_ids and self.run_id is None:
            self.state.reset(self.app.problem_set.task_ids, 0)
            self.state.status = RunPhase.IDLE
        if self.run_id is not None and not self.state.tallies:
            self.state.status = RunPhase.LOADING
            self._load()
        self.query_one(PassGrid).focus()
        self.set_interval(1 / REDRAW_HZ, self._redraw_if_dirty)
        self._update()

    @work(thread=True, exit_on_error=False)
    def _load(self) -> None:
        from pycodex.tui import data

        try:
            assert self.run_id is not None, "on_mount loads only a given run"
            state = data.load_run(self.workbench.db_path, self.run_id)
        except Exception as exc:
            self.app.call_from_thread(self._load_failed, str(exc))
            return
        self.app.call_from_thread(self._loaded, state)

    def _loaded(self, state: RunState) -> None:
        self.state.__dict__.update(state.__dict__)
        self.run_id = state.run_id
        self._update()

    def _load_failed(self, error: str) -> None:
        self.state.status = FAILED
        self.notify(error, title="Cannot open run", severity="error")
        self._update()

    # -- rendering -----------------------------------------------------------------------
    def _update(self) -> None:
        self._dirty = False
        self.redraws += 1
        self.query_one(PassGrid).refresh(layout=True)
        self._update_head()
        self._update_stats()
        self._update_cell()

    def _update_head(self) -> None:
        s = self.state
        head = Text()
        if s.run_id:
            head.append(f"run {s.run_id} ", style="bold")
        else:
            head.append("no run yet ", style="bold")
        status_style: dict[str, str] = {RUNNING: "bold " + self.app.current_theme.primary, FINISHED: "bold " + (self.app.current_theme.success or "green")}
        head.append(f"[{s.status}]", style=status_style.get(s.status, "bold"))
        config = s.config or {}
        params = config.get("params") or {}
        model = s.model or config.get("model") or config.get("backend") or ""
        if model:
            head.append(f"  model {model}", style="dim")
        if params:
            head.append(f"  n={params.get('n')} T={params.get('temperature')} top_p={params.get('top_p')} seed={params.get('seed')}", style="dim")
        if s.status == RunPhase.IDLE:
            head.append("   press n to start an eval (all 164 problems by default), R for stored runs", style="italic")
        elif s.resumable and not self.running:
            head.append("   unfinished: press r to resume it", style="italic")
        self.query_one("#dash-head", Static).update(head)

    def _update_stats(self) -> None:
        s = self.state
        totals = s.totals
        text = Text()
        if totals["expected"]:
            text.append(f"generated {totals['generated']}/{totals['expected']} · judged {totals['judged']} · passed {totals['passed']}")
        values, problems = s.pass_at_k()
        if values:
            text.append("   ")
            for k, value in values.items():
                text.append(f"pass@{k} ", style="dim")
                text.append(f"{value * 100:.2f}%  ", style="bold")
            text.append(f"(over {problems} finished problem{'s' if problems != 1 else ''})", style="dim")
        if s.status == RUNNING or s.tokens_per_second:
            text.append(f"   {s.tokens_per_second:.1f} tok/s", style="bold")
        if s.status == RUNNING:
            text.append(f"   ETA {format_duration(s.eta_seconds, unknown='?')}")
            if s.current_task:
                text.append(f"   now {s.current_task}", style="dim")
        self.query_one("#dash-stats", Static).update(text)

    def _update_cell(self) -> None:
        grid = self.query_one(PassGrid)
        task_id = grid.current_task_id
        text = Text()
        if task_id is not None:
            problem = self.app.problem_set.get(task_id) if task_id in self.app.problem_set else None
            text.append(task_id, style="bold")
            if problem is not None:
                text.append(f"  {problem.entry_point}()  ")
            tally = self.state.tallies.get(task_id)
            if tally is not None and tally.expected:
                text.append(f"generated {tally.generated}/{tally.expected} · passed {tally.passed}/{tally.judged} judged")
        self.query_one("#dash-cell", Static).update(text)

    def on_pass_grid_cell_selected(self, message: PassGrid.CellSelected) -> None:
        if not self.run_id:
            self.notify("no run open: n starts one, R opens a stored run", timeout=4)
            return
        from pycodex.tui.screens.samples import SamplesScreen

        self.app.push_screen(SamplesScreen(self.app.problem_set.get(message.task_id), run_id=self.run_id, workbench=self.workbench))

    def on_key(self, event) -> None:
        self.call_after_refresh(self._update_cell)

    # -- live run ------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.session is not None and self.state.status in (RunPhase.STARTING, RUNNING)

    def action_new_eval(self) -> None:
        if self.running:
            self.notify("a run is in progress: Esc cancels it first", timeout=3)
            return
        from pycodex.tui.screens.generate_form import DEFAULT_EVAL, GenerateForm, GenerateRequest

        initial = self.app.last_eval_request or GenerateRequest(DEFAULT_EVAL)

        def chosen(request: GenerateRequest | None) -> None:
            if request is not None:
                self.app.last_eval_request = request
                self.start_eval([p.task_id for p in self.app.problem_set.select(request.problems)], request.params, ks=request.ks)

        self.app.push_screen(GenerateForm("New HumanEval run (the same pipeline as `pycodex eval`)", initial, eval_mode=True, model_label=self.app.model_label), chosen)

    def action_resume(self) -> None:
        """Finish the stored run on screen, as `pycodex eval --resume` does, with the app's model."""
        from pycodex.generation import registry
        from pycodex.generation.spec import BackendSpec
        from pycodex.runs.config import RunConfig

        s = self.state
        if self.running:
            self.notify("a run is in progress: Esc cancels it first", timeout=3)
            return
        if not self.run_id or not s.resumable:
            self.notify("nothing to resume: open an unfinished run first (R lists them)", timeout=4)
            return
        config = s.config or {}
        wanted = BackendSpec.from_config(config)
        generates = getattr(registry.find_kind(wanted.kind), "generates", True)
        if generates and wanted != BackendSpec.parse(self.workbench.model):  # (imported: only judged)
            self.notify(f"run {self.run_id} was made with {wanted}; pick that model (m) to resume it", title="Other model",
                        severity="warning", timeout=8)
            return
        from pycodex.tui.runner import RunSession

        self.params = RunConfig.from_dict(config).params
        s.status, s.resumable = RunPhase.STARTING, False
        self.session = RunSession(self, self.workbench, list(s.task_ids), self.params, run_id=self.run_id)
        self.session.start()
        self._update()

    def start_eval(self, task_ids: list[str], params, ks=None) -> None:
        from pycodex.tui.runner import RunSession

        self.params = params
        self.run_id = None
        self.state = RunState(status=RunPhase.STARTING, model=self.app.model_label)
        self.state.reset(task_ids, params.n)
        self.state.config = {"params": params.to_dict()}
        grid = self.query_one(PassGrid)
        grid.state = self.state
        grid.cursor = 0
        self.session = RunSession(self, self.workbench, task_ids, params, ks=list(ks) if ks else None)
        self.session.start()
        self._update()

    def on_deltas_flushed(self, message: DeltasFlushed) -> None:
        pass  # the dashboard shows counts, not text

    def on_pipeline_event_message(self, message: PipelineEventMessage) -> None:
        # Events can come by the thousand per second (a replay run): fold them in now, draw on
        # the timer (see on_mount), so the redraw rate stays bounded whatever the event rate.
        self.state.apply(message.event)
        if getattr(message.event, "fresh_draws", False):
            from pycodex.runs.events import fresh_draws_note

            self.notify(fresh_draws_note(message.event.run_id), title="Resume", severity="warning", timeout=15)
        self.events_applied += 1
        self.run_id = self.state.run_id
        self._dirty = True

    def _redraw_if_dirty(self) -> None:
        if self._dirty:
            self._update()

    def on_run_ended(self, message: RunEnded) -> None:
        if self.session is not None:
            self.session.stop_timer()
        if message.error:
            cancelled = self.session is not None and self.session.cancel_requested
            self.state.status = CANCELLED if cancelled else FAILED
            if not cancelled:
                self.notify(message.error, title="Run failed", severity="error", timeout=10)
        else:
            self.state.status = getattr(message.finished, "status", FINISHED)
        if self.state.status != FINISHED and self.run_id:
            self.state.resumable = True
            self.state.final_pass_at_k = dict(getattr(message.finished, "pass_at_k", {}) or {})
        self.state.current_task = None
        self._update()
        self.app.refresh_pass_rates()

    def action_cancel_or_back(self) -> None:
        if self.running and self.session is not None:
            self.session.cancel()
            self.state.status = RunPhase.CANCELLING
            self._update()
        else:
            self.app.pop_screen()

    def on_unmount(self) -> None:
        if self.session is not None:
            self.session.cancel()
            self.session.stop_timer()
