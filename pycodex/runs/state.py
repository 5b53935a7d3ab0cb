"""The one progress reducer: a run's state (per-problem tallies, totals, pass@k) and each
sample's, filled from pipeline events as they arrive (`apply`) or from the run store (`from_store`).

The CLI's live view and every TUI screen render these; none of them counts events itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pycodex.execution.verdict import CRASHED, FAILED, OUT_OF_MEMORY, PASSED, SYNTAX_ERROR, TIMED_OUT, VerdictStatus
from pycodex.generation.base import SampleFinished
from pycodex.runs.events import PipelineEvent, ProblemStarted, Progress, RunFinished, RunStarted, SampleGenerated, SampleJudged
from pycodex.store.records import RunStatus, SampleRecord


class SamplePhase(StrEnum):
    """A sample before its verdict, as a front end shows it; SampleState.status is one of these,
    then the sample's VerdictStatus."""

    QUEUED = "queued"
    STREAMING = "streaming"  # its tokens are coming
    RUNNING = "running"  # generated: its program runs in the sandbox


class RunPhase(StrEnum):
    """A run as a front end shows it where the store has no status for it; RunState.status is one
    of these or the store's RunStatus (running, finished, cancelled, ...)."""

    IDLE = "idle"  # nothing asked yet
    LOADING = "loading"  # a stored run being read
    STARTING = "starting"  # asked for, before its RunStarted
    CANCELLING = "cancelling"  # cancel asked, before its RunFinished


SampleView = SamplePhase | VerdictStatus
RunView = RunPhase | RunStatus
VERDICT_ORDER = {status: i for i, status in enumerate((PASSED, FAILED, SYNTAX_ERROR, TIMED_OUT, CRASHED, OUT_OF_MEMORY))}
PENDING_STATES = tuple(SamplePhase)
REPORT_KS = (1, 2, 5, 10, 20, 50, 100)


@dataclass
class SampleState:
    task_id: str
    index: int
    text: str = ""  # streamed so far; the completion once generated
    status: SampleView = SamplePhase.QUEUED
    detail: str = ""
    passed: bool = False
    exec_seconds: float | None = None
    base_passed: bool | None = None  # humaneval-plus: the verdict of HumanEval's own tests alone
    restarts: int = 0  # times a server backend started the sample again (its streamed text was void)
    sample: SampleFinished | None = None  # the backend's record, once generated (from its event or the store)

    @property
    def judged(self) -> bool:
        return self.status not in PENDING_STATES

    @property
    def tokens(self) -> int:
        return self.sample.tokens if self.sample else 0

    @property
    def mean_logprob(self) -> float | None:
        return self.sample.mean_logprob if self.sample else None

    @property
    def finish_reason(self) -> str:
        return self.sample.finish_reason if self.sample else ""

    def apply(self, event: SampleGenerated | SampleJudged) -> None:
        if isinstance(event, SampleGenerated):
            self.sample = event.sample
            self.text = event.completion
            self.status = SamplePhase.RUNNING
        else:
            self.status = event.status
            self.detail = event.detail
            self.passed = event.passed
            self.exec_seconds = event.seconds
            self.base_passed = event.base_passed

    @classmethod
    def from_record(cls, record: SampleRecord) -> "SampleState":
        """A stored sample (store.SampleRecord) and its verdict, if judged."""
        return cls(
            task_id=record.task_id,
            index=record.index,
            text=record.completion,
            status=record.status or SamplePhase.RUNNING,
            detail=record.detail or "",
            passed=bool(record.passed),
            exec_seconds=record.exec_seconds,
            base_passed=record.base_passed,
            sample=record.sample,
        )


def ks_for(n: int) -> list[int]:
    """The usual ks up to n, and n itself (pass@n: did any sample pass, the paper's oracle)."""
    ks = [k for k in REPORT_KS if k <= n]
    if n >= 1 and n not in ks:
        ks.append(n)
    return ks


def problem_pass_at_k(n: int, c: int) -> dict[int, float]:
    """pass@k for one problem from n judged samples of which c passed, for the ks n supports."""
    if n <= 0:
        return {}
    from pycodex.metrics import pass_at_k

    return {k: pass_at_k(n, c, k) for k in ks_for(n)}


