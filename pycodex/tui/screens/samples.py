"""Samples for one problem: live from a pipeline run (one task id), or from a stored run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from pycodex.runs.workbench import BackendState, Workbench
from pycodex.tui.screens.handed import WorkbenchScreen
from textual.widgets import Footer, Header, Static

from pycodex.tui.components.sample_card import SampleCard
from pycodex.tui.messages import BackendChanged, DeltasFlushed, PipelineEventMessage, RunEnded
from pycodex.runs.state import VERDICT_ORDER, SamplePhase, SampleState, problem_pass_at_k

if TYPE_CHECKING:
    from textual import getters

    from pycodex.tui.app import PycodexApp
    from pycodex.tui.runner import RunSession

SORTS = ("index", "mean log-prob", "verdict")


class SamplesScreen(WorkbenchScreen):
    if TYPE_CHECKING:
        app = getters.app(PycodexApp)

    BINDINGS = [
        Binding("escape", "cancel_or_back", "Cancel / back"),
        Binding("d", "diff", "Diff"),
        Binding("o", "cycle_sort", "Sort"),
        Binding("j,down", "focus_next_card", "Next", show=False),
        Binding("k,up", "focus_prev_card", "Prev", show=False),
        Binding("g", "again", "Generate again"),
    ]

    DEFAULT_CSS = """
    SamplesScreen #samples-head { height: auto; padding: 0 1; background: $panel; }
    SamplesScreen #samples-stats { height: auto; padding: 0 1; }
    SamplesScreen #samples-hint { height: auto; padding: 0 1; color: $text-muted; }
    SamplesScreen #cards { height: 1fr; }
    """

    def __init__(
        self, problem, *, params=None, run_id: str | None = None, samples: list[SampleState] | None = None, workbench: Workbench | None = None
    ) -> None:
        super().__init__(workbench=workbench)
        self.problem = problem
        self.params = params
        self.run_id = run_id
        self.samples: dict[int, SampleState] = {s.index: s for s in (samples or [])}
        self.cards: dict[int, SampleCard] = {}
        self.sort = "index"
        self.session: RunSession | None = None
        self.status = "live" if params is not None else "stored"
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._head_text(), id="samples-head")
        yield Static("", id="samples-stats")
        yield Static(
            "pass@k = P(at least 1 of k samples passes) · o ranks by mean log-prob (paper Fig. 7) · d diff",
            id="samples-hint",
        )
        yield VerticalScroll(id="cards")
        yield Footer()

    def on_mount(self) -> None:
        self.app.backend_signal.subscribe(self, self.backend_changed)
        if self.params is not None:
            for index in range(self.params.n):
                self.samples[index] = SampleState(self.problem.task_id, index)
            self._mount_cards()
            self.status = "starting"
            from pycodex.tui.runner import RunSession

            self.session = RunSession(self, self.workbench, [self.problem.task_id], self.params)
            self.session.start()
        elif self.samples:
            self._mount_cards()
        elif self.run_id is not None:
            self.status = "loading"
            self._load_stored()
        self._update_stats()

    def _head_text(self) -> Text:
        p = self.problem
        text = Text()
        text.append(f"{p.task_id} ", style="bold")
        text.append(p.entry_point + "()", style="bold")
        if self.params is not None:
            q = self.params
            seed = "random" if q.seed is None else q.seed
            text.append(
                f"   n={q.n} T={q.temperature} top_p={q.top_p} max_tokens={q.max_tokens} seed={seed}",
                style="dim",
            )
        elif self.run_id:
            text.append(f"   stored run {self.run_id}", style="dim")
        return text

    def _mount_cards(self) -> None:
        container = self.query_one("#cards", VerticalScroll)
        new = []
        for index in sorted(self.samples):
            if index not in self.cards:
                card = SampleCard(self.samples[index])
                self.cards[index] = card
                new.append(card)
        if new:
            container.mount_all(new)
        if self.sort != "index":
            self._apply_sort()

    @work(thread=True, exit_on_error=False)
    def _load_stored(self) -> None:
        from pycodex.tui import data

        try:
            assert self.run_id is not None, "a stored samples screen has a run"
            samples = data.load_samples(self.workbench.db_path, self.run_id, self.problem.task_id)
        except Exception as exc:
            self.app.call_from_thread(self._stored_failed, str(exc))
            return
        self.app.call_from_thread(self._stored_loaded, samples)

    def _stored_loaded(self, samples: list[SampleState]) -> None:
        self.samples = {s.index: s for s in samples}
        self.status = "stored"
        self._mount_cards()
        self._update_stats()
        if self.cards:
            self._ordered_cards()[0].focus()

    def _stored_failed(self, error: str) -> None:
        self.status = "failed"
        self.error = error
        self._update_stats()

    # -- pipeline events (UI thread) ---------------------------------------------------
    def on_deltas_flushed(self, message: DeltasFlushed) -> None:
        for (task_id, index), text in message.deltas.items():
            card = self.cards.get(index)
            if card is not None and task_id == self.problem.task_id:
                if (task_id, index) in message.restarts:
                    card.restart_text()
                card.append_text(text)
        if self.status in ("starting", "loading model"):
            self.status = "generating"
            self._update_stats()

    def on_pipeline_event_message(self, message: PipelineEventMessage) -> None:
        from pycodex.runs.events import Progress, RunStarted, SampleGenerated, SampleJudged

        event = message.event
        if isinstance(event, RunStarted):
            self.run_id = event.run_id
            self.status = "generating"
        elif isinstance(event, (SampleGenerated, SampleJudged)):
            self._sample(event.index).apply(event)
            self.cards[event.index].refresh_all()
            if isinstance(event, SampleJudged) and self.sort != "index":
                self._apply_sort()
        elif isinstance(event, Progress):
            self.progress = event
        self._update_stats()

    def on_run_ended(self, message: RunEnded) -> None:
        if self.session is not None:
            self.session.stop_timer()
            self.session.flush()
        if message.error:
            self.status = "cancelled" if self.session and self.session.cancel_requested else "failed"
            self.error = message.error
            if self.status == "failed":
                self.notify(message.error, title="Generation failed", severity="error", timeout=10)
        else:
            self.status = getattr(message.finished, "status", "finished")
        for sample in self.samples.values():
            if not sample.judged and self.status != "finished":
                sample.status = SamplePhase.QUEUED
        self._update_stats()
        self.app.refresh_pass_rates()

    def backend_changed(self, message: BackendChanged) -> None:
        if self.status == "starting" and message.state == BackendState.LOADING:
            self.status = "loading model"
            self._update_stats()

    def _sample(self, index: int) -> SampleState:
        if index not in self.samples:
            self.samples[index] = SampleState(self.problem.task_id, index)
            self._mount_cards()
        return self.samples[index]

    # -- stats ---------------------------------------------------------------------------
    def _update_stats(self) -> None:
        samples = list(self.samples.values())
        generated = sum(1 for s in samples if s.status not in (SamplePhase.QUEUED, SamplePhase.STREAMING))
        judged = [s for s in samples if s.judged]
        passed = sum(1 for s in judged if s.passed)
        text = Text()
        status = self.status
        style = "bold"
        if status in ("failed",):
            style = f"bold {self.app.current_theme.error}"
        elif status == "finished" or status == "stored":
            style = f"bold {self.app.current_theme.success}"
        text.append(f"{status}", style=style)
        if self.error and status in ("failed",):
            text.append(f" ({self.error})", style="dim")
        total = len(samples)
        text.append(f"   generated {generated}/{total} · judged {len(judged)}/{total} · passed {passed}")
        values = problem_pass_at_k(len(judged), passed)
        if values:
            text.append("   ")
            for k, value in values.items():
                text.append(f"pass@{k} ", style="dim")
                text.append(f"{value:.3f}  ", style="bold")
        text.append(f"   sort: {self.sort}", style="dim")
        self.query_one("#samples-stats", Static).update(text)

    # -- actions -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.session is not None and self.status in ("starting", "loading model", "generating")

    def action_cancel_or_back(self) -> None:
        if self.running and self.session is not None:
            self.session.cancel()
            self.status = "cancelling"
            self._update_stats()
            self.notify("cancelling: the pipeline stops after the current token", timeout=3)
        else:
            self.app.pop_screen()

    def on_unmount(self) -> None:
        if self.session is not None:
            self.session.cancel()
            self.session.stop_timer()

    def _ordered_cards(self) -> list[SampleCard]:
        return list(self.query_one("#cards", VerticalScroll).query(SampleCard))

    def _focused_card(self) -> SampleCard | None:
        focused = self.focused
        return focused if isinstance(focused, SampleCard) else None

    def _step_card(self, step: int) -> None:
        cards = self._ordered_cards()
        if not cards:
            return
        current = self._focused_card()
        index = cards.index(current) + step if current in cards else 0
        card = cards[max(0, min(len(cards) - 1, index))]
        card.focus()
        card.scroll_visible()

    def action_focus_next_card(self) -> None:
        self._step_card(1)

    def action_focus_prev_card(self) -> None:
        self._step_card(-1)

    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._apply_sort()
        self._update_stats()

    def _apply_sort(self) -> None:
        container = self.query_one("#cards", VerticalScroll)
        if self.sort == "mean log-prob":
            # The paper's ranking (Figure 7): highest mean token log-probability first.
            def key(card):
                s = card.sample
                return (s.mean_logprob is None or not s.tokens, -(s.mean_logprob or 0.0), s.index)
        elif self.sort == "verdict":

            def key(card):
                s = card.sample
                return (VERDICT_ORDER.get(s.status, 9), s.index)
        else:

            def key(card):
                return card.sample.index

        container.sort_children(key=key)

    def action_diff(self) -> None:
        card = self._focused_card() or (self._ordered_cards()[0] if self.cards else None)
        if card is None:
            return
        if card.sample.status in (SamplePhase.QUEUED, SamplePhase.STREAMING):
            self.notify("this sample is still being generated", timeout=3)
            return
        from pycodex.tui.screens.diff import DiffScreen

        self.app.push_screen(DiffScreen(self.problem, card.sample))

    def action_again(self) -> None:
        if self.running:
            self.notify("a run is in progress: Esc cancels it first", timeout=3)
            return
        self.app.pop_screen()
        start_generation(self.app, self.problem)


def start_generation(app, problem) -> None:
    """`g`: ask for sampling parameters, then open the live samples screen for one problem."""
    from pycodex.tui.screens.generate_form import DEFAULT_SINGLE, GenerateForm, GenerateRequest

    initial = GenerateRequest(app.last_single_params or DEFAULT_SINGLE)

    def chosen(request: GenerateRequest | None) -> None:
        if request is None:
            return
        app.last_single_params = request.params
        app.push_screen(SamplesScreen(problem, params=request.params))

    app.push_screen(
        GenerateForm(f"Generate samples for {problem.task_id} ({problem.entry_point})", initial, model_label=app.model_label),
        chosen,
    )
