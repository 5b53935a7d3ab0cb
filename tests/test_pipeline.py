"""The eval pipeline: events, overlap of generation and execution, seeds, cancel and resume."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from pycodex.errors import UserError
from pycodex.runs.events import ProblemStarted, Progress, RunFinished, RunStarted, SampleDelta, SampleGenerated, SampleJudged
from pycodex.generation.base import SampleFinished, SamplingParams, TextDelta
from pycodex.runs.pipeline import Pipeline, RunConfig, derive_seed
from pycodex.problems.problem import load_humaneval
from pycodex.store.database import CANCELLED, FINISHED, Store

TASKS = ["HumanEval/0", "HumanEval/1", "HumanEval/2", "HumanEval/3"]


@pytest.fixture(scope="module")
def problem_set():
    return load_humaneval()


def _ok(seed: int, j: int) -> bool:
    return (seed + 7 * j) % 3 != 0


@dataclass
class FakeVerdict:
    status: str
    detail: str = ""
    seconds: float = 0.0
    judge: str = "classic"  # (in-process, like the classic judge; stored with each verdict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class FakeExecutor:
    """Judges by comparing with the canonical solution; records when each job ran."""

    def __init__(self, delay: float = 0.0, workers: int = 2):
        self.pool = ThreadPoolExecutor(workers)
        self.delay = delay
        self.started: list[float] = []
        self.jobs = 0
        self.closed = False

    def submit(self, problem, completion):
        self.jobs += 1

        def judge():
            self.started.append(time.monotonic())
            time.sleep(self.delay)
            ok = completion == problem.canonical_solution
            return FakeVerdict("passed" if ok else "failed", "" if ok else "AssertionError", self.delay)

        return self.pool.submit(judge)

    def close(self):
        self.closed = True
        self.pool.shutdown(wait=True, cancel_futures=True)


class SeededBackend:
    """A model stand-in: sample j of a call depends on (seed, j) only, like the llama backend."""

    name = "fake"

    def __init__(self, problem_set, delay: float = 0.0):
        self.solutions = {p.task_id: p.canonical_solution for p in problem_set}
        self.delay = delay
        self.calls: list[tuple[str, int, int]] = []
        self.samples = 0
        self.finished_at: list[float] = []
        self.closed = False

    def generate(self, prompt, params, task_id=None):
        self.calls.append((task_id, params.seed, params.n))
        for index in range(params.n):
            time.sleep(self.delay)
            text = self.solutions[task_id] if _ok(params.seed, index) else "    return None\n"
            yield TextDelta(index, text[:5])
            yield TextDelta(index, text[5:])
            self.finished_at.append(time.monotonic())
            self.samples += 1
            yield SampleFinished(index, text, "stop", 4, -2.0 - params.seed % 7, -0.5, self.delay)

    def describe(self):
        return {"kind": "fake", "model_path": "/models/fake.gguf", "sha256": "ab" * 32}

    def close(self):
        self.closed = True


def _config(n=3, seed=123, tasks=TASKS, **kw):
    return RunConfig(backend="fake", task_ids=list(tasks), params=SamplingParams(n=n, temperature=0.8, seed=seed), ks=[1, 2] if n >= 2 else [1], **kw)


def _snapshot(store, run_id):
    return [(s.task_id, s.index, s.completion, s.seed, s.status) for s in store.samples(run_id)]


def test_events_store_and_pass_at_k(tmp_path, problem_set):
    events = []
    backend = SeededBackend(problem_set)
    executor = FakeExecutor()
    with Store(tmp_path / "runs.db") as store:
        finished = Pipeline(_config(), store=store, backend=backend, executor=executor, problem_set=problem_set, on_event=events.append).run()
        assert finished.status == FINISHED
        assert isinstance(events[0], RunStarted) and events[0].n == 3 and events[0].already_done == 0
        assert isinstance(events[-1], RunFinished) and events[-1] is finished
        kinds = {type(e) for e in events}
        assert {ProblemStarted, SampleDelta, SampleGenerated, SampleJudged, Progress} <= kinds
        generated = [e for e in events if isinstance(e, SampleGenerated)]
        judged = [e for e in events if isinstance(e, SampleJudged)]
        assert len(generated) == len(judged) == 12
        # deltas of a sample concatenate to its completion
        for g in generated:
            text = "".join(e.text for e in events if isinstance(e, SampleDelta) and (e.task_id, e.index) == (g.task_id, g.index))
            assert text == g.completion
        # the store has everything, with derived per-sample seeds
        samples = store.samples(finished.run_id)
        assert len(samples) == 12 and all(s.judged for s in samples)
        for s in samples:
            assert s.seed == derive_seed(123, s.task_id, 0)  # one chunk per problem (n <= 16)
            assert s.passed == _ok(s.seed, s.index)
        totals = store.totals(finished.run_id)
        from pycodex.metrics import estimate_pass_at_k

        assert finished.pass_at_k == estimate_pass_at_k(totals, [1, 2])
        assert finished.totals["generated"] == 12 and finished.totals["generated_tokens"] == 48
        assert finished.totals["passed"] == sum(s.passed for s in samples)
        record = store.get_run(finished.run_id)
        assert record.effective_status == FINISHED
        assert record.model == "/models/fake.gguf" and record.model_sha256 == "ab" * 32
        assert record.config["params"]["seed"] == 123 and record.versions["pycodex"]
    # the pipeline closes what it did not create? no: caller-owned backend/executor stay open
    assert not backend.closed and not executor.closed


def test_execution_overlaps_generation(tmp_path, problem_set):
    backend = SeededBackend(problem_set, delay=0.05)
    executor = FakeExecutor(delay=0.0)
    with Store(tmp_path / "runs.db") as store:
        finished = Pipeline(_config(n=2), store=store, backend=backend, executor=executor, problem_set=problem_set).run()
    # wall-clock generation time is recorded (8 samples x 0.05 s, one after the other)
    assert 0.4 <= finished.totals["generation_seconds"] <= finished.totals["wall_seconds"]
    # the first verdict was being computed long before the last sample was generated
    assert min(executor.started) < max(backend.finished_at) - 0.2


def test_progress_is_rate_limited(tmp_path, problem_set):
    events = []
    with Store(tmp_path / "runs.db") as store:
        started = time.monotonic()
        Pipeline(_config(n=5, tasks=problem_set.task_ids[:40]), store=store, backend=SeededBackend(problem_set), executor=FakeExecutor(), problem_set=problem_set, on_event=events.append).run()
        elapsed = time.monotonic() - started
    progress = [e for e in events if isinstance(e, Progress)]
    assert 1 <= len(progress) <= elapsed / 0.2 + 3
    assert progress[-1].generated == 200 and progress[-1].executed == 200


def test_seed_is_random_but_stored_when_not_given(tmp_path, problem_set):
    with Store(tmp_path / "runs.db") as store:
        finished = Pipeline(_config(seed=None, tasks=TASKS[:1]), store=store, backend=SeededBackend(problem_set), executor=FakeExecutor(), problem_set=problem_set).run()
        seed = store.get_run(finished.run_id).config["params"]["seed"]
        assert isinstance(seed, int)
        assert {s.seed for s in store.samples(finished.run_id)} == {derive_seed(seed, TASKS[0], 0)}


@pytest.mark.parametrize("chunk", [1, 3, 16])
def test_cancel_then_resume_equals_uninterrupted(tmp_path, problem_set, chunk):
    with Store(tmp_path / "runs.db") as store:
        reference = Pipeline(_config(n=4, chunk_size=chunk), store=store, backend=SeededBackend(problem_set), executor=FakeExecutor(), problem_set=problem_set).run()

        backend = SeededBackend(problem_set, delay=0.02)
        holder = {}

        def on_event(event):
            if isinstance(event, SampleGenerated) and backend.samples >= 7:
                holder["pipeline"].cancel()

        pipeline = Pipeline(_config(n=4, chunk_size=chunk), store=store, backend=backend, executor=FakeExecutor(), problem_set=problem_set, on_event=on_event)
        holder["pipeline"] = pipeline
        started = time.monotonic()
        cancelled = pipeline.run()
        assert time.monotonic() - started < 5
        assert cancelled.status == CANCELLED
        assert store.get_run(cancelled.run_id).effective_status == CANCELLED
        partial = store.samples(cancelled.run_id)
        assert 0 < len(partial) < 16
        assert backend.samples - len(partial) <= 1  # at most the one in flight was lost

        backend2 = SeededBackend(problem_set)
        events = []
        resumed = Pipeline(None, store=store, backend=backend2, executor=FakeExecutor(), problem_set=problem_set, run_id=cancelled.run_id[:5], on_event=events.append).run()
        assert resumed.status == FINISHED and resumed.run_id == cancelled.run_id
        assert events[0].already_done == len(partial)
        assert resumed.totals["generated_this_session"] == 16 - len(partial)
        # the backend was asked for the missing samples; with chunks, at most the stored siblings
        # of one half-done chunk are drawn again (and discarded)
        assert 16 - len(partial) <= backend2.samples <= 16 - len(partial) + chunk - 1
        if chunk == 1:
            assert backend2.samples == 16 - len(partial)
        # stored samples untouched, the rest identical to the uninterrupted run
        after = {(s.task_id, s.index): s for s in store.samples(resumed.run_id)}
        for s in partial:
            assert after[(s.task_id, s.index)].created_at == s.created_at and after[(s.task_id, s.index)].session == 1
        assert _snapshot(store, resumed.run_id) == _snapshot(store, reference.run_id)
        assert resumed.pass_at_k == reference.pass_at_k
        assert {s.session for s in store.samples(resumed.run_id)} == {1, 2}
        assert store.get_run(resumed.run_id).sessions == 2


def test_resume_judges_stored_but_unjudged_samples(tmp_path, problem_set):
    with Store(tmp_path / "runs.db") as store:
        config = _config(n=2, tasks=TASKS[:2])
        rid = store.create_run(config=config.to_dict(), backend="fake", task_ids=config.task_ids, n=2, seed=123)
        for t in config.task_ids:
            for i in range(2):
                store.add_sample(rid, t, i, completion=problem_set.get(t).canonical_solution, seed=derive_seed(123, t, 0))
        store.add_result(rid, TASKS[0], 0, status="passed", passed=True)
        store.finish_run(rid, CANCELLED)
        backend, executor = SeededBackend(problem_set), FakeExecutor()
        finished = Pipeline(None, store=store, backend=backend, executor=executor, problem_set=problem_set, run_id=rid).run()
        assert backend.calls == []  # nothing to generate
        assert executor.jobs == 3  # only the three unjudged samples
        assert finished.pass_at_k[1] == 1.0 and finished.totals["executed"] == 4


def test_generate_false_only_executes(tmp_path, problem_set):
    with Store(tmp_path / "runs.db") as store:
        config = _config(n=2, tasks=TASKS[:1])
        rid = store.create_run(config=config.to_dict(), backend="fake", task_ids=config.task_ids, n=2)
        store.add_sample(rid, TASKS[0], 0, completion="    return None\n")
        store.finish_run(rid, CANCELLED)
        backend = SeededBackend(problem_set)
        finished = Pipeline(None, store=store, backend=backend, executor=FakeExecutor(), problem_set=problem_set, run_id=rid, generate=False).run()
        assert backend.calls == [] and finished.totals["executed"] == 1 and finished.totals["generated"] == 1


def test_k_larger_than_n_is_a_user_error(tmp_path, problem_set):
    config = _config(n=2)
    config.ks = [1, 10]
    with Store(tmp_path / "runs.db") as store:
        with pytest.raises(UserError, match="k=10"):
            Pipeline(config, store=store, backend=SeededBackend(problem_set), executor=FakeExecutor(), problem_set=problem_set).run()
        assert store.list_runs() == []  # nothing half-created


def test_backend_failure_marks_run_failed(tmp_path, problem_set):
    class Broken(SeededBackend):
        def generate(self, prompt, params, task_id=None):
            if task_id == TASKS[1]:
                raise RuntimeError("model exploded")
            return super().generate(prompt, params, task_id)

    events = []
    with Store(tmp_path / "runs.db") as store:
        with pytest.raises(RuntimeError, match="exploded"):
            Pipeline(_config(n=1), store=store, backend=Broken(problem_set), executor=FakeExecutor(), problem_set=problem_set, on_event=events.append).run()
        run = store.list_runs()[0]
        assert run.effective_status == "failed" and "exploded" in run.error
        assert run.generated == 1  # what was done before the failure is kept
        assert isinstance(events[-1], RunFinished) and events[-1].status == "failed"


def test_cancel_from_another_thread_returns_promptly(tmp_path, problem_set):
    backend = SeededBackend(problem_set, delay=0.05)
    with Store(tmp_path / "runs.db") as store:
        pipeline = Pipeline(_config(n=10), store=store, backend=backend, executor=FakeExecutor(delay=0.05), problem_set=problem_set)
        threading.Timer(0.3, pipeline.cancel).start()
        started = time.monotonic()
        finished = pipeline.run()
        assert time.monotonic() - started < 3
        assert finished.status == CANCELLED
        assert 0 < finished.totals["generated"] < 40


def test_real_executor_canonical_backend(tmp_path, problem_set):
    """The real sandboxed executor and the canonical replay backend, end to end."""
    with Store(tmp_path / "runs.db") as store:
        config = RunConfig(backend="canonical", task_ids=problem_set.task_ids[:6], params=SamplingParams(n=2, temperature=0.2, seed=1), ks=[1, 2], workers=2)
        finished = Pipeline(config, store=store, problem_set=problem_set).run()
        verdicts = [(s.task_id, s.index, s.status, s.detail) for s in store.samples(finished.run_id)]
        assert finished.status == FINISHED and finished.pass_at_k == {1: 1.0, 2: 1.0}, verdicts
        assert all(v[2] == "passed" for v in verdicts)


def test_resume_refuses_a_different_model(tmp_path, problem_set):
    class Other(SeededBackend):
        def describe(self):
            return {"kind": "fake", "model_path": "/models/other.gguf", "sha256": "cd" * 32}

    with Store(tmp_path / "runs.db") as store:
        backend = SeededBackend(problem_set, delay=0.01)
        pipeline = Pipeline(_config(n=2), store=store, backend=backend, executor=FakeExecutor(), problem_set=problem_set)
        threading.Timer(0.03, pipeline.cancel).start()
        run_id = pipeline.run().run_id
        before = len(store.samples(run_id))
        with pytest.raises(UserError, match="different model"):
            Pipeline(None, store=store, backend=Other(problem_set), executor=FakeExecutor(), problem_set=problem_set, run_id=run_id).run()
        record = store.get_run(run_id)
        assert len(store.samples(run_id)) == before and record.sessions == 1 and record.effective_status == CANCELLED


class BatchingBackend(SeededBackend):
    """A batching model stand-in with generate_many: up to `slots` samples in flight across requests
    (so problems interleave), finished out of order; requests are pulled only when a slot is free.
    Sample j of a request depends on (its seed, j) only, as with SeededBackend; a request may name
    the sample indices to draw (key, prompt, params, indices), as the llama backend's may."""

    def __init__(self, problem_set, slots: int = 5, delay: float = 0.0):
        super().__init__(problem_set, delay)
        self.slots = slots
        self.streams = 0
        self.pulled: list[tuple] = []  # request keys in the order they were pulled
        self.pulled_before_finish: list[int] = []  # how many requests were pulled at each finish

    def generate_many(self, requests, keep_token_ids=False):
        self.streams += 1
        requests = iter(requests)
        live: list[tuple] = []  # (key, task_id, seed, index)
        current = None  # [key, task_id, seed, indices to draw, next position]
        exhausted = False
        while True:
            while len(live) < self.slots:
                if current is None:
                    if exhausted:
                        break
                    try:
                        key, _prompt, params, *indices = next(requests)
                    except StopIteration:
                        exhausted = True
                        break
                    self.pulled.append(key)
                    current = [key, key[0], params.seed, sorted(indices[0]) if indices else list(range(params.n)), 0]
                live.append((current[0], current[1], current[2], current[3][current[4]]))
                current[4] += 1
                if current[4] == len(current[3]):
                    current = None
            if not live:
                return
            # finish the live sample that a hash picks: out of order, problems interleaved
            pick = max(live, key=lambda s: ((s[2] * 31 + s[3] * 17) % 11, -s[3]))
            live.remove(pick)
            key, task_id, seed, index = pick
            time.sleep(self.delay)
            text = self.solutions[task_id] if _ok(seed, index) else "    return None\n"
            yield key, TextDelta(index, text[:5])
            yield key, TextDelta(index, text[5:])
            self.finished_at.append(time.monotonic())
            self.samples += 1
            self.pulled_before_finish.append(len(self.pulled))
            yield key, SampleFinished(index, text, "stop", 4, -2.0 - seed % 7, -0.5, self.delay)


