"""The REPL's long jobs, headless: n samples of a problem judged by its tests, a small eval.

Each job streams the backend's events and the verdicts to a listener as they come, and stops when
its `stop` event is set (Ctrl-C): the stream is closed (the backend stays usable), verdicts not
given yet are cancelled, and what finished is kept.
"""

from __future__ import annotations

import functools
import threading
import time
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from typing import Callable

from pycodex.generation.base import Backend, SampleFinished, SamplingParams
from pycodex.problems.problem import Problem

Listener = Callable[[object], None]


@dataclass
class Sample:
    """One generated sample and, once judged, its verdict."""

    index: int
    completion: str
    tokens: int
    mean_logprob: float
    finish_reason: str
    status: str | None = None  # a VerdictStatus once judged; None while judging or when stopped first
    detail: str = ""  # the failing assert, the error

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class SampleJudged:
    """An event for live displays: sample `index` of `task_id` has its verdict."""

    task_id: str
    index: int
    status: str
    detail: str


@dataclass
class Generation:
    """The samples of one problem drawn with one setting."""

    problem: Problem
    params: SamplingParams
    samples: list[Sample] = field(default_factory=list)  # by index; only those generated
    stopped: bool = False  # Ctrl-C came first
    seconds: float = 0.0

    @property
    def judged(self) -> list[Sample]:
        return [s for s in self.samples if s.status is not None]

    @property
    def passed(self) -> int:
        return sum(1 for s in self.samples if s.passed)

    def pass_at_k(self) -> dict[int, float]:
        """pass@k over the judged samples (the unbiased estimator, for the ks their number supports)."""
        from pycodex.runs.state import problem_pass_at_k

        return problem_pass_at_k(len(self.judged), self.passed)

    def sample(self, index: int) -> Sample:
        from pycodex.errors import UserError

        for sample in self.samples:
            if sample.index == index:
                return sample
        known = f"0..{len(self.samples) - 1}" if self.samples else "none yet"
        raise UserError(f"no sample {index} of {self.problem.task_id}: the samples are {known}")


def generate(
    backend: Backend, executor, problem: Problem, params: SamplingParams, *, stop: threading.Event, on_event: Listener | None = None
) -> Generation:
    """params.n samples of the problem, each judged by the problem's tests as soon as it is written."""
    from pycodex.execution.judging import submit_judged

    notify = on_event or (lambda event: None)
    started = time.perf_counter()
    generation = Generation(problem, params)
    futures: list[tuple[Future, Sample]] = []
    stream = backend.generate(problem.prompt, params, task_id=problem.task_id)
    try:
        for event in stream:
            if stop.is_set():
                break
            notify(event)
            if isinstance(event, SampleFinished):
                sample = Sample(event.index, event.completion, event.tokens, event.mean_logprob, event.finish_reason)
                generation.samples.append(sample)
                future = submit_judged(executor, problem, event.completion)
                future.add_done_callback(functools.partial(_judged, sample=sample, task_id=problem.task_id, notify=notify))
                futures.append((future, sample))
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # a generator stopped early frees its slots here, not at garbage collection
    _wait(futures, stop)
    generation.samples.sort(key=lambda s: s.index)
    generation.stopped = stop.is_set()
    generation.seconds = time.perf_counter() - started
    return generation


def _judged(future: Future, sample: Sample, task_id: str, notify: Listener) -> None:
    """A verdict as it comes: for the live view (the sample's fields are set again in _wait)."""
    if _record(future, sample):
        notify(SampleJudged(task_id, sample.index, str(sample.status), sample.detail))


def _record(future: Future, sample: Sample) -> bool:
    if not future.done() or future.cancelled():
        return False
    verdict = future.result()
    sample.status, sample.detail = str(verdict.status), verdict.detail
    return True


def _wait(futures: list[tuple[Future, Sample]], stop: threading.Event) -> None:
    """Until every verdict is in, or stop is set: then the ones not in yet are cancelled. Each
    sample's verdict is recorded here too, so that none is missing when this returns (a future's
    callbacks may run after its result() has returned)."""
    for future, _ in futures:
        while not future.done() and not stop.is_set():
            try:
                future.result(timeout=0.1)
            except TimeoutError:
                continue
            except CancelledError:
                break
    for future, sample in futures:
        if stop.is_set():
            future.cancel()
        _record(future, sample)


@dataclass(frozen=True)
class ProblemDone:
    """An event for live displays: one problem of an eval is judged."""

    position: int  # 1-based
    total: int
    generation: Generation


@dataclass
class Evaluation:
    generations: list[Generation]
    total: int  # problems asked for
    seconds: float = 0.0

    @property
    def stopped(self) -> bool:
        return len(self.generations) < self.total or any(g.stopped for g in self.generations)

    def pass_at_k(self) -> dict[int, float]:
        """The mean of the problems' pass@k over the problems fully judged (the ks all of them support)."""
        from pycodex.metrics import estimate_pass_at_k
        from pycodex.runs.state import ks_for

        complete = [g for g in self.generations if not g.stopped]
        if not complete:
            return {}
        totals = {g.problem.task_id: (len(g.judged), g.passed) for g in complete}
        return estimate_pass_at_k(totals, ks_for(min(n for n, _ in totals.values())))


def evaluate(
    backend: Backend, executor, problems: list[Problem], params: SamplingParams, *, stop: threading.Event, on_event: Listener | None = None
) -> Evaluation:
    """generate() for each problem in turn; a ProblemDone after each."""
    notify = on_event or (lambda event: None)
    started = time.perf_counter()
    evaluation = Evaluation([], len(problems))
    for position, problem in enumerate(problems, 1):
        if stop.is_set():
            break
        generation = generate(backend, executor, problem, params, stop=stop, on_event=on_event)
        evaluation.generations.append(generation)
        notify(ProblemDone(position, len(problems), generation))
    evaluation.seconds = time.perf_counter() - started
    return evaluation
