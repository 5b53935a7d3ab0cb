"""Judging a sample against a problem set: base and plus verdicts beside each other.

An EvalPlus problem (humaneval-plus, humaneval-plus-mini, mbpp-plus) is judged as evalplus judges:
once on its base inputs (`base_passed`) and once on its extra inputs alone (`plus_status`), two
ordinary executor jobs, so either judge (strict or classic) runs them unchanged; the sample passes
(`passed`) when both pass. A problem with a base test but no separate plus test (a user's file with
`base_test`) is judged by its full test and its base test. Problems of other sets are judged once
and have no base verdict (None).
"""

from __future__ import annotations

import functools
import threading
from concurrent.futures import Future
from dataclasses import dataclass, fields
from typing import Callable, Iterable

from pycodex.execution.verdict import Verdict, VerdictStatus


@dataclass(frozen=True)
class JudgedVerdict(Verdict):
    """A Verdict with the base test's verdict beside it, and for EvalPlus sets the extra inputs' own."""

    base_status: str | None = None
    base_detail: str = ""
    plus_status: str | None = None  # EvalPlus sets: the verdict of the extra inputs alone
    plus_detail: str = ""

    @property
    def base_passed(self) -> bool | None:
        return None if self.base_status is None else self.base_status == "passed"

    @property
    def base_result(self) -> str | None:
        if self.base_status is None:
            return None
        return Verdict(VerdictStatus(self.base_status), self.base_detail).result


def submit_judged(executor, problem, completion: str) -> Future:
    """executor.submit for any set: the Future resolves to a Verdict, a JudgedVerdict for plus."""
    base = problem.base_problem()
    if base is None:
        return executor.submit(problem, completion)
    plus = problem.plus_problem()
    main_future, base_future = executor.submit(plus or problem, completion), executor.submit(base, completion)
    combined: Future = Future()
    lock = threading.Lock()

    def on_cancel(f: Future) -> None:
        if f.cancelled():
            main_future.cancel()
            base_future.cancel()

    combined.add_done_callback(on_cancel)

    def on_part(_f: Future) -> None:
        with lock:
            if main_future.done() and base_future.done() and not combined.done():
                finish()

    def finish() -> None:
        try:
            if main_future.cancelled() or base_future.cancelled():
                combined.cancel()
                return
            main, base_verdict = main_future.result(), base_future.result()
            verdict = _combine(main, base_verdict, separate_plus=plus is not None)
            if combined.set_running_or_notify_cancel():
                combined.set_result(verdict)
        except BaseException as exc:  # noqa: BLE001 - the executor failed: hand it on
            if not combined.done():
                try:
                    combined.set_exception(exc)
                except Exception:  # noqa: BLE001 - lost a race with a cancel
                    pass

    main_future.add_done_callback(on_part)
    base_future.add_done_callback(on_part)
    return combined


def _combine(main: Verdict, base: Verdict, separate_plus: bool) -> JudgedVerdict:
    """The sample's verdict: the full test's (or, with a separate plus test, the plus verdict when the
    base passed, else the base's), the base verdict beside it."""
    shown = main if not separate_plus or base.passed else base
    values = {f.name: getattr(shown, f.name) for f in fields(Verdict)}
    if separate_plus:
        values["seconds"] = main.seconds + base.seconds
    return JudgedVerdict(**values, base_status=str(base.status), base_detail=base.detail,
                         plus_status=str(main.status) if separate_plus else None,
                         plus_detail=main.detail if separate_plus else "")


def _report(on_result: Callable[[int, Verdict], None], index: int, future: Future) -> None:
    if not future.cancelled():
        on_result(index, future.result())


def run_judged(executor, items: Iterable, on_result: Callable[[int, Verdict], None] | None = None) -> list[Verdict]:
    """Executor.run through submit_judged: verdicts in input order, on_result(i, v) as each finishes.
    The samples of the costliest problems go first (EvalPlus sets: `canonical_seconds`), so that no
    long job starts last while the other workers have nothing left to do; others keep their order."""
    items = list(items)
    order = sorted(range(len(items)), key=lambda i: -getattr(items[i][0], "canonical_seconds", 0.0))
    futures: list[Future | None] = [None] * len(items)
    for index in order:
        problem, completion = items[index]
        future = submit_judged(executor, problem, completion)
        if on_result is not None:
            future.add_done_callback(functools.partial(_report, on_result, index))
        futures[index] = future
    return [future.result() for future in futures if future is not None]
