"""The pipeline's events: emitted to its handler (a failing handler never stops a run), and the
Progress totals, at most every PROGRESS_INTERVAL seconds. Pipeline inherits these."""

from __future__ import annotations

import sys
import threading
import time
import traceback
from typing import Any

from pycodex.runs.events import PipelineEvent, Progress
from pycodex.runs.config import PROGRESS_INTERVAL


class PipelineEvents:
    # The Pipeline state these read (Pipeline.__init__ and _prepare set it).
    on_event: Any
    current_task: str | None
    total: int
    generated: int
    executed: int
    passed: int
    session_generated: int
    session_tokens: int
    _done: bool
    _handler_failed: bool
    _lock: threading.Lock
    _pending: set
    _gen_started: float | None
    _last_progress: float

    @property
    def _rid(self) -> str:
        raise NotImplementedError

    def _emit(self, event: PipelineEvent) -> None:
        if self.on_event is None or self._done:
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
            elapsed = time.monotonic() - self._gen_started if self._gen_started else 0.0
            tps = self.session_tokens / elapsed if elapsed > 0 else 0.0
            remaining = self.total - self.generated
            if remaining <= 0:
                eta = 0.0 if not self._pending else None
            elif self.session_generated:
                eta = remaining * (elapsed / self.session_generated)
            else:
                eta = None
            return Progress(
                run_id=self._rid,
                total=self.total,
                generated=self.generated,
                executed=self.executed,
                passed=self.passed,
                tokens=self.session_tokens,
                tokens_per_second=tps,
                eta_seconds=eta,
                current_task=self.current_task,
            )

    def _maybe_progress(self, force: bool = False) -> None:
        if self.on_event is None:
            return
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_progress < PROGRESS_INTERVAL:
                return
            self._last_progress = now
        self._emit(self.progress())
