"""Events emitted by the eval pipeline (pycodex.runs.pipeline). The CLI and the TUI both render these.

Handlers receive events on the thread that produced them; a UI must hop to its own thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pycodex.execution.verdict import VerdictStatus
from pycodex.generation.base import SampleFinished, sample_field
from pycodex.store.records import RunStatus


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    task_ids: list[str]
    n: int  # samples per problem
    config: dict[str, Any]
    already_done: int = 0  # samples found in the store (resume)
    # a resume whose new samples are not those the uninterrupted run would have drawn (GPU offload in
    # this session or an earlier one, or not known): fresh draws from the same seeds (docs/runs.md)
    fresh_draws: bool = False


def fresh_draws_note(run_id: str) -> str:
    """What a front end says when a resume's samples are fresh draws (RunStarted.fresh_draws)."""
    return (
        f"note: run {run_id} is generated with layers on a GPU (in this session or an earlier one): GPU kernels are not "
        "batch-invariant, so the samples drawn now are fresh draws from their seeds, not the ones an uninterrupted run "
        "would have drawn: pass@k stays unbiased but for the samples that were in flight when the run stopped (at most "
        "one per slot; see docs/runs.md, \"Resume\")"
    )


@dataclass(frozen=True)
class ProblemStarted:
    run_id: str
    task_id: str


@dataclass(frozen=True)
class SampleDelta:
    """Tokens as they stream. High-rate: a UI should coalesce these. `restart`: the text streamed
    for this sample so far is void (a server backend retries it), `text` begins it again."""

    run_id: str
    task_id: str
    index: int
    text: str
    restart: bool = False


@dataclass(frozen=True)
class SampleGenerated:
    """A sample is complete and stored; it is now queued for execution. `sample` is the backend's
    own frozen record of it (its index the run's), carried unchanged from the backend to the store
    and the screens; its fields read through: event.completion, .tokens, .sum_logprob,
    .mean_logprob, .finish_reason, .seconds, .raw."""

    run_id: str
    task_id: str
    sample: SampleFinished

    def __getattr__(self, name: str) -> Any:
        return sample_field(self, name)


@dataclass(frozen=True)
class SampleJudged:
    """The executor's verdict for one sample (stored)."""

    run_id: str
    task_id: str
    index: int
    status: VerdictStatus
    detail: str
    passed: bool
    seconds: float
    base_passed: bool | None = None  # humaneval-plus: HumanEval's own tests alone (None for other sets)


@dataclass(frozen=True)
class Progress:
    """Totals, emitted at a modest rate (a few per second at most)."""

    run_id: str
    total: int  # samples the run will have
    generated: int
    executed: int
    passed: int
    tokens: int
    tokens_per_second: float
    eta_seconds: float | None
    current_task: str | None


@dataclass(frozen=True)
class RunFinished:
    run_id: str
    status: RunStatus  # finished / cancelled / failed
    pass_at_k: dict[int, float]
    totals: dict[str, Any] = field(default_factory=dict)


PipelineEvent = RunStarted | ProblemStarted | SampleDelta | SampleGenerated | SampleJudged | Progress | RunFinished
EventHandler = Callable[[PipelineEvent], None]
