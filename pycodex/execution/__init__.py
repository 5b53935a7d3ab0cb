"""Sandboxed execution of samples: Executor, Verdict, build_program, sandbox_info.

Layout: verdict.py (data), executor.py (main process: queue, threads, futures), worker.py
(a pre-warmed process whose sandboxed zygote forks one locked-down process per sample; watch.py
its wait for one job), sandbox.py (namespaces, mounts, limits), harness.py (compile, run, judge, prove a pass).
See docs/sandbox.md.
Names are loaded lazily so that the worker process imports only what it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["Executor", "Verdict", "build_program", "sandbox_info", "STATUSES"]

if TYPE_CHECKING:
    from pycodex.execution.executor import Executor, sandbox_info
    from pycodex.execution.verdict import STATUSES, Verdict, build_program


def __getattr__(name: str):
    if name in ("Executor", "sandbox_info"):
        from pycodex.execution import executor

        return getattr(executor, name)
    if name in ("Verdict", "build_program", "STATUSES"):
        from pycodex.execution import verdict

        return getattr(verdict, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