@dataclass
class TaskTally:
    expected: int = 0  # samples this problem will have
    generated: int = 0
    judged: int = 0
    passed: int = 0

    @property
    def complete(self) -> bool:
        return self.expected > 0 and self.judged >= self.expected

    @property
    def fraction(self) -> float | None:
        return self.passed / self.judged if self.judged else None


@dataclass
class RunState:
    run_id: str | None = None
    task_ids: list[str] = field(default_factory=list)
    n: int = 0
    status: RunView = RunPhase.IDLE
    tallies: dict[str, TaskTally] = field(default_factory=dict)
    tokens: int = 0
    tokens_per_second: float = 0.0
    eta_seconds: float | None = None
    current_task: str | None = None
    model: str = ""
    config: dict = field(default_factory=dict)
    final_pass_at_k: dict[int, float] = field(default_factory=dict)
    resumable: bool = False  # a stored run with samples still to generate or judge
    statuses: dict[VerdictStatus, int] = field(default_factory=dict)  # verdicts seen live, by status

    def apply(self, event: PipelineEvent) -> None:
        """Fold one pipeline event into the state (token deltas carry no counts: ignored)."""
        if isinstance(event, RunStarted):
            if event.run_id != self.run_id or not self.tallies:
                self.reset(event.task_ids, event.n)
            self.run_id = event.run_id
            self.status = RunStatus.RUNNING
            self.config = event.config
        elif isinstance(event, ProblemStarted):
            self.current_task = event.task_id
        elif isinstance(event, SampleGenerated):
            self.tally(event.task_id).generated += 1
        elif isinstance(event, SampleJudged):
            tally = self.tally(event.task_id)
            tally.judged += 1
            tally.passed += bool(event.passed)
            self.statuses[event.status] = self.statuses.get(event.status, 0) + 1
        elif isinstance(event, Progress):
            self.tokens = event.tokens
            self.tokens_per_second = event.tokens_per_second
            self.eta_seconds = event.eta_seconds
            self.current_task = event.current_task
        elif isinstance(event, RunFinished):
            self.status = event.status
            self.final_pass_at_k = dict(event.pass_at_k)
            self.current_task = None

    @classmethod
    def from_store(cls, store: Any, run_id: str) -> "RunState":
        """A stored run: per-problem generated / judged / passed counts, tokens and speed."""
        run_id = store.resolve(run_id)
        record = store.get_run(run_id)
        state = cls(run_id=run_id, status=record.effective_status, model=record.model or record.backend)
        state.reset(record.task_ids, record.n)
        state.config = record.config
        state.resumable = record.resumable
        generated, _judged = store.done_keys(run_id)
        for task_id, _index in generated:
            state.tally(task_id).generated += 1
        for task_id, (n, c) in store.totals(run_id).items():
            tally = state.tally(task_id)
            tally.judged, tally.passed = n, c
        stats = store.generation_stats(run_id)
        state.tokens = int(stats.get("generated_tokens", 0))
        seconds = stats.get("generation_seconds", 0.0)
        state.tokens_per_second = state.tokens / seconds if seconds else 0.0
        return state

    def reset(self, task_ids: list[str], n: int) -> None:
        self.task_ids = list(task_ids)
        self.n = n
        self.tallies = {t: TaskTally(expected=n) for t in task_ids}

    def tally(self, task_id: str) -> TaskTally:
        if task_id not in self.tallies:
            self.tallies[task_id] = TaskTally(expected=self.n)
            if task_id not in self.task_ids:
                self.task_ids.append(task_id)
        return self.tallies[task_id]

    @property
    def totals(self) -> dict[str, int]:
        t = {"expected": 0, "generated": 0, "judged": 0, "passed": 0}
        for tally in self.tallies.values():
            t["expected"] += tally.expected
            t["generated"] += tally.generated
            t["judged"] += tally.judged
            t["passed"] += tally.passed
        return t

    def pass_at_k(self) -> tuple[dict[int, float], int]:
        """Mean pass@k over the problems whose samples are all judged (the paper's rule: a k is
        reported only when every counted problem has at least k samples). Returns (values, problems)."""
        done = {t: (x.judged, x.passed) for t, x in self.tallies.items() if x.complete}
        if not done:
            return {}, 0
        from pycodex.metrics import estimate_pass_at_k

        return estimate_pass_at_k(done, list(REPORT_KS)), len(done)
