"""The live state of a versus (pycodex.runs.versus): each side's RunState and samples, folded from
the events of both pipelines, and the paired comparison of what is judged so far. The TUI's versus
screens render it; none of them counts events itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from pycodex.report.build import DEFAULT_BOOTSTRAP
from pycodex.runs.events import SampleGenerated, SampleJudged
from pycodex.runs.state import RunPhase, RunState, SamplePhase, SampleState
from pycodex.store.records import RUNNING

SampleKey = tuple[int, str, int]  # (side, task id, sample index)


@dataclass
class VersusState:
    sides: tuple[RunState, RunState] = field(default_factory=lambda: (RunState(), RunState()))
    samples: dict[SampleKey, SampleState] = field(default_factory=dict)
    labels: tuple[str, str] = ("A", "B")
    changed: set[SampleKey] = field(default_factory=set)  # samples changed since a screen last took them

    def reset(self, task_ids: list[str], n: int, labels: tuple[str, str]) -> None:
        self.labels = labels
        self.samples.clear()
        self.changed.clear()
        for side in self.sides:
            side.reset(task_ids, n)
            side.status = RunPhase.STARTING

    def sample(self, side: int, task_id: str, index: int) -> SampleState:
        key = (side, task_id, index)
        if key not in self.samples:
            self.samples[key] = SampleState(task_id, index)
        return self.samples[key]

    def apply(self, side: int, event: Any) -> None:
        self.sides[side].apply(event)
        if isinstance(event, (SampleGenerated, SampleJudged)):
            self.sample(side, event.task_id, event.index).apply(event)
            self.changed.add((side, event.task_id, event.index))

    def append_text(self, side: int, task_id: str, index: int, text: str, restart: bool = False) -> None:
        """Streamed tokens of a sample still being generated (`restart`: a server retried it, the
        text so far is void)."""
        sample = self.sample(side, task_id, index)
        if sample.status in (SamplePhase.QUEUED, SamplePhase.STREAMING):
            if restart:
                sample.text, sample.restarts = "", sample.restarts + 1
            sample.text += text
            sample.status = SamplePhase.STREAMING
            self.changed.add((side, task_id, index))

    def load_stored(self, side: int, state: RunState, samples: list[SampleState]) -> None:
        """A resumed or reused side: what its run already holds."""
        self.sides[side].__dict__.update(state.__dict__)
        for s in samples:
            self.samples[(side, s.task_id, s.index)] = s
            self.changed.add((side, s.task_id, s.index))

    def take_changed(self, task_id: str) -> set[SampleKey]:
        keys = {key for key in self.changed if key[1] == task_id}
        self.changed -= keys
        return keys

    def totals(self, side: int) -> dict[str, tuple[int, int]]:
        """task_id -> (judged, passed) of one side, the problems with a verdict."""
        return {t: (x.judged, x.passed) for t, x in self.sides[side].tallies.items() if x.judged}

    def comparison(self, resamples: int = DEFAULT_BOOTSTRAP, seed: int = 0, ks: Sequence[int] | None = None) -> dict[str, Any]:
        """report --compare's paired comparison over the problems judged on both sides so far."""
        from pycodex.report.paired import paired_comparison

        return paired_comparison(self.totals(0), self.totals(1), order=self.sides[0].task_ids, resamples=resamples, seed=seed, ks=ks)

    @property
    def running(self) -> bool:
        return any(s.status in (RunPhase.STARTING, RUNNING) for s in self.sides)