@pytest.mark.parametrize("chunk", [1, 3, 16])
def test_a_batching_backend_gets_one_stream_and_the_run_equals_chunk_by_chunk(tmp_path, problem_set, chunk):
    with Store(tmp_path / "runs.db") as store:
        reference = Pipeline(_config(n=4, chunk_size=chunk), store=store, backend=SeededBackend(problem_set), executor=FakeExecutor(), problem_set=problem_set).run()
        backend = BatchingBackend(problem_set)
        events = []
        finished = Pipeline(_config(n=4, chunk_size=chunk), store=store, backend=backend, executor=FakeExecutor(), problem_set=problem_set, on_event=events.append).run()
        assert finished.status == FINISHED
        assert backend.streams == 1 and backend.calls == []  # generate_many, never generate
        assert _snapshot(store, finished.run_id) == _snapshot(store, reference.run_id)
        assert finished.pass_at_k == reference.pass_at_k
        assert finished.totals["generated"] == 16 and finished.totals["executed"] == 16
        # the requests: every (task, chunk) in problem order, pulled lazily (never all up front)
        chunks = (4 + chunk - 1) // chunk
        assert backend.pulled == [(t, c) for t in TASKS for c in range(chunks)]
        assert backend.pulled_before_finish[0] < len(backend.pulled)
        # samples were stored as they finished: out of order, problems interleaved
        generated = [(e.task_id, e.index) for e in events if isinstance(e, SampleGenerated)]
        assert sorted(generated) == sorted({(t, i) for t in TASKS for i in range(4)}) and generated != sorted(generated)
        tasks_in_order = [t for t, _ in generated]
        assert any(TASKS.index(a) > TASKS.index(b) for a, b in zip(tasks_in_order, tasks_in_order[1:]))
        # one ProblemStarted per problem, in problem order, each before that problem's samples
        started = [e.task_id for e in events if isinstance(e, ProblemStarted)]
        assert started == TASKS
        for task in TASKS:
            first_started = next(i for i, e in enumerate(events) if isinstance(e, ProblemStarted) and e.task_id == task)
            first_sample = next(i for i, e in enumerate(events) if isinstance(e, SampleGenerated) and e.task_id == task)
            assert first_started < first_sample


