"""Build the core Pipeline for the TUI exactly as `pycodex eval` does (called from a worker thread)."""

from __future__ import annotations

import threading
from typing import Any
from pathlib import Path

_stores: dict[str, Any] = {}
_stores_lock = threading.Lock()


def shared_store(db_path: Path):
    """One Store per database file for the app's lifetime (the Store is thread-safe)."""
    from pycodex.store.database import Store

    key = str(Path(db_path).resolve())
    with _stores_lock:
        store = _stores.get(key)
        if store is None or getattr(store, "closed", False):
            store = Store(db_path)
            _stores[key] = store
        return store


def close_stores() -> None:
    with _stores_lock:
        for store in _stores.values():
            try:
                store.close()
            except Exception:
                pass
        _stores.clear()


def problems_file_of(problem_set) -> str | None:
    from pycodex import locations

    source = getattr(problem_set, "source", None)
    if getattr(problem_set, "name", None) is not None:
        return None  # a named set (humaneval, humaneval-plus, chains): the run records its name and version
    if source is None or Path(source).resolve() == locations.problems_file().resolve():
        return None  # the bundled HumanEval, as the CLI records it
    return str(source)


def make_pipeline(*, db_path, problem_set, task_ids, params, backend, model, on_event, ks=None, run_id=None, executor_options=None):
    from pycodex.generation.spec import BackendSpec
    from pycodex.runs.config import make_config
    from pycodex.runs.pipeline import Pipeline
    from pycodex.runs.request import RunRequest

    request = RunRequest(
        BackendSpec.parse(model), tuple(task_ids), params, tuple(ks) if ks else None,
        problems_file=problems_file_of(problem_set), **(executor_options or {}),
    )
    config = make_config(request, problem_set)
    return Pipeline(config, store=shared_store(db_path), backend=backend, problem_set=problem_set, on_event=on_event, run_id=run_id)
