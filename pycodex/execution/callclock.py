"""The strict judge's clock on each call it makes of the sample: the per-input time limits of the
EvalPlus sets, measured in the judge J, outside the sample. Standard library only (imported by J).

The sample S cannot stop or slow this clock: J reads it, and nothing S does in its own process
(ignoring or disarming a timer, catching an exception) changes what J reads.

* Which process: S says its pid in its own PID namespace (its first frame, written by the harness
  before any sample code runs, so S's alone); J finds the sandbox's child with that pid in the
  namespace (the NSpid line of /proc/PID/status, under the zygote Z whose host pid W gave J).
* A call's charge: S's CPU time (every thread, the exited ones too: the process CPU clock
  `clock_gettime(clock_getcpuclockid(pid))`, nanoseconds, one system call) from the moment J
  sends the call to the moment it has read the reply. A call still unanswered after FAST seconds of
  wall clock is then metered on the whole sandbox too (limits.Meter under Z: S's children and their
  orphans, each TICK) and charged its waiting as well (the time nothing of the tree ran nor was
  queued to run: sleeping, blocked on a pipe or a child), as evalplus's wall clock would charge it
  on an idle machine; time spent queued behind other users' processes stays free.
* What a call under FAST cannot hide: in FAST seconds the tree uses at most FAST x (CPUs + 1) of
  CPU time and waiting, far below the 1 s floor of the limits; the charge is checked all the same.
Without the sample's pid (no /proc, no sandbox pid) the charge is the call's wall-clock time.
"""

from __future__ import annotations

import select
import time

from pycodex.execution import limits

FAST = 0.02  # seconds of wall clock before a call is metered on the whole sandbox
TICK = 0.05  # seconds between two readings of a slow call's meter
_CPUCLOCK_SCHED = 2  # (linux/posix-timers.h: a process's CPU clock is ((~pid) << 3) | CPUCLOCK_SCHED)


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read(4096)
    except OSError:
        return ""


def find_sample(sandbox: int, nspid: int) -> int | None:
    """The host pid of the process under `sandbox` (Z) whose pid in its own namespace is nspid."""
    for child in limits.children_of(sandbox, limits.task_ids(sandbox)):
        for line in _read(f"/proc/{child}/status").splitlines():
            if line.startswith("NSpid:") and line.split()[-1] == str(nspid):
                return child
    return None


class CallClock:
    """J's clock on one sample (sample: its host pid; sandbox: Z's host pid; None where unknown)."""

    def __init__(self, sample: int | None, sandbox: int | None, mode: str | None = None):
        self.clock = ((~sample) << 3) | _CPUCLOCK_SCHED if sample else None
        self.sandbox = sandbox
        self.mode = mode if sample and sandbox else "wall"  # limits.accounting() of J's machine

    def cpu(self) -> float | None:
        """S's CPU seconds so far (all its threads); None when it is gone or unknown."""
        if self.clock is None:
            return None
        try:
            return time.clock_gettime(self.clock)
        except OSError:
            return None

    def begin(self) -> "CallTimer":
        return CallTimer(self)


class CallTimer:
    """One call: started just before J writes it; wait() until the reply is readable or the call
    is over its limit; charge() once the reply is read."""

    def __init__(self, clock: CallClock):
        self.clock, self.wall, self.cpu = clock, time.monotonic(), clock.cpu()
        self.meter: limits.Meter | None = None
        self.before = 0.0  # what the call used before its meter started

    def wait(self, fd: int, limit: float) -> float | None:
        """Block until fd is readable; None then, or the charge once it is over `limit` (the call
        is still running)."""
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        if poller.poll(FAST * 1000):
            return None
        meter = self.meter = limits.Meter(self.clock.sandbox or 0, limit, limit, mode=self.clock.mode)
        meter.start(time.monotonic())
        self.before = self._own() if self.clock.mode != "wall" else time.monotonic() - self.wall
        while True:
            ready = poller.poll(TICK * 1000)
            charge = self.charge()
            if charge > limit:
                return charge
            if ready:
                return None

    def charge(self) -> float:
        """The call's charge so far: S's own CPU time, or with a meter what the call used before it
        plus the tree's CPU time and waiting since."""
        meter = self.meter
        if meter is None:
            return self._own() if self.clock.mode != "wall" else time.monotonic() - self.wall
        meter.read(time.monotonic())
        return self.before + meter.cpu + meter.waiting

    def _own(self) -> float:
        now = self.clock.cpu()
        if now is None or self.cpu is None:  # S is gone (its reply, if any, is already written)
            return 0.0
        return now - self.cpu