def test_a_batching_backend_generation_time_is_recorded(tmp_path, problem_set):
    with Store(tmp_path / "runs.db") as store:
        finished = Pipeline(_config(n=2), store=store, backend=BatchingBackend(problem_set, delay=0.05), executor=FakeExecutor(), problem_set=problem_set).run()
    assert 0.4 <= finished.totals["generation_seconds"] <= finished.totals["wall_seconds"]


@pytest.mark.parametrize("chunk", [1, 3, 16])
def test_batching_cancel_then_resume_equals_uninterrupted(tmp_path, problem_set, chunk):
    with Store(tmp_path / "runs.db") as store:
        reference = Pipeline(_config(n=4, chunk_size=chunk), store=store, backend=SeededBackend(problem_set), executor=FakeExecutor(), problem_set=problem_set).run()

        backend = BatchingBackend(problem_set, delay=0.02)
        holder = {}

        def on_event(event):
            if isinstance(event, SampleGenerated) and backend.samples >= 7:
                holder["pipeline"].cancel()

        pipeline = Pipeline(_config(n=4, chunk_size=chunk), store=store, backend=backend, executor=FakeExecutor(), problem_set=problem_set, on_event=on_event)
        holder["pipeline"] = pipeline
        cancelled = pipeline.run()
        assert cancelled.status == CANCELLED
        partial = store.samples(cancelled.run_id)
        assert 0 < len(partial) < 16

        backend2 = BatchingBackend(problem_set)
        resumed = Pipeline(None, store=store, backend=backend2, executor=FakeExecutor(), problem_set=problem_set, run_id=cancelled.run_id, on_event=None).run()
        assert resumed.status == FINISHED and backend2.streams == 1
        assert resumed.totals["generated_this_session"] == 16 - len(partial)
        assert backend2.samples == 16 - len(partial)  # only the missing samples were drawn, none twice
        # only chunks holding a missing sample are asked again
        assert all(any((t, i) not in {(s.task_id, s.index) for s in partial} for i in range(c * chunk, min(4, (c + 1) * chunk))) for t, c in backend2.pulled)
        after = {(s.task_id, s.index): s for s in store.samples(resumed.run_id)}
        for s in partial:
            assert after[(s.task_id, s.index)].created_at == s.created_at and after[(s.task_id, s.index)].session == 1
        assert _snapshot(store, resumed.run_id) == _snapshot(store, reference.run_id)
        assert resumed.pass_at_k == reference.pass_at_k


def test_replay_backends_with_generate_many_keep_the_chunk_path(tmp_path, problem_set):
    class Replaying(BatchingBackend):
        name = "canonical"

    backend = Replaying(problem_set)
    with Store(tmp_path / "runs.db") as store:
        finished = Pipeline(_config(n=2), store=store, backend=backend, executor=FakeExecutor(), problem_set=problem_set).run()
    assert finished.status == FINISHED and backend.streams == 0 and len(backend.calls) == len(TASKS)
