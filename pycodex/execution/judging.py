"""Judging a sample against a problem set: the plus test and, beside it, the base test.

A humaneval-plus problem is judged twice, by its full test (HumanEval's own test then the extra
inputs: `passed`) and by HumanEval's test alone (`base_passed`), both through the executor as
ordinary jobs, so either judge (strict or classic) runs them unchanged. Problems of other sets
are judged once and have no base verdict (None).
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
    """A Verdict with the base test's verdict beside it (humaneval-plus)."""

    base_status: str | None = None
    base_detail: str = ""

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
    full_future, base_future = executor.submit(problem, completion), executor.submit(base, completion)
    combined: Future = Future()
    lock = threading.Lock()

    def on_cancel(f: Future) -> None:
        if f.cancelled():
            full_future.cancel()
            base_future.cancel()

    combined.add_done_callback(on_cancel)

    def on_part(_f: Future) -> None:
        with lock:
            if full_future.done() and base_future.done() and not combined.done():
                finish()

    def finish() -> None:
        try:
            if full_future.cancelled() or base_future.cancelled():
                combined.cancel()
                return
            full, base_verdict = full_future.result(), base_future.result()
            verdict = JudgedVerdict(**{f.name: getattr(full, f.name) for f in fields(Verdict)},
                                    base_status=str(base_verdict.status), base_detail=base_verdict.detail)
            if combined.set_running_or_notify_cancel():
                combined.set_result(verdict)
        except BaseException as exc:  # noqa: BLE001 - the executor failed: hand it on
            if not combined.done():
                try:
                    combined.set_exception(exc)
                except Exception:  # noqa: BLE001 - lost a race with a cancel
                    pass

    full_future.add_done_callback(on_part)
    base_future.add_done_callback(on_part)
    return combined


def _report(on_result: Callable[[int, Verdict], None], index: int, future: Future) -> None:
    if not future.cancelled():
        on_result(index, future.result())


def run_judged(executor, items: Iterable, on_result: Callable[[int, Verdict], None] | None = None) -> list[Verdict]:
    """Executor.run through submit_judged: verdicts in input order, on_result(i, v) as each finishes."""
    futures = []
    for index, (problem, completion) in enumerate(items):
        future = submit_judged(executor, problem, completion)
        if on_result is not None:
            future.add_done_callback(functools.partial(_report, on_result, index))
        futures.append(future)
    return [future.result() for future in futures]
