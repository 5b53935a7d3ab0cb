"""Reads from the run store for the screens (called in thread workers; the store is imported lazily)."""

from __future__ import annotations

from pathlib import Path

from pycodex.tui.state import RunState, SampleState, TaskTally


def _open(db_path: Path):
    from pycodex.store import Store

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
        records = store.samples(run_id, task_id)
    return [sample_state(r) for r in records]


def sample_state(record) -> SampleState:
    return SampleState(
        task_id=record.task_id,
        index=record.index,
        text=record.completion,
        status=record.status or "running",
        detail=record.detail or "",
        passed=bool(record.passed),
        tokens=record.tokens,
        mean_logprob=record.mean_logprob,
        sum_logprob=record.sum_logprob,
        finish_reason=record.finish_reason,
        gen_seconds=record.seconds,
        exec_seconds=record.exec_seconds,
    )


def load_run(db_path: Path, run_id: str) -> RunState:
    """A stored run as the dashboard's state: per-problem generated / judged / passed counts."""
    with _open(db_path) as store:
        run_id = store.resolve(run_id)
        record = store.get_run(run_id)
        totals = store.totals(run_id)
        generated, _judged = store.done_keys(run_id)
        stats = store.generation_stats(run_id)
    state = RunState(run_id=run_id, status=record.effective_status, model=record.model or record.backend)
    state.reset(record.task_ids, record.n)
    state.config = record.config
    state.resumable = record.resumable
    for task_id, _index in generated:
        state.tally(task_id).generated += 1
    for task_id, (n, c) in totals.items():
        tally = state.tally(task_id)
        tally.judged, tally.passed = n, c
    state.tokens = int(stats.get("generated_tokens", 0))
    seconds = stats.get("generation_seconds", 0.0)
    state.tokens_per_second = state.tokens / seconds if seconds else 0.0
    return state


__all__ = ["pass_rates", "list_runs", "load_samples", "load_run", "sample_state", "TaskTally"]
