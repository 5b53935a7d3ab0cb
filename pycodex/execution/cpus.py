"""Which CPU each worker's processes run on.

A sample's trip through a worker hops between five processes (the executor's thread, W, Z, S and,
strict, J), each waking the next and going to sleep. When the next one wakes on another CPU,
that CPU has to be woken too (in a virtual machine an inter-processor interrupt, tens of
microseconds or more), and the file of fast samples spends a quarter of its time with CPUs idle.
So every worker's processes share one CPU while they run fast samples, a worker per CPU in turn;
a sample that turns slow is let loose on every CPU (it no longer sits on a fast worker's CPU).
Verdicts do not depend on any of this: the time limits count the CPU time a sample used.
"""

from __future__ import annotations

import os
from typing import Iterable

from pycodex.execution.limits import children_of, task_ids


def allowed() -> list[int]:
    """The CPUs this process may run on ([] where affinity cannot be set)."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    try:
        return sorted(os.sched_getaffinity(0))
    except OSError:
        return []


def pin(pids: Iterable[int], cpus: Iterable[int]) -> None:
    """Best effort: a process gone, or one we may not move, keeps its CPUs."""
    if not hasattr(os, "sched_setaffinity"):
        return
    wanted = set(cpus)
    for pid in pids:
        try:
            os.sched_setaffinity(pid, wanted)
        except OSError:
            pass


def tasks_below(root: int) -> list[int]:
    """Every thread of every process below `root` (not root itself), read from /proc."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        tids = task_ids(pid)
        if pid != root:
            found += [int(tid) for tid in tids]
        queue += children_of(pid, tids)
    return found


class Pinning:
    """W's side: its processes (W itself, Z, J) on the CPU the executor gives each job; a slow
    sample (and the judge, until the next job) let loose on every CPU."""

    def __init__(self) -> None:
        self.everywhere = allowed()
        self.cpu: int | None = None  # where W, Z and J are pinned now

    def run_on(self, cpu: int | None, pids: list[int]) -> None:
        if cpu is not None and cpu in self.everywhere and cpu != self.cpu:
            self.cpu = cpu
            pin([0, *pids], [cpu])

    def let_loose(self, zygote: int | None, judge: int | None) -> None:
        if self.cpu is not None and zygote:
            pin(tasks_below(zygote) + ([judge] if judge else []), self.everywhere)
            if judge:
                self.cpu = None  # (so that the next job pins the judge again)


class Places:
    """The executor's side: the CPU for a thread that takes a place to run fast samples, the one
    with the fewest such threads (its current CPU when that is one of them)."""

    def __init__(self, cpus: list[int] | None = None):
        import threading  # (here: the worker imports this module, and threading's at-fork handler must not reach its samples)

        self.cpus = allowed() if cpus is None else cpus
        self._fast = {cpu: 0 for cpu in self.cpus}
        self._lock = threading.Lock()

    def take(self, current: int | None) -> int | None:
        if not self.cpus:
            return None
        with self._lock:
            fewest = min(self._fast.values())
            cpu = current if current in self._fast and self._fast[current] == fewest else \
                next(cpu for cpu in self.cpus if self._fast[cpu] == fewest)
            self._fast[cpu] += 1
            return cpu

    def give_back(self, cpu: int | None) -> None:
        if cpu is None:
            return
        with self._lock:
            self._fast[cpu] = max(0, self._fast[cpu] - 1)
