"""The eval pipeline: generate samples, execute them, store everything, emit events.

The CLI (`pycodex eval`, `pycodex sweep`) and the TUI both drive this one class:

    request = RunRequest(BackendSpec.parse("default"), ("HumanEval/0",), SamplingParams(n=10, temperature=0.8))
    config = make_config(request, problem_set)   # (runs/config.py: the one place a RunConfig is made)
    with Store(db) as store:
        finished = Pipeline(config, store=store, on_event=handler).run()   # blocking
    # from another thread: pipeline.cancel()

Generation runs on the caller's thread; every finished sample is stored, then handed to the executor
at once (non-blocking submit), and its verdict is stored from the executor's completion callback, so
execution overlaps generation and never holds it up.

Batching: a backend with generate_many (the llama backend) gets the whole run as one stream of
(task, chunk) requests, pulled lazily in problem order, so a slot freed by a finished sample is
refilled at once, from the same problem or the next; each sample is stored and executed as soon
as it finishes, whatever its problem. Other backends are called chunk by chunk (generate()).

Determinism: model backends are asked for a problem's samples in chunks (chunk_size, default 16,
so the backend can batch them); chunk c of a task uses the seed derive_seed(run seed, task id, c)
and the backend draws sample j of a call from (seed, j) alone, so a resumed run reproduces an
uninterrupted one exactly on llama.cpp's CPU kernels. A resume asks a half-done chunk again for its
missing samples: the llama backend's generate_many draws only those (its decoding is
batch-invariant on the CPU, so they come out as they would have in the uninterrupted run; with
GPU offload they are fresh draws, and RunStarted.fresh_draws says so); a backend called with
generate() may recompute stored siblings, which are discarded, never stored or executed twice.
Replay backends (canonical, samples) are deterministic by index and are asked for the first
max-missing-index+1 answers, of which only the missing ones are kept.

Resume: Pipeline(None, store=store, run_id=RUN).run() loads the stored config, executes stored but
unjudged samples, and generates only the samples not yet stored. Nothing stored is redone.

Modules: config.py (RunConfig, seeds), recording.py (the RunRecorder: store writes, counters and
events), steps.py (the GenerationSteps, handed the recorder); this one prepares a run (resolve,
open the backend, open the run), generates through the steps, executes and finishes it.
"""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from pycodex.errors import UserError
from pycodex.runs.events import EventHandler, RunFinished, RunStarted
from pycodex.metrics import estimate_pass_at_k, supported_ks
from pycodex.store import database as store_mod
from pycodex.runs.request import DEFAULT_KS
from pycodex.generation import registry
from pycodex.runs.config import RunConfig, check_problem_set_version
from pycodex.runs.config import derive_seed as derive_seed  # (the pipeline's API: a run's seeds)
from pycodex.runs.recording import RunRecorder
from pycodex.runs.steps import GenerationSteps


