"""Plain view state the screens render: one sample, one run's per-problem tallies.

Filled from pipeline events (live) or from the run store (history); no textual imports here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VERDICT_ORDER = {"passed": 0, "failed": 1, "syntax error": 2, "timed out": 3, "crashed": 4, "out of memory": 5}
PENDING_STATES = ("queued", "streaming", "running")
REPORT_KS = (1, 2, 5, 10, 20, 50, 100)


@dataclass
class SampleState:
    task_id: str
    index: int
    text: str = ""
    status: str = "queued"  # queued / streaming / running / passed / failed / timed out / crashed / ...
    detail: str = ""
    passed: bool = False
    tokens: int = 0
    mean_logprob: float | None = None
    sum_logprob: float | None = None
    finish_reason: str = ""
    gen_seconds: float | None = None
    exec_seconds: float | None = None

    @property
    def judged(self) -> bool:
        return self.status not in PENDING_STATES


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
    status: str = "idle"  # idle / running / finished / cancelled / failed
    tallies: dict[str, TaskTally] = field(default_factory=dict)
    tokens: int = 0
    tokens_per_second: float = 0.0
    eta_seconds: float | None = None
    current_task: str | None = None
    model: str = ""
    config: dict = field(default_factory=dict)
    final_pass_at_k: dict[int, float] = field(default_factory=dict)
    resumable: bool = False  # a stored run with samples still to generate or judge

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
