"""Reads from the run store for the screens (called in thread workers; the store is imported lazily)."""

from __future__ import annotations

from pathlib import Path

from pycodex.runs.state import RunState, SampleState


def _open(db_path: Path):
    from pycodex.store.database import Store

    return Store(db_path)


def pass_rates(db_path: Path) -> dict[str, tuple[float | None, float | None]]:
    """task_id -> (last run's pass rate, best run's pass rate); {} when no store exists yet."""
    if not Path(db_path).exists():
        return {}
    with _open(db_path) as store:
        stats = store.problem_stats()
    return {task_id: (s["last"]["rate"], s["best"]["rate"]) for task_id, s in stats.items()}


def list_runs(db_path: Path, limit: int = 200) -> list:
    if not Path(db_path).exists():
        return []
    with _open(db_path) as store:
        return store.list_runs(limit=limit)


def load_samples(db_path: Path, run_id: str, task_id: str) -> list[SampleState]:
    with _open(db_path) as store:
        return [SampleState.from_record(r) for r in store.samples(run_id, task_id)]


def load_run(db_path: Path, run_id: str) -> RunState:
    """A stored run as the dashboard's state."""
    with _open(db_path) as store:
        return RunState.from_store(store, run_id)


__all__ = ["pass_rates", "list_runs", "load_samples", "load_run"]
