"""Run the core Pipeline for a screen: on a thread worker, events hopped to the UI thread.

The TUI has no generation or execution logic of its own: a screen asks for a run (task ids +
sampling params), the screen's Workbench makes the same `pycodex.runs.pipeline.Pipeline` that
`pycodex eval` uses, and this module forwards its events as textual messages. Token deltas are high-rate, so they are
buffered here and flushed to the screen by a UI timer (a few dozen times per second at most).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from pycodex.tui.messages import DeltasFlushed, PipelineEventMessage, RunEnded

if TYPE_CHECKING:
    from textual.screen import Screen
    from textual.timer import Timer

    from pycodex.generation.base import SamplingParams
    from pycodex.runs.workbench import Workbench

FLUSH_INTERVAL = 1 / 20


class RunSession:
    """One pipeline run owned by a screen (`target`): start(), cancel(), events as messages."""

    def __init__(
        self,
        target: "Screen",
        workbench: "Workbench",
        task_ids: list[str],
        params: "SamplingParams",
        ks: list[int] | None = None,
        run_id: str | None = None,
    ) -> None:
        self.target = target
        self.workbench = workbench
        self.task_ids = list(task_ids)
        self.params = params
        self.ks = ks
        self.run_id = run_id
        self.pipeline: Any = None
        self.running = False
        self.cancel_requested = False
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, int], str] = {}
        self._restarts: set[tuple[str, int]] = set()  # pending keys whose text so far is void (a server retry)
        self._done_keys: set[tuple[str, int]] = set()
        self._timer: Timer | None = None
        self.finished = threading.Event()  # set when the worker thread is done with the backend

    # -- UI thread ---------------------------------------------------------------------
    def start(self) -> None:
        self.running = True
        self.workbench.sessions.add(self)
        self._timer = self.target.set_interval(FLUSH_INTERVAL, self.flush, name="delta-flush")
        self.target.run_worker(self._work, thread=True, group="pipeline", exit_on_error=False, name="pipeline run")

    def cancel(self) -> None:
        """Thread-safe; the pipeline stops at its next check and run() returns 'cancelled'."""
        self.cancel_requested = True
        pipeline = self.pipeline
        if pipeline is not None:
            pipeline.cancel()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            restarts, self._restarts = self._restarts, set()
        if pending:
            self.target.post_message(DeltasFlushed(pending, restarts))

    def stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    # -- pipeline threads --------------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        from pycodex.runs.events import SampleDelta, SampleGenerated

        if isinstance(event, SampleDelta):
            key = (event.task_id, event.index)
            with self._lock:
                if key not in self._done_keys:
                    if event.restart:
                        self._restarts.add(key)
                    self._pending[key] = ("" if event.restart else self._pending.get(key, "")) + event.text
            return
        if isinstance(event, SampleGenerated):
            key = (event.task_id, event.index)
            with self._lock:
                self._pending.pop(key, None)
                self._done_keys.add(key)
        self.target.post_message(PipelineEventMessage(event))

    def _work(self) -> None:
        from pycodex.errors import UserError

        workbench = self.workbench
        try:
            if self.cancel_requested:
                self.target.post_message(RunEnded(error="cancelled before start"))
                return
            backend = workbench.acquire_backend()
            if self.cancel_requested:
                self.target.post_message(RunEnded(error="cancelled before start"))
                return
            self.pipeline = workbench.make_pipeline(
                self.task_ids, self.params, backend=backend, on_event=self._on_event, ks=self.ks, run_id=self.run_id
            )
            if self.cancel_requested:
                self.pipeline.cancel()
            finished = self.pipeline.run()
            self.target.post_message(RunEnded(finished=finished))
        except UserError as exc:
            self.target.post_message(RunEnded(error=str(exc)))
        except Exception as exc:  # the UI reports it; a failed run must not kill the app
            self.target.post_message(RunEnded(error=f"{type(exc).__name__}: {exc}"))
        finally:
            self.running = False
            self.finished.set()
