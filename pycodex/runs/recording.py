"""A run's recorder: what the generation steps and the verdicts write, counted and announced.

One RunRecorder per Pipeline run, handed to the generation steps (runs/steps.py) and called from
the executor's completion callbacks: it stores each sample and verdict, keeps the run's counters,
and emits the events (a failing handler never stops a run), Progress at most every
PROGRESS_INTERVAL seconds. Thread-safe."""

from __future__ import annotations

import sys
import threading
import time
import traceback
from dataclasses import replace
from typing import Any, Callable

from pycodex.generation.base import SampleFinished
from pycodex.runs.config import PROGRESS_INTERVAL
from pycodex.runs.events import EventHandler, PipelineEvent, ProblemStarted, Progress, SampleDelta, SampleGenerated, SampleJudged


class RunRecorder:
    def __init__(self, store: Any, on_event: EventHandler | None, run_id: str | None = None) -> None:
        self.store = store
        self.on_event = on_event
        self.run_id = run_id
        self.session = 1
        self.total = 0
        self.generated = 0  # stored samples, all sessions
        self.executed = 0
        self.passed = 0
        self.session_generated = 0
        self.session_executed = 0
        self.session_tokens = 0
        self.current_task: str | None = None
        self.generation_started: float | None = None
        self.judging: Callable[[], bool] = lambda: False  # whether verdicts are still awaited (for the ETA)
        self.closed = False  # after RunFinished nothing more is announced
        self._lock = threading.Lock()
        self._last_progress = 0.0
        self._handler_failed = False

    @property
    def rid(self) -> str:
        """The run's id, once the pipeline has created or resolved it."""
        assert self.run_id is not None, "the run is not prepared yet"
        return self.run_id

    def start(self, run_id: str, session: int, total: int) -> None:
        """The run opened: its counts so far are read from the store."""
        self.run_id, self.session, self.total = run_id, session, total
        stats = self.store.totals(run_id)
        generated, _judged = self.store.done_keys(run_id)
        with self._lock:
            self.generated = len(generated)
            self.executed = sum(n for n, _ in stats.values())
            self.passed = sum(c for _, c in stats.values())

    # -- events ----------------------------------------------------------------------------
    def emit(self, event: PipelineEvent) -> None:
        if self.on_event is None or self.closed:
            return  # nothing after RunFinished (a late verdict of a cancelled run is stored, not announced)
        try:
            self.on_event(event)
        except Exception:
            if not self._handler_failed:
                self._handler_failed = True
                print("pycodex: an event handler failed (the run goes on):", file=sys.stderr)
                traceback.print_exc()

    def progress(self) -> Progress:
        with self._lock:
            elapsed = time.monotonic() - self.generation_started if self.generation_started else 0.0
            tps = self.session_tokens / elapsed if elapsed > 0 else 0.0
            remaining = self.total - self.generated
            if remaining <= 0:
                eta = 0.0 if not self.judging() else None
            elif self.session_generated:
                eta = remaining * (elapsed / self.session_generated)
            else:
                eta = None
            return Progress(
                run_id=self.rid,
                total=self.total,
                generated=self.generated,
                executed=self.executed,
                passed=self.passed,
                tokens=self.session_tokens,
                tokens_per_second=tps,
                eta_seconds=eta,
                current_task=self.current_task,
            )

    def maybe_progress(self, force: bool = False) -> None:
        if self.on_event is None:
            return
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_progress < PROGRESS_INTERVAL:
                return
            self._last_progress = now
        self.emit(self.progress())

    # -- what the generation steps record --------------------------------------------------
    def problem_started(self, task_id: str) -> None:
        self.current_task = task_id
        self.emit(ProblemStarted(run_id=self.rid, task_id=task_id))

    def delta(self, task_id: str, index: int, text: str, restart: bool = False) -> None:
        """Text of a sample as it comes (restart: the sample starts again, its text so far is void)."""
        if self.on_event is not None and (text or restart):
            self.emit(SampleDelta(run_id=self.rid, task_id=task_id, index=index, text=text, restart=restart))
            self.maybe_progress()

    def sample(self, task_id: str, index: int, event: SampleFinished, seed: int | None) -> None:
        """A finished sample (the backend's record; index: the run's index of it): stored, counted, announced."""
        if event.index != index:
            event = replace(event, index=index)
        self.store.store_sample(self.rid, task_id, event, seed=seed, session=self.session)
        with self._lock:
            self.generated += 1
            self.session_generated += 1
            self.session_tokens += event.tokens
        self.emit(SampleGenerated(run_id=self.rid, task_id=task_id, sample=event))

    def generation_time(self, seconds: float) -> None:
        try:
            self.store.add_generation_time(self.rid, seconds)
        except Exception:
            pass

    # -- what the executor's callbacks record ----------------------------------------------
    def verdict(self, task_id: str, index: int, verdict: Any) -> None:
        """A sample's verdict: stored (raises when the store fails), counted, announced."""
        base_passed = getattr(verdict, "base_passed", None)
        self.store.add_result(
            self.rid, task_id, index, status=verdict.status, passed=verdict.passed, detail=verdict.detail or "",
            seconds=verdict.seconds, session=self.session, judge=verdict.judge, base_passed=base_passed,
        )
        with self._lock:
            self.executed += 1
            self.session_executed += 1
            self.passed += bool(verdict.passed)
        self.emit(
            SampleJudged(
                run_id=self.rid, task_id=task_id, index=index, status=verdict.status, detail=verdict.detail or "",
                passed=bool(verdict.passed), seconds=verdict.seconds, base_passed=base_passed,
            )
        )
        self.maybe_progress()
