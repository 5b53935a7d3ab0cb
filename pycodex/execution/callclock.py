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
    """One reply awaited: charged from `base` (S's CPU when the call was sent, or when S wrote its
    previous reply: Ledger). wait() until the reply is readable or the call is over its limit."""

    def __init__(self, clock: CallClock, base: float | None, wall: float):
        self.clock, self.base, self.wall = clock, base, wall
        self.meter: limits.Meter | None = None
        self.before = 0.0  # what the call used before its meter started

    def wait(self, fd: int, limit: float, expect: float = 0.0) -> float | None:
        """Block until fd is readable; None then, or the charge once it is over `limit` (the call
        is still running). expect: seconds the sample should take to answer the calls it has (a
        batch): J sleeps that long first (at most NAP), rather than wake for every reply."""
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        if expect > 0:
            time.sleep(min(expect, NAP))
        if poller.poll(FAST * 1000):
            return None
        meter = self.meter = limits.Meter(self.clock.sandbox or 0, limit, limit, mode=self.clock.mode)
        meter.start(time.monotonic())
        self.before = self._own(self.clock.cpu())
        while True:
            ready = poller.poll(TICK * 1000)
            charge = self.charge(0.0)
            if charge > limit:
                return charge
            if ready:
                return None

    def charge(self, own: float) -> float:
        """The reply's charge: `own` (S's CPU since base), or with a meter what the call used before
        it plus the tree's CPU time and waiting since."""
        meter = self.meter
        if meter is None:
            return own if self.clock.mode != "wall" else time.monotonic() - self.wall
        meter.read(time.monotonic())
        return self.before + meter.cpu + meter.waiting

    def _own(self, now: float | None) -> float:
        if self.clock.mode == "wall":
            return time.monotonic() - self.wall
        return now - self.base if now is not None and self.base is not None else 0.0


class Ledger:
    """S's CPU clock as J charges its replies, one after another. J sends calls in batches (the
    judge's plans) and reads replies as they come; several may arrive in one read. Each reply
    carries S's own reading of its CPU clock when it wrote it (the harness's, untrusted): J takes
    it only within what J itself read, at least the previous reply's and at most S's CPU just after
    the read that brought the reply; the last reply of a batch is charged up to J's own reading (S
    has nothing left to do then). So an honest sample's reply is charged exactly the CPU between its
    previous reply and itself, and whatever a sample reports, a batch is charged all the CPU S
    used during it: a lie only moves CPU between the replies of one batch."""

    def __init__(self, clock: CallClock):
        self.clock = clock
        self.base: float | None = None  # S's CPU the next reply is charged from
        self.wall = time.monotonic()  # (without the sample's clock: the wall clock then)
        self.high: float | None = None  # S's CPU just after J's latest read of the pipe

    def restart(self) -> None:
        """A send with no reply outstanding: the next reply is charged from S's CPU now."""
        self.base, self.wall = self.clock.cpu(), time.monotonic()

    def read(self, fd: int, size: int) -> bytes:
        """os.read for the reply pipe's FrameReader, with S's CPU read just after."""
        chunk = os.read(fd, size)
        self.high = self.clock.cpu()
        return chunk

    def timer(self) -> CallTimer:
        return CallTimer(self.clock, self.base, self.wall)

    def settle(self, timer: CallTimer, reported, last: bool) -> float:
        """The charge of the reply just read (reported: S's own reading in it; last: no call is left
        in S's pipe), and the base of the next one."""
        high = self.clock.cpu() if last else self.high
        base = self.base
        if base is None or high is None:  # no clock, or S is gone (it wrote this reply before it went)
            at = base
        elif last or type(reported) is not float:
            at = high
        else:
            at = min(max(reported, base), high)
        charge = timer.charge(at - base if at is not None and base is not None else 0.0)
        self.base, self.wall = at, time.monotonic()
        return charge
