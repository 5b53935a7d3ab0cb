"""The strict judge's clock on each call it makes of the sample: the per-input time limits of the
EvalPlus sets, measured in the judge J, outside the sample. Standard library only (imported by J).

The sample S cannot stop or slow this clock: J reads it, and nothing S does in its own process
(ignoring or disarming a timer, catching an exception) changes what J reads.

* Which process: S says its pid in its own PID namespace (its first frame, written by the harness
  before any sample code runs, so S's alone); J finds the sandbox's child with that pid in the
  namespace (the NSpid line of /proc/PID/status, under the zygote Z whose host pid W gave J).
* A call's charge: S's CPU time (every thread, the exited ones too: the process CPU clock
  `clock_gettime(clock_getcpuclockid(pid))`, nanoseconds, one system call) on the call itself,
  within what J reads of that clock (Ledger: calls go in batches, each reply says when its call
  started and ended, J takes that only within its own readings). A call still unanswered after
  FAST seconds of wall clock is metered on the whole sandbox too (limits.Meter under Z: S's
  children and their orphans, each TICK, up to the moment its reply comes) and charged its waiting
  as well (the time nothing of the tree ran nor was queued to run: sleeping, blocked on a pipe or a
  child), as evalplus's wall clock would charge it on an idle machine; time spent queued behind
  other users' processes stays free.
Without the sample's pid (no /proc, no sandbox pid) the charge is the call's wall-clock time.
"""

from __future__ import annotations

import os
import select
import time

from pycodex.execution import limits

FAST = 0.02  # seconds of wall clock before a call is metered on the whole sandbox
TICK = 0.05  # seconds between two readings of a slow call's meter
NAP = 0.005  # seconds J sleeps at most, when it has caught up with a batch, before it reads again
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


class CallTimer:
    """One reply awaited: charged from `base` (S's CPU when the call was sent, or at the end of its
    previous call: Ledger). wait() until the reply is readable or the call is far over its limit."""

    def __init__(self, clock: CallClock, base: float | None, wall: float):
        self.clock, self.base, self.wall = clock, base, wall
        self.meter: limits.Meter | None = None
        self.own_at_meter = 0.0  # S's own CPU when the meter started
        self.extra = 0.0  # with a meter: the tree's other CPU time and its waiting, when the reply came

    def wait(self, fd: int, limit: float, slack: float, expect: float = 0.0) -> float | None:
        """Block until fd is readable; None then, or the charge once the call, still running, has
        used more than `limit` + `slack` (slack: what writing its return value may take, which a
        reply is not charged). expect: seconds the sample should take to answer the calls it has
        (a batch): J sleeps that long first (at most NAP), rather than wake for every reply."""
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        if expect > 0:
            time.sleep(min(expect, NAP))
        if poller.poll(FAST * 1000):
            return None
        meter = self.meter = limits.Meter(self.clock.sandbox or 0, limit, limit, mode=self.clock.mode)
        meter.start(time.monotonic())
        self.own_at_meter = self._own()
        while True:
            ready = poller.poll(TICK * 1000)
            meter.read(time.monotonic())  # (the last reading as the reply comes, before J reads it)
            own = self._own()
            self.extra = own if self.clock.mode == "wall" else (
                max(0.0, meter.cpu - (own - self.own_at_meter)) + meter.waiting)
            if self.charge(own) > limit + slack:
                return self.charge(own)
            if ready:
                return None

    def charge(self, own: float) -> float:
        """The reply's charge: `own` (S's own CPU on the call), plus with a meter the CPU time of
        the rest of the sandbox's tree and the tree's waiting from the meter's start to the reply."""
        if self.meter is None:
            return own if self.clock.mode != "wall" else time.monotonic() - self.wall
        return self.extra if self.clock.mode == "wall" else own + self.extra

    def _own(self) -> float:
        """S's CPU since base (wall clock without S's clock)."""
        if self.clock.mode == "wall":
            return time.monotonic() - self.wall
        now = self.clock.cpu()
        return now - self.base if now is not None and self.base is not None else 0.0


class Ledger:
    """S's CPU clock as J charges its calls, one after another. J sends calls in batches (the
    judge's plans) and reads replies as they come; several may arrive in one read. A call is
    charged its own CPU time, as evalplus times the function alone (the canonical times, which
    the limits come from, count it alone too): each reply carries S's readings of its CPU clock
    when the call started (its arguments decoded) and ended (before its return value is encoded),
    untrusted. J takes them only within what it read itself: from the end of the previous call to
    S's CPU just after the read that brought the reply (the last reply of a batch: J's reading
    then, S has nothing left to do). What S used between two calls (encoding a return value,
    decoding the next arguments) is free up to 3 x what J's own encoding and decoding of the same
    values took, plus 2 ms; beyond that it is charged to the call. So an honest sample's call is
    charged its own CPU time exactly, and a sample that lies in its readings or works ahead on the
    other inputs of its batch moves CPU time between the calls of one batch, never out of it."""

    def __init__(self, clock: CallClock):
        self.clock = clock
        self.base: float | None = None  # S's CPU at the end of the last call charged
        self.wall = time.monotonic()  # (without the sample's clock: the wall clock then)
        self.high: float | None = None  # S's CPU just after J's latest read of the pipe

    def restart(self) -> None:
        """A send with no reply outstanding: the next call is charged from S's CPU now."""
        self.base, self.wall = self.clock.cpu(), time.monotonic()

    def read(self, fd: int, size: int) -> bytes:
        """os.read for the reply pipe's FrameReader, with S's CPU read just after."""
        chunk = os.read(fd, size)
        self.high = self.clock.cpu()
        return chunk

    def timer(self) -> CallTimer:
        return CallTimer(self.clock, self.base, self.wall)

    def settle(self, timer: CallTimer, interval, free: float, free_after: float, last: bool) -> float:
        """The charge of the call whose reply was just read. interval: S's (start, end) readings in
        it; free: CPU S may have used before the call without charge (decoding its arguments, and
        encoding the previous return value when both are in one batch); free_after: the same for
        encoding this return value (counted for the last call of a batch only)."""
        high = self.clock.cpu() if last else self.high
        base = self.base
        if base is None or high is None:  # no clock, or S is gone (it wrote this reply before it went)
            own, at = 0.0, base
        elif not (type(interval) is tuple and len(interval) == 2 and all(type(x) is float for x in interval)):
            own, at = high - base, high
        else:
            start = min(max(interval[0], base), high)
            end = min(max(interval[1], start), high)
            own, at = end - start + max(0.0, start - base - free), end
            if last:
                own, at = own + max(0.0, high - end - free_after), high
        charge = timer.charge(own)
        self.base, self.wall = at, time.monotonic()
        return charge
