"""Run a versus (pycodex.runs.versus.Versus, the same class `pycodex versus` drives) for a screen:
on a thread worker, each side's events hopped to the UI thread as messages; token deltas are
buffered and flushed by a UI timer, as tui/runner.py does for one run."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from textual.screen import Screen
    from textual.timer import Timer

    from pycodex.runs.versus import Side
    from pycodex.runs.workbench import Workbench

FLUSH_INTERVAL = 1 / 20


@dataclass(frozen=True)
class VersusRequest:
    """What the versus form asks: two sides and what they share."""

    a: "Side"
    b: "Side"
    problems: str = "0-9"
    n: int = 4
    top_p: float = 0.95
    max_tokens: int = 256
    seed: int = 0


class VersusEvent(Message):
    """A pipeline event of side 0 (A) or 1 (B)."""

    def __init__(self, side: int, event: Any) -> None:
        super().__init__()
        self.side, self.event = side, event


class VersusStored(Message):
    """A side continues a stored run: its state and samples so far (posted before its new events)."""

    def __init__(self, side: int, state: Any, samples: list) -> None:
        super().__init__()
        self.side, self.state, self.samples = side, state, samples


class VersusDeltas(Message):
    """Coalesced token deltas: {(side, task_id, index): text appended since the last flush}; for the
    keys in `restarts` the text so far is void (a server retried the sample): the text replaces it."""

    def __init__(self, deltas: dict[tuple[int, str, int], str], restarts: set[tuple[int, str, int]] | None = None) -> None:
        super().__init__()
        self.deltas = deltas
        self.restarts = restarts or set()


class VersusEnded(Message):
    """Both pipelines returned (finished holds their RunFinished) or the versus failed (error)."""

    def __init__(self, finished: Any = None, error: str | None = None) -> None:
        super().__init__()
        self.finished, self.error = finished, error


class VersusSession:
    """One versus owned by a screen (`target`): start(), cancel(), events as messages."""

    def __init__(self, target: "Screen", request: VersusRequest, workbench: "Workbench") -> None:
        self.target = target
        self.request = request
        self.workbench = workbench
        self.problem_set = workbench.problem_set
        self.executor_options = dict(workbench.executor_options)
        self.versus: Any = None
        self.cancel_requested = False
        self.finished = threading.Event()
        self._lock = threading.Lock()
        self._pending: dict[tuple[int, str, int], str] = {}
        self._restarts: set[tuple[int, str, int]] = set()
        self._done: set[tuple[int, str, int]] = set()
        self._timer: Timer | None = None

    def start(self) -> None:
        self._timer = self.target.set_interval(FLUSH_INTERVAL, self.flush, name="versus-flush")
        self.target.run_worker(self._work, thread=True, group="versus", exit_on_error=False, name="versus run")

    def cancel(self) -> None:
        self.cancel_requested = True
        if self.versus is not None:
            self.versus.cancel()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            restarts, self._restarts = self._restarts, set()
        if pending:
            self.target.post_message(VersusDeltas(pending, restarts))

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.flush()

    # -- worker thread ---------------------------------------------------------------------
    def _on_event(self, side: int, event: Any) -> None:
        from pycodex.runs.events import RunStarted, SampleDelta, SampleGenerated

        key = (side, getattr(event, "task_id", ""), getattr(event, "index", -1))
        if isinstance(event, SampleDelta):
            with self._lock:
                if key not in self._done:
                    if event.restart:
                        self._restarts.add(key)
                    self._pending[key] = ("" if event.restart else self._pending.get(key, "")) + event.text
            return
        if isinstance(event, SampleGenerated):
            with self._lock:
                self._pending.pop(key, None)
                self._done.add(key)
        if isinstance(event, RunStarted) and event.already_done:
            self._post_stored(side, event.run_id)
        self.target.post_message(VersusEvent(side, event))

    def _post_stored(self, side: int, run_id: str) -> None:
        from pycodex.runs.state import RunState, SampleState

        store = self.versus.store
        samples = [SampleState.from_record(r) for r in store.samples(run_id)]
        self.target.post_message(VersusStored(side, RunState.from_store(store, run_id), samples))

    def _plan(self, store):
        from pycodex.generation.base import SamplingParams
        from pycodex.generation.spec import BackendSpec
        from pycodex.runs.config import make_config
        from pycodex.runs.request import RunRequest
        from pycodex.runs.versus import plan_versus
        from pycodex.runs.workbench import problems_file_of

        r = self.request
        params = SamplingParams(n=r.n, temperature=0.8, top_p=r.top_p, max_tokens=r.max_tokens, seed=r.seed)
        params.validate()
        problem_set = self.problem_set
        request = RunRequest(
            BackendSpec.parse("default"), tuple(p.task_id for p in problem_set.select(r.problems)), params,
            problems_file=problems_file_of(problem_set), **self.executor_options,
        )
        base = make_config(request, problem_set)  # (each side's backend and temperature replace its own)
        return plan_versus(store, base, r.a, r.b)

    def _work(self) -> None:
        from pycodex.errors import UserError
        from pycodex.runs.versus import Versus
        try:
            store = self.workbench.store
            plan = self._plan(store)
            if self.cancel_requested:
                raise UserError("cancelled before start")
            stored_side = any(s.stored_run is not None for s in (self.request.a, self.request.b))
            self.versus = Versus(store, plan, problem_set=None if stored_side else self.problem_set, on_event=self._on_event)
            if self.cancel_requested:
                self.versus.cancel()
            self.target.post_message(VersusEnded(finished=self.versus.run()))
        except UserError as exc:
            self.target.post_message(VersusEnded(error=str(exc)))
        except Exception as exc:  # the screen reports it; a failed versus must not kill the app
            self.target.post_message(VersusEnded(error=f"{type(exc).__name__}: {exc}"))
        finally:
            self.finished.set()
