"""The generation steps of a run: the whole run as one batched stream (generate_many), or chunk by
chunk (generate()); every finished sample goes to the run's recorder (stored, counted, announced)
and to `submit` (the executor) at once. See pipeline.py for the determinism and resume rules they keep."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any, Callable

from pycodex.generation import registry
from pycodex.generation.base import BatchedBackend, SampleFinished, TextDelta
from pycodex.runs.config import RunConfig, derive_seed
from pycodex.runs.recording import RunRecorder


class GenerationSteps:
    def __init__(
        self,
        backend: Any,
        recorder: RunRecorder,
        *,
        cancel: threading.Event,
        generated_keys: set[tuple[str, int]],
        submit: Callable[[Any, int, str], None],
    ) -> None:
        self._backend = backend
        self.recorder = recorder
        self._cancel = cancel
        self._generated_keys = generated_keys  # (task id, index) stored already: never asked again
        self._submit = submit  # (problem, index, completion): to the executor

    def run(self, problems, config: RunConfig) -> None:
        """Generate every sample of `problems` not stored yet."""
        replay = registry.is_replay(getattr(self._backend, "name", config.backend))
        self.recorder.generation_started = time.monotonic()
        if not replay and isinstance(self._backend, BatchedBackend):
            self._generate_stream(problems, config)
            return
        n = config.params.n
        chunk = max(1, config.chunk_size or n)
        run_seed = config.params.seed
        assert run_seed is not None, "_prepare draws a run seed"
        for problem in problems:
            if self._cancel.is_set():
                return
            missing = [i for i in range(n) if (problem.task_id, i) not in self._generated_keys]
            if not missing:
                continue
            self.recorder.problem_started(problem.task_id)
            if replay:
                params = replace(config.params, n=max(missing) + 1)
                self._timed_consume(problem, self._backend.generate(problem.prompt, params, task_id=problem.task_id), set(missing), 0, None)
                continue
            for number, start, wanted in self._chunks(problem, missing, n, chunk):
                if self._cancel.is_set():
                    return
                seed = derive_seed(run_seed, problem.task_id, number)
                # Sample j of a chunk depends only on (chunk seed, j): asking for fewer is the same draw.
                params = replace(config.params, n=max(wanted) - start + 1, seed=seed)
                stream = self._backend.generate(problem.prompt, params, task_id=problem.task_id)
                self._timed_consume(problem, stream, wanted, start, seed)
        self.recorder.current_task = None

    @staticmethod
    def _chunks(problem, missing: list[int], n: int, chunk: int):
        """(chunk number, first index, wanted indices) of each chunk holding a missing sample."""
        for number, start in enumerate(range(0, n, chunk)):
            wanted = {i for i in missing if start <= i < start + chunk}
            if wanted:
                yield number, start, wanted

    def _generate_stream(self, problems, config: RunConfig) -> None:
        """The whole run as one generate_many stream: the same (task, chunk) requests and seeds as the
        chunk-by-chunk path, pulled lazily in problem order; every sample is stored and executed as soon
        as it finishes, whatever its problem."""
        n = config.params.n
        chunk = max(1, config.chunk_size or n)
        run_seed = config.params.seed
        assert run_seed is not None, "_prepare draws a run seed"
        pulled: dict[tuple[str, int], tuple[Any, set[int], int, int]] = {}

        def requests():
            for problem in problems:
                if self._cancel.is_set():
                    return
                missing = [i for i in range(n) if (problem.task_id, i) not in self._generated_keys]
                first = True
                for number, start, wanted in self._chunks(problem, missing, n, chunk):
                    if self._cancel.is_set():
                        return
                    if first:  # the problem's first chunk is pulled: its generation starts now
                        first = False
                        self.recorder.problem_started(problem.task_id)
                    seed = derive_seed(run_seed, problem.task_id, number)
                    key = (problem.task_id, number)
                    pulled[key] = (problem, wanted, start, seed)
                    # Only the missing samples of the chunk: sample j is drawn from (seed, j) alone.
                    indices = sorted(i - start for i in wanted)
                    yield key, problem.prompt, replace(config.params, n=max(wanted) - start + 1, seed=seed), indices

        stream = self._backend.generate_many(requests())
        last = time.monotonic()
        try:
            for key, event in stream:
                if self._cancel.is_set():
                    return
                problem, wanted, start, seed = pulled[key]
                self._handle_event(problem, event, wanted, start, seed)
                if isinstance(event, SampleFinished) and time.monotonic() - last >= 1.0:
                    now = time.monotonic()  # record generation time as it goes (a killed run keeps most of it)
                    self.recorder.generation_time(now - last)
                    last = now
        finally:
            try:
                stream.close()
            finally:
                self.recorder.generation_time(time.monotonic() - last)
                self.recorder.current_task = None

    def _timed_consume(self, problem, stream, wanted: set[int], offset: int, seed: int | None) -> None:
        started = time.monotonic()
        try:
            self._consume(problem, stream, wanted, offset, seed)
        finally:
            self.recorder.generation_time(time.monotonic() - started)

    def _consume(self, problem, stream, wanted: set[int], offset: int, seed: int | None) -> None:
        """Drain one backend stream: its sample j is the run's sample offset + j; keep only `wanted`."""
        try:
            for event in stream:
                if self._cancel.is_set():
                    return
                self._handle_event(problem, event, wanted, offset, seed)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    def _handle_event(self, problem, event, wanted: set[int], offset: int, seed: int | None) -> None:
        """One backend event of a call whose sample j is the run's sample offset + j; only `wanted` are kept."""
        index = offset + event.index
        if index not in wanted:
            return
        if isinstance(event, TextDelta):
            self.recorder.delta(problem.task_id, index, event.text, event.restart)
        elif isinstance(event, SampleFinished):
            self.recorder.sample(problem.task_id, index, event, seed)
            self._generated_keys.add((problem.task_id, index))
            self._submit(problem, index, event.completion)
            self.recorder.maybe_progress()
