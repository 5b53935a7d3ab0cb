"""Versus: two runs, A and B, on the same problems with the same seed, generated side by side and
linked in the run store as a pair (`pycodex versus`, the TUI's versus screen).

A side is a backend string (pycodex.generation.spec: `default`, a GGUF path, `canonical`,
`samples:FILE`, `server:URL ...`) with an optional `@T` temperature (`default@0.2`), or a stored
run (`run:ID`), whose problems, samples per problem, seed and sampling settings the other side
then takes. Both sides share everything else (problems, n, seed, top-p, max tokens, limits, judge).

Resumable like a sweep: each side reuses the newest stored run with its result-determining
settings (finished: nothing to do; unfinished: resumed, nothing stored redone), so the same
command run again after a kill finishes the pair. Both pipelines run at once on their own threads
and share one executor; A and B are linked in the store once both runs exist.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, replace
from typing import Any, Callable

from pycodex.errors import UserError
from pycodex.generation.spec import BackendSpec
from pycodex.runs.config import RunConfig
from pycodex.runs.events import RunFinished, RunStarted
from pycodex.runs.pipeline import Pipeline
from pycodex.runs.sweep import find_matching_run

STORED_PREFIX = "run:"
SIDES = ("A", "B")


@dataclass(frozen=True)
class Side:
    """One side of a versus: a backend with an optional temperature, or a stored run."""

    spec: BackendSpec | None = None
    temperature: float | None = None
    stored_run: str | None = None  # an id, prefix, name or `last`

    @classmethod
    def parse(cls, text: str) -> "Side":
        text = text.strip()
        if text.startswith(STORED_PREFIX):
            return cls(stored_run=text[len(STORED_PREFIX) :])
        head, at, tail = text.rpartition("@")
        if at and head:
            try:
                temperature = float(tail)
            except ValueError:
                pass
            else:
                if temperature < 0:
                    raise UserError(f"bad side {text!r}: the temperature after @ must be >= 0")
                return cls(BackendSpec.parse(head), temperature)
        if not text:
            raise UserError("a side needs a model: default, a GGUF path, canonical, samples:FILE, server:URL or run:ID")
        return cls(BackendSpec.parse(text))

    def __str__(self) -> str:
        if self.stored_run is not None:
            return STORED_PREFIX + self.stored_run
        return str(self.spec) + (f"@{self.temperature:g}" if self.temperature is not None else "")


@dataclass
class VersusPlan:
    """The two configs and, for each side, the stored run it continues (None: a new run)."""

    configs: tuple[RunConfig, RunConfig]
    run_ids: tuple[str | None, str | None]


def side_config(base: RunConfig, side: Side) -> RunConfig:
    """base with side's backend and temperature."""
    assert side.spec is not None
    params = base.params if side.temperature is None else replace(base.params, temperature=side.temperature)
    config = replace(base, backend=side.spec.kind, options=side.spec.options, params=params, task_ids=list(base.task_ids), ks=list(base.ks), name=None)
    return config.with_runtime_of(base)  # base's threads, ctx… where the side's kind has them


def plan_versus(store, base: RunConfig, a: Side, b: Side) -> VersusPlan:
    """Each side's config and the stored run it continues. A stored side lends the other its
    problems, n, seed and settings; two stored runs must be comparable (same problems and seed)."""
    from pycodex.report.paired import check_comparable

    stored = [store.get_run(store.resolve(s.stored_run)) if s.stored_run is not None else None for s in (a, b)]
    if stored[0] is not None and stored[1] is not None:
        check_comparable(stored[0], stored[1])
    lender = stored[0] or stored[1]
    if lender is not None:
        base = replace(RunConfig.from_dict(lender.config), name=None).with_runtime_of(base, ("workers", "threads"))
    configs: list[RunConfig] = []
    run_ids: list[str | None] = []
    for side, record in zip((a, b), stored):
        if record is not None:
            configs.append(RunConfig.from_dict(record.config))
            run_ids.append(record.id)
            continue
        config = side_config(base, side)
        existing = find_matching_run(store, config)
        configs.append(config)
        run_ids.append(existing.id if existing is not None else None)
    if configs[0].result_key() == configs[1].result_key():
        raise UserError(f"A ({a}) and B ({b}) are the same configuration: change the model or the temperature of one (e.g. default@0.2 default@0.8)")
    return VersusPlan((configs[0], configs[1]), (run_ids[0], run_ids[1]))


class Versus:
    """Runs a plan: both pipelines at once, one shared executor, events as on_event(side, event)
    with side 0 (A) or 1 (B). run() blocks; cancel() is thread-safe."""

    def __init__(self, store, plan: VersusPlan, *, problem_set=None, on_event: Callable[[int, Any], None] | None = None,
                 executor=None):
        self.store = store
        self.plan = plan
        self.on_event = on_event
        self.pair_id: str | None = None
        self.run_ids: list[str | None] = list(plan.run_ids)
        if all(c.backend == "llama" and c.threads is None for c in plan.configs):  # two models on the CPUs: half each
            half = max(1, (os.cpu_count() or 2) // 2)
            plan = VersusPlan((plan.configs[0].with_runtime(threads=half), plan.configs[1].with_runtime(threads=half)), plan.run_ids)
            self.plan = plan
        self._own_executor = executor is None
        if executor is None:  # (its workers start with the first sample)
            from pycodex.execution import Executor

            config = plan.configs[0]
            executor = Executor(workers=config.workers, timeout=config.timeout, memory_limit_mb=config.memory_limit_mb, judge=config.judge)
        self._executor = executor
        self._lock = threading.Lock()
        self.pipelines = [
            Pipeline(config, store=store, problem_set=problem_set, executor=executor, run_id=run_id, on_event=functools.partial(self._event, side))
            for side, (config, run_id) in enumerate(zip(plan.configs, plan.run_ids))
        ]

    def cancel(self) -> None:
        for pipeline in self.pipelines:
            pipeline.cancel()

    @property
    def cancelled(self) -> bool:
        return any(p.cancelled for p in self.pipelines)

    def _event(self, side: int, event: Any) -> None:
        if isinstance(event, RunStarted):
            with self._lock:
                self.run_ids[side] = event.run_id
                a, b = self.run_ids
                if a is not None and b is not None and self.pair_id is None:
                    self.pair_id = self.store.link_versus(a, b)
        if self.on_event is not None:
            self.on_event(side, event)

    def run(self) -> tuple[RunFinished, RunFinished]:
        results: list[Any] = [None, None]

        def run_side(side: int) -> None:
            try:
                results[side] = self.pipelines[side].run()
            except BaseException as exc:  # the other side stops too; re-raised below
                results[side] = exc
                self.cancel()

        threads = [threading.Thread(target=run_side, args=(side,), name=f"versus-{SIDES[side]}", daemon=True) for side in (0, 1)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)  # wakes for signals in the main thread
        finally:
            if self._own_executor:
                _close_executor(self._executor, cancelled=self.cancelled)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results[0], results[1]


def _close_executor(executor, *, cancelled: bool) -> None:
    if not cancelled:
        executor.close()
        return
    threading.Thread(target=executor.close, kwargs={"cancel_pending": True}, daemon=True).start()
