"""Temperature sweeps: one run per temperature, then the paper's Figures 5-6.

Figure 5: pass@k as a function of temperature, one curve per k. Figure 6: the best temperature for
each k (the paper: it grows with k, 0.2 for pass@1 up to 0.8 for pass@100).

A sweep is resumable: for each temperature, a stored run with the same result-determining settings
(backend, model, problems, n, top_p, max_tokens, stop, seed, timeout, memory limit) is reused when
finished, resumed when not, and only created when there is none.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

from pycodex.metrics import estimate_pass_at_k
from pycodex.runs.pipeline import Pipeline, RunConfig
from pycodex.store.database import CANCELLED, FINISHED, IMPORTED, RunStatus, Store


@dataclass
class SweepResult:
    temperatures: list[float]
    ks: list[int]
    run_ids: dict[float, str] = field(default_factory=dict)
    statuses: dict[float, RunStatus] = field(default_factory=dict)
    actions: dict[float, str] = field(default_factory=dict)  # created / resumed / reused
    pass_at_k: dict[float, dict[int, float]] = field(default_factory=dict)
    cancelled: bool = False

    def best_temperature(self) -> dict[int, tuple[float, float]]:
        """k -> (best temperature, its pass@k), over the temperatures that have pass@k."""
        best: dict[int, tuple[float, float]] = {}
        for t in self.temperatures:
            for k, v in self.pass_at_k.get(t, {}).items():
                if k not in best or v > best[k][1]:
                    best[k] = (t, v)
        return dict(sorted(best.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "temperatures": self.temperatures,
            "ks": self.ks,
            "runs": [
                {
                    "temperature": t,
                    "run_id": self.run_ids.get(t),
                    "status": self.statuses.get(t),
                    "action": self.actions.get(t),
                    "pass_at_k": {str(k): v for k, v in self.pass_at_k.get(t, {}).items()},
                }
                for t in self.temperatures
            ],
            "best_temperature": {str(k): {"temperature": t, "pass_at_k": v} for k, (t, v) in self.best_temperature().items()},
            "cancelled": self.cancelled,
        }


def _matches(stored: dict[str, Any], wanted: RunConfig) -> bool:
    try:
        return RunConfig.from_dict(stored).result_key() == wanted.result_key()
    except Exception:
        return False


def find_matching_run(store: Store, config: RunConfig):
    """The newest stored run with the same result-determining settings, or None."""
    for run in store.list_runs():
        if run.backend == config.backend and _matches(run.config, config):
            return run
    return None


def run_sweep(
    store: Store,
    base: RunConfig,
    temperatures: list[float],
    *,
    name_prefix: str | None = None,
    problem_set=None,
    runner: Callable | None = None,
    on_event=None,
) -> SweepResult:
    """runner(pipeline, temperature, action) -> RunFinished; default: pipeline.run()."""
    result = SweepResult(temperatures=list(temperatures), ks=list(base.ks))
    for t in temperatures:
        config = replace(base, params=replace(base.params, temperature=t), task_ids=list(base.task_ids), ks=list(base.ks))
        config.name = f"{name_prefix}@T{t:g}" if name_prefix else None
        existing = find_matching_run(store, config)
        if existing is not None and existing.effective_status in (FINISHED, IMPORTED) and existing.executed >= existing.total:
            result.run_ids[t], result.statuses[t], result.actions[t] = existing.id, FINISHED, "reused"
        else:
            if existing is not None:
                pipeline = Pipeline(config, store=store, problem_set=problem_set, run_id=existing.id, on_event=on_event)
                action = f"resuming run {existing.id}"
                result.actions[t] = "resumed"
            else:
                pipeline = Pipeline(config, store=store, problem_set=problem_set, on_event=on_event)
                action = "new run"
                result.actions[t] = "created"
            finished = runner(pipeline, t, action) if runner else pipeline.run()
            result.run_ids[t], result.statuses[t] = finished.run_id, finished.status
            if finished.status == CANCELLED:
                result.cancelled = True
        totals = store.totals(result.run_ids[t])
        result.pass_at_k[t] = estimate_pass_at_k(totals, base.ks) if totals else {}
        if result.cancelled:
            break
    return result


def print_sweep(result: SweepResult, out) -> None:
    from rich.table import Table

    table = Table(title="Figure 5: pass@k by temperature", expand=False)
    table.add_column("T", justify="right", style="bold")
    table.add_column("run", style="cyan")
    table.add_column("status")
    for k in result.ks:
        table.add_column(f"pass@{k}", justify="right")
    best = result.best_temperature()
    for t in result.temperatures:
        if t not in result.run_ids:
            continue
        cells = []
        for k in result.ks:
            v = result.pass_at_k.get(t, {}).get(k)
            text = "--" if v is None else f"{v:.2%}"
            if k in best and best[k][0] == t:
                text = f"[bold green]{text}[/]"
            cells.append(text)
        table.add_row(f"{t:g}", result.run_ids[t], f"{result.statuses.get(t)} ({result.actions.get(t)})", *cells)
    out.print(table)
    if best:
        parts = []
        for k, (t, v) in best.items():
            values = {round(result.pass_at_k.get(x, {}).get(k, -1.0), 12) for x in result.temperatures if k in result.pass_at_k.get(x, {})}
            parts.append(f"pass@{k}: T={t:g} ({v:.2%})" if len(values) > 1 else f"pass@{k}: all temperatures tie ({v:.2%})")
        out.print("Figure 6: best temperature per k: " + ", ".join(parts))
    pts = [(t, result.pass_at_k.get(t, {})) for t in result.temperatures if result.pass_at_k.get(t)]
    if len(pts) >= 2:
        from pycodex.report.render import line_chart

        chart = line_chart(
            {f"pass@{k}": ([t for t, v in pts if k in v], [100 * v[k] for t, v in pts if k in v]) for k in result.ks},
            "Figure 5: pass@k (%) vs temperature",
            "temperature",
        )
        if chart:
            out.print(chart, markup=False, highlight=False)
