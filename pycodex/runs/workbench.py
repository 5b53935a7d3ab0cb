"""The workbench: what an interactive front end works with, in plain Python (no textual).

It holds the chosen model (a backend's string form), the backend made for it (one at a time,
created on first use, closed when the model changes), the run store, the problem set and the
runs in progress, and makes a run's Pipeline exactly as `pycodex eval` does (RunRequest ->
make_config). The TUI's App makes one and hands it down to its screens and run sessions; the
workbench tells of a backend's loading through `on_backend(label, state, error)` (the App turns
that into a message). Blocking methods (acquire_backend, make_pipeline) run on worker threads.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Callable

from pycodex.generation.spec import BackendSpec


class BackendState(StrEnum):
    """Where the workbench's backend is: none asked yet, loading (seconds), ready, or it failed."""

    IDLE = "idle"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


BackendListener = Callable[[str, BackendState, "str | None"], None]  # (label, state, error)


def problems_file_of(problem_set) -> str | None:
    """The problems file a run of this set records: None for a named set or the bundled HumanEval."""
    from pycodex import locations

    source = getattr(problem_set, "source", None)
    if getattr(problem_set, "name", None) is not None:
        return None  # a named set (humaneval, humaneval-plus, chains): the run records its name and version
    if source is None or Path(source).resolve() == locations.problems_file().resolve():
        return None  # the bundled HumanEval, as the CLI records it
    return str(source)


class Workbench:
    def __init__(
        self,
        *,
        db_path: Path,
        model: str,
        problem_set: Any = None,
        problem_set_name: str | None = None,
        executor_options: dict | None = None,
        create_backend: Callable[[str], Any] | None = None,
        on_backend: BackendListener | None = None,
        n_gpu_layers: int = 0,
    ) -> None:
        self.db_path = Path(db_path)
        self.model = model
        self.n_gpu_layers = n_gpu_layers  # a llama model's --n-gpu-layers (-1: every layer on the GPU)
        self._problem_set = problem_set
        self._problem_set_name = problem_set_name  # the set to load on first use (a stale name: HumanEval)
        self.executor_options = dict(executor_options or {})
        self._create = create_backend or (lambda model: self.spec_of(model).create(problem_set=self.problem_set))
        self.on_backend = on_backend
        self.backend: Any = None  # the backend made for backend_model
        self.backend_model: tuple[str, int] | None = None  # (model, n_gpu_layers) of the backend
        self.backend_state = BackendState.IDLE
        self._backend_lock = threading.Lock()
        self._store: Any = None
        self._store_lock = threading.Lock()
        self.sessions: set = set()  # runs whose thread may still use the backend (each has .finished, .cancel())

    @property
    def problem_set(self):
        if self._problem_set is None:
            from pycodex.problems.sets import DEFAULT, load_named

            try:
                self._problem_set = load_named(self._problem_set_name or DEFAULT)
            except Exception:  # a stale setting: the bundled HumanEval
                self._problem_set = load_named(DEFAULT)
        return self._problem_set

    def switch_problem_set(self, name: str):
        """The named set, now the one browsed and run (UserError when there is none)."""
        from pycodex.problems.sets import load_named

        self._problem_set = load_named(name)
        return self._problem_set

    @property
    def model_label(self) -> str:
        return BackendSpec.parse(self.model).label

    # -- the backend ---------------------------------------------------------------------
    def spec_of(self, model: str) -> BackendSpec:
        """The backend a model string names, with this workbench's GPU offload where it is a llama model."""
        spec = BackendSpec.parse(model)
        if spec.kind != "llama":
            return spec
        return BackendSpec(spec.kind, replace(spec.options, n_gpu_layers=self.n_gpu_layers))

    def _tell(self, label: str, state: BackendState, error: str | None = None) -> None:
        self.backend_state = state
        if self.on_backend is not None:
            self.on_backend(label, state, error)

    def acquire_backend(self):
        """The current model's backend, created on first use (seconds: worker threads only)."""
        with self._backend_lock:
            model = self.model
            if self.backend is not None and self.backend_model == (model, self.n_gpu_layers):
                return self.backend
            old, self.backend, self.backend_model = self.backend, None, None
            if old is not None:
                _quiet_close(old)
            label = BackendSpec.parse(model).label
            self._tell(label, BackendState.LOADING)
            try:
                backend = self._create(model)
            except Exception as exc:
                self._tell(label, BackendState.FAILED, str(exc))
                raise
            self.backend, self.backend_model = backend, (model, self.n_gpu_layers)
            self._tell(label, BackendState.READY)
            return backend

    # -- the store and runs --------------------------------------------------------------
    @property
    def store(self):
        """The run store, opened on first use and kept (the Store is thread-safe)."""
        from pycodex.store.database import Store

        with self._store_lock:
            if self._store is None or getattr(self._store, "closed", False):
                self._store = Store(self.db_path)
            return self._store

    def running_sessions(self) -> list:
        self.sessions = {s for s in self.sessions if not s.finished.is_set()}
        return list(self.sessions)

    def make_pipeline(self, task_ids: list[str], params, *, backend, on_event, ks=None, run_id=None):
        """The Pipeline `pycodex eval` makes for this request (a resume when run_id is given)."""
        from pycodex.runs.config import make_config
        from pycodex.runs.pipeline import Pipeline
        from pycodex.runs.request import RunRequest

        problem_set = self.problem_set
        request = RunRequest(
            self.spec_of(self.model), tuple(task_ids), params, tuple(ks) if ks else None,
            problems_file=problems_file_of(problem_set), **self.executor_options,
        )
        config = make_config(request, problem_set)
        return Pipeline(config, store=self.store, backend=backend, problem_set=problem_set, on_event=on_event, run_id=run_id)

    def close(self, wait: float = 10.0) -> None:
        """Cancel the runs, wait for their threads to let go of the backend, close the store and the backend."""
        sessions = self.running_sessions()
        for session in sessions:
            session.cancel()
        for session in sessions:
            session.finished.wait(wait)
        with self._store_lock:
            if self._store is not None:
                _quiet_close(self._store)
                self._store = None
        if self.backend is not None and not self.running_sessions():
            _quiet_close(self.backend)


def _quiet_close(obj) -> None:
    try:
        obj.close()
    except Exception:
        pass