class Pipeline:
    def __init__(
        self,
        config: RunConfig | None,
        *,
        store: store_mod.Store,
        backend=None,
        problem_set=None,
        executor=None,
        on_event: EventHandler | None = None,
        run_id: str | None = None,
        generate: bool = True,
    ):
        """generate=False only executes stored, unjudged samples (`runs evaluate`, imported runs)."""
        if config is None and run_id is None:
            raise ValueError("Pipeline needs a config or a run_id to resume")
        self.store = store
        self._given_config = config
        self.config: RunConfig | None = config
        self._backend = backend
        self._own_backend = backend is None
        self._problem_set = problem_set
        self._executor = executor
        self._own_executor = executor is None
        self._resume_id = store.resolve(run_id) if run_id else None
        self.generate = generate
        self.recorder = RunRecorder(store, on_event, self._resume_id)  # the run's store writes, counters, events

        self._cancel = threading.Event()
        self._lock = threading.Lock()  # the pending set and the execution errors
        self._idle = threading.Condition(self._lock)
        self._pending: set[Future] = set()
        self.recorder.judging = lambda: bool(self._pending)
        self._generated_keys: set[tuple[str, int]] = set()
        self._owns_run = False  # set once this pipeline created or took over the run
        self.execution_errors: list[str] = []

    @property
    def run_id(self) -> str | None:
        return self.recorder.run_id

    @property
    def on_event(self) -> EventHandler | None:
        return self.recorder.on_event

    @on_event.setter
    def on_event(self, handler: EventHandler | None) -> None:
        self.recorder.on_event = handler

    @property
    def _rid(self) -> str:
        return self.recorder.rid

    # -- public ---------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop as soon as possible (thread-safe). run() returns with status `cancelled`."""
        self._cancel.set()
        with self._idle:
            self._idle.notify_all()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> RunFinished:
        started = time.monotonic()
        status: store_mod.RunStatus = store_mod.FAILED
        error: str | None = None
        try:
            problems, config = self._prepare()
            self._execute_stored_unjudged(problems)
            if self.generate:
                steps = GenerationSteps(self._backend, self.recorder, cancel=self._cancel, generated_keys=self._generated_keys, submit=self._submit)
                steps.run(problems, config)
            self._wait_for_execution()
            if self._cancel.is_set():
                status = store_mod.CANCELLED
            elif self.execution_errors:
                status = store_mod.FAILED
                error = f"{len(self.execution_errors)} sample(s) could not be executed: {self.execution_errors[0]}"
            else:
                status = store_mod.FINISHED
        except KeyboardInterrupt:
            self._cancel.set()
            status = store_mod.CANCELLED
            raise
        except UserError as exc:
            error = str(exc)
            raise
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._shutdown(cancelled=self._cancel.is_set() or status != store_mod.FINISHED)
            if self.run_id is not None and self._owns_run:
                try:
                    self.store.finish_run(self.run_id, status, error)
                except Exception:
                    pass
            finished = self._finished_event(status, time.monotonic() - started, error)
            self.recorder.emit(finished)
            self.recorder.closed = True
        return finished

    # -- setup ----------------------------------------------------------------------------

    def _prepare(self):
        """Resolve the run's settings, open its backend, open (create or resume) the stored run."""
        problems, config = self._resolve()
        info = self._open_backend(config)
        self._open_run(problems, config, info)
        return problems, config

    def _resolve(self):
        """The run's config (a resume's from the store, with the given runtime settings) and its problems."""
        from pycodex.problems.sets import load, prepare

        if self._resume_id:
            config = RunConfig.from_dict(self.store.get_run(self._resume_id).config)
            if self._given_config is not None:
                config = config.with_runtime_of(self._given_config)
            self.config = config
        else:
            assert self.config is not None
            config = self.config
        config.params.validate()
        if self._problem_set is None:
            self._problem_set = load(config.problems_file, None if config.problems_file else config.problem_set)
        problem_set = self._problem_set
        check_problem_set_version(config, problem_set, resuming=bool(self._resume_id))
        if not config.task_ids:
            config.task_ids = problem_set.task_ids
        problems = [problem_set.get(t) for t in config.task_ids]
        prepare(problems, config.workers)  # (EvalPlus sets: their CPU times measured once, before any sample)
        config.task_ids = [p.task_id for p in problems]
        too_big = [k for k in config.ks if k > config.params.n]
        if too_big:
            raise UserError(f"k={too_big[0]} needs at least {too_big[0]} samples per problem, but --n is {config.params.n}")
        if config.params.seed is None:
            config.params = replace(config.params, seed=secrets.randbelow(2**31))
        return problems, config

    def _open_backend(self, config: RunConfig) -> dict:
        """The backend (given, or made by its registered kind) and what it says of itself."""
        kind = registry.find_kind(config.backend)
        if kind is not None and not kind.generates:
            self.generate = False
        if self._backend is None and not self.generate:
            self._backend = _NoBackend(config.backend)
        if self._backend is None:
            from pycodex.generation import factory

            self._backend = factory.create_backend(config.backend, problem_set=self._problem_set, **registry.options_dict(config.options))
        try:
            return dict(self._backend.describe() or {})
        except Exception as exc:  # describe must not stop a run
            return {"kind": getattr(self._backend, "name", config.backend), "describe_error": str(exc)}

    def _open_run(self, problems, config: RunConfig, info: dict) -> None:
        """Create the stored run (or take a resumed one over), the executor, the counters; RunStarted."""
        store = self.store
        fresh_draws = False
        if self._resume_id:
            self._check_same_model(config, info)
            self.recorder.session = store.begin_session(self._resume_id)
            fresh_draws = store.note_gpu_offload(self._resume_id, bool(info.get("gpu_offload"))) is not False
            if not store.get_run(self._resume_id).backend_info:
                store.set_backend_info(self._resume_id, info)
        else:
            self.recorder.run_id = store.create_run(
                config=config.to_dict(),
                backend=config.backend,
                task_ids=config.task_ids,
                n=config.params.n,
                temperature=config.params.temperature,
                seed=config.params.seed,
                name=config.name,
                model=info.get("model_path") or info.get("model") or config.model,
                model_sha256=info.get("sha256") or info.get("model_sha256"),
                backend_info=info,
            )
        self._owns_run = True

        if self._executor is None:
            from pycodex.execution import Executor

            self._executor = Executor(workers=config.workers, timeout=config.timeout, memory_limit_mb=config.memory_limit_mb,
                                      judge=config.judge)

        generated, _judged = store.done_keys(self._rid)
        self._generated_keys.update(generated)
        self.recorder.start(self._rid, self.recorder.session, len(problems) * config.params.n)
        self.recorder.emit(
            RunStarted(
                run_id=self._rid,
                task_ids=list(config.task_ids),
                n=config.params.n,
                config=config.to_dict(),
                already_done=len(generated),
                fresh_draws=fresh_draws,
            )
        )

    def _check_same_model(self, config: RunConfig, info: dict) -> None:
        """A resume refuses another model: by its sha256, or by its name where a backend (a server) gives no sha256."""
        record = self.store.get_run(self._rid)
        stored_sha, stored_model = record.model_sha256, record.model
        new_sha = info.get("sha256") or info.get("model_sha256")
        if stored_sha and new_sha and stored_sha != new_sha:
            raise UserError(
                f"run {self._rid} was generated with a different model (sha256 {stored_sha[:12]}…, now {new_sha[:12]}…): "
                "resuming would mix two models; start a new run"
            )
        if not new_sha and stored_model and info.get("model") and _model_name(stored_model) != _model_name(info["model"]):
            raise UserError(
                f"run {self._rid} was generated with model {stored_model!r}, but the {config.backend} backend now serves {info['model']!r}: "
                "resuming would mix two models; start a new run"
            )

    # -- execution ------------------------------------------------------------------------

    def _submit(self, problem, index: int, completion: str) -> None:
        from pycodex.execution.judging import submit_judged

        future = submit_judged(self._executor, problem, completion)
        with self._lock:
            self._pending.add(future)
        task_id = problem.task_id
        future.add_done_callback(lambda f: self._on_judged(f, task_id, index))

    def _on_judged(self, future: Future, task_id: str, index: int) -> None:
        try:
            if future.cancelled():
                return
            try:
                verdict = future.result()
            except Exception as exc:  # the executor itself failed: leave the sample unjudged (a resume retries)
                with self._lock:
                    self.execution_errors.append(f"{task_id}#{index}: {type(exc).__name__}: {exc}")
                return
            try:
                self.recorder.verdict(task_id, index, verdict)
            except Exception as exc:
                with self._lock:
                    self.execution_errors.append(f"{task_id}#{index}: storing the verdict failed: {exc}")
                return
        finally:
            with self._idle:
                self._pending.discard(future)
                self._idle.notify_all()

    def _execute_stored_unjudged(self, problems) -> None:
        wanted = {p.task_id: p for p in problems}
        for sample in self.store.samples(self._rid):
            if self._cancel.is_set():
                return
            if sample.judged or sample.task_id not in wanted:
                continue
            self._submit(wanted[sample.task_id], sample.index, sample.completion)

    def _wait_for_execution(self) -> None:
        with self._idle:
            while self._pending and not self._cancel.is_set():
                self._idle.wait(0.25)
        self.recorder.maybe_progress(force=True)

    def _shutdown(self, cancelled: bool) -> None:
        if cancelled:
            with self._lock:
                pending = list(self._pending)
            for f in pending:
                f.cancel()
            # Give verdicts already running a moment to land, then leave them (a resume judges them).
            deadline = time.monotonic() + 1.0
            with self._idle:
                while self._pending and time.monotonic() < deadline:
                    self._idle.wait(0.05)
        if self._own_executor and self._executor is not None:
            executor, self._executor = self._executor, None
            if cancelled:
                threading.Thread(target=_quiet_close, args=(executor,), daemon=True).start()
            else:
                _quiet_close(executor)
        if self._own_backend and self._backend is not None:
            backend, self._backend = self._backend, None
            _quiet_close(backend)

    # -- the end ------------------------------------------------------------------------

    def _finished_event(self, status: store_mod.RunStatus, wall: float, error: str | None) -> RunFinished:
        recorder = self.recorder
        if self.run_id is None:
            return RunFinished(run_id="", status=status, pass_at_k={}, totals={"error": error})
        try:
            stats = self.store.generation_stats(self.run_id)
            totals_by_task = self.store.totals(self.run_id)
        except Exception:
            stats, totals_by_task = {}, {}
        ks = list(self.config.ks) if self.config else list(DEFAULT_KS)
        pass_at_k = estimate_pass_at_k(totals_by_task, ks) if totals_by_task else {}
        totals: dict[str, Any] = {
            "samples": recorder.total,
            "problems": len(self.config.task_ids) if self.config else 0,
            "n": self.config.params.n if self.config else 0,
            "seed": self.config.params.seed if self.config else None,
            "generated": stats.get("generated", recorder.generated),
            "executed": stats.get("executed", recorder.executed),
            "passed": stats.get("passed", recorder.passed),
            "generated_tokens": stats.get("generated_tokens", 0),
            "generation_seconds": round(stats.get("generation_seconds", 0.0), 4),
            "execution_seconds": round(stats.get("execution_seconds", 0.0), 4),
            "session": recorder.session,
            "generated_this_session": recorder.session_generated,
            "executed_this_session": recorder.session_executed,
            "tokens_this_session": recorder.session_tokens,
            "wall_seconds": round(wall, 4),
            "complete_problems": sum(1 for n, _ in totals_by_task.values() if self.config and n >= self.config.params.n),
            "supported_ks": supported_ks((n for n, _ in totals_by_task.values()), ks),
        }
        if error:
            totals["error"] = error
        return RunFinished(run_id=self.run_id, status=status, pass_at_k=pass_at_k, totals=totals)


class _NoBackend:
    """Stands in when nothing is generated (execute-only)."""

    def __init__(self, name: str):
        self.name = name

    def generate(self, prompt, params, task_id=None):
        raise RuntimeError("this run generates nothing")

    def describe(self) -> dict:
        return {"kind": self.name}

    def close(self) -> None:
        pass


def _model_name(model: str) -> str:
    """A server's model id without the folder (llama-server names a model by its file's path)."""
    return model.replace("\\", "/").rsplit("/", 1)[-1]


def _quiet_close(obj) -> None:
    try:
        obj.close()
    except Exception:
        pass
