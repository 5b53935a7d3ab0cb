"""W's watch over one job while its sample runs (worker.py's Zygote.run sends the job, then waits
here, then reads the end). Standard library only.

The wait ends when Z has reported the sample's end on its socket (and, strict, the judge has
given its verdict or died), or when a time limit or the deadline is reached (then W kills the
namespace). On the way it wakes only for:
- the first tick of the time limits (limits.TICK after the send): the sample's commit (the program
  starts) is read from the result pipe then, not when it is written, so that a fast sample does
  not lend its CPU to W for a wake-up (most samples are long over by then); from the commit on the
  meter counts the sample's tree (and the judge's own work) from the fork, each tick;
- the output pipe, watched from that first tick on too (a fast sample's output is read once it is
  over; one that fills the pipe before then waits for it);
- the job turning slow (SLOW_AFTER, SLOW_CPU, SLOW_WALL): on_slow() tells the main process once;
- the job queued behind this one, handed back once this one has run RETURN_AFTER seconds;
- Z's socket (the sample's process group in "plain" mode, then its exit status: strict verdicts
  take it from Z only, never from a message the sample wrote), the judge's socket, the job stream.
"""

from __future__ import annotations

import json
import os
import select
import socket
import time
from typing import Any, Callable

from pycodex.execution import limits
from pycodex.execution.classify import wait_status
from pycodex.execution.judge import JudgeProcess
from pycodex.execution.wire import JobReader, read_frames, read_messages
from pycodex.execution.zygote import SIGINFO_SIZE

SETUP_GRACE = 10.0  # seconds a sandbox may take to start before the sample's clock runs
RETURN_AFTER = 0.02  # seconds a job runs before the job queued behind it is handed back
# A job is slow (the main process is told, and starts more work beside it) once it has waited
# SLOW_AFTER seconds (sleeping, blocked: its CPU is idle), or used SLOW_CPU seconds of CPU time
# plus waiting, or half its CPU limit if less (a sample that computes keeps its CPU that long:
# another worker beside it would only share the CPU, at the price of its start; most samples
# that get this far are loops), or run SLOW_WALL seconds of wall clock whatever it used. A busy
# machine makes no sample slow.
SLOW_AFTER, SLOW_CPU, SLOW_WALL = 0.1, 1.0, 2.0
# Seconds a strict sample may run on once the judge has its verdict (the judge has closed the
# pipes: an honest sample reads their end and exits at once); then W kills the namespace (a
# sample that ran past a call's limit and disarmed its own timer would run to the job's limit).
VERDICT_GRACE = 0.5
OUTPUT_LIMIT = 16 * 1024
NEVER = float("inf")


class Watch:
    """One running job, seen from W. After wait(): alive (False: a limit or the deadline ended it,
    or Z is gone), timed_out, over (which limit), exit_status (Z's word), verdict and judge_alive
    (the strict judge's), messages (the sample's, read so far), groups (plain mode's process
    groups), output, meter (None: the sample never committed)."""

    def __init__(self, job: dict, start: float, sock: socket.socket, frames: bytearray, pid: int | None,
                 result_r: int, output_r: int, judge: JudgeProcess | None = None, jobs: JobReader | None = None,
                 hand_back: Callable[[], None] | None = None, on_slow: Callable[[], None] | None = None):
        """sock, frames, pid: Z's socket, W's buffer of its frames, its pid; result_r, output_r: the
        sample's pipes (W's ends, left open)."""
        self.job, self.start, self.sock, self.frames, self.pid = job, start, sock, frames, pid
        self.result_r, self.output_r, self.judge = result_r, output_r, judge
        self.jobs, self.hand_back, self.on_slow = jobs, hand_back, on_slow
        self.buffer, self.output = bytearray(), bytearray()  # (the result pipe's, the output's)
        self.messages: list[dict] = []
        self.groups: list[int] = []
        self.timed_out, self.alive, self.finished, self.committed = False, True, False, False
        self.exit_status: int | None = None
        self.verdict: dict | None = None  # the strict judge's word on the job
        self.verdict_grace = NEVER  # when the sample must have ended, once the verdict is in
        self.judge_alive, self.output_open = judge is not None, True
        self.deadline = start + SETUP_GRACE + job["timeout"]
        self.meter: limits.Meter | None = None
        self.over: str | None = None
        self.tick = start + limits.TICK
        self.judge_base = limits.own_cpu(judge.pid) if judge is not None else None
        self.slow_at = start + SLOW_WALL if on_slow is not None else NEVER
        self.watched: list[Any] = [sock, *([judge.sock] if judge is not None else [])]
        if jobs is not None and not jobs.closed:
            self.watched.append(jobs.fd)
        self.hand_back_at = start + RETURN_AFTER if jobs is not None else NEVER

    def wait(self) -> None:
        """Until Z has reported the sample's end and the judge (if any) its verdict, or a limit."""
        while not self.finished or (self.judge_alive and self.verdict is None):
            now = time.monotonic()
            if not self.committed and now >= self.tick:
                self._read_commit(now)
            if self.meter is not None and now >= self.tick:
                self._read_meter(self.meter, now)
            if now >= self.deadline or self.over or now >= self.verdict_grace:
                self._stop()
                return
            self._on_time(now)
            ready, _, _ = select.select(self.watched, [], [], max(0.0, self._wake() - now))
            self._read(ready)

    def _read_commit(self, now: float) -> None:
        """The first tick, and each after it until the commit: read the result pipe; from the commit
        on, the meter counts and the deadline is the limits' backstop. The output pipe is watched
        from now on."""
        drain(self.result_r, self.buffer, limit=1 << 20)
        for message in read_messages(self.buffer):
            if message.get("kind") == "commit" and not self.committed:
                self._commit()
            self.messages.append(message)
        self.tick = self.tick if self.committed else now + limits.TICK  # (committed: metered at once)
        if self.output_r not in self.watched and self.output_open:
            self.watched.append(self.output_r)

    def _commit(self) -> None:
        self.committed = True
        assert self.pid is not None, "the zygote said its pid before it was used"
        job, judge = self.job, self.judge
        meter = self.meter = limits.Meter(self.pid, job["timeout"], job.get("wait_limit", job["timeout"]),
                                          extra=(judge.pid,) if judge is not None else ())  # (the test's own work counts)
        meter.start_at(self.start, {judge.pid: self.judge_base} if judge is not None and self.judge_base is not None else {})
        self.deadline = self.start + (limits.backstop(meter.cpu_limit, meter.wait_limit)
                                      if meter.mode != "wall" else job["timeout"])

    def _read_meter(self, meter: limits.Meter, now: float) -> None:
        """A tick: the limits (over), and whether the job is slow now (by what it used)."""
        meter.read(now)
        self.over, self.tick = meter.exceeded(), now + limits.TICK
        slow_use = min(SLOW_CPU, meter.cpu_limit / 2)
        if (meter.waiting >= SLOW_AFTER or meter.cpu + meter.waiting >= slow_use) and meter.mode != "wall" \
                and self.slow_at != NEVER:
            self.slow_at = now

    def _stop(self) -> None:
        """A limit or the deadline: timed out if the program had started (else the sandbox failed)."""
        self.timed_out = self.committed
        self.over = self.over or (f"wall-clock backstop ({self.deadline - self.start:g} s)" if self.committed else None)
        self.alive = False

    def _on_time(self, now: float) -> None:
        """Tell the main process once that the job is slow; hand back the job queued behind it."""
        if now >= self.slow_at and self.on_slow is not None:
            self.on_slow()
            self.slow_at = NEVER
        if now >= self.hand_back_at and self.jobs is not None and self.jobs.frames:
            self.jobs.frame()  # dropped here: the main process queues it again
            if self.hand_back is not None:
                self.hand_back()
            self.hand_back_at = NEVER

    def _wake(self) -> float:
        queued = self.jobs is not None and self.jobs.frames
        return min(self.deadline, self.tick, self.slow_at, self.verdict_grace,
                   self.hand_back_at if queued else self.deadline)

    def _read(self, ready: list) -> None:
        if self.jobs is not None and self.jobs.fd in ready:
            self.jobs.fill()
            if self.jobs.closed:
                self.watched.remove(self.jobs.fd)
        if self.judge is not None and self.judge.sock in ready:
            self._read_judge(self.judge)
        if self.sock in ready:
            self._read_zygote()
        if self.output_r in ready:
            self._read_output()

    def _read_judge(self, judge: JudgeProcess) -> None:
        said = judge.read_messages()
        if said is None:
            self.judge_alive = False
            self.watched.remove(judge.sock)
        self.verdict = next((m for m in said or () if "kind" in m), self.verdict)
        if self.verdict is not None and self.verdict_grace == NEVER:
            self.verdict_grace = time.monotonic() + VERDICT_GRACE

    def _read_zygote(self) -> None:
        """Z: the sample's process group ("plain"), then its exit status (the siginfo waitid gave)."""
        chunk = self.sock.recv(4096)
        if not chunk:
            self.alive, self.finished = False, True
        self.frames += chunk
        for frame in read_frames(self.frames):
            if len(frame) == SIGINFO_SIZE and frame[:1] != b"{":
                self.exit_status, self.finished = wait_status(frame), True
                continue
            message = _json(frame)
            if isinstance(message.get("started"), int):
                self.groups.append(message["started"])
        if self.finished:  # (only the judge's verdict is awaited now)
            self.watched.remove(self.sock)

    def _read_output(self) -> None:
        chunk = os.read(self.output_r, 65536)
        if not chunk:  # every writer is gone; Z's word on the socket ends the job
            self.watched.remove(self.output_r)
            self.output_open = False
            return
        self.output += chunk[: max(0, OUTPUT_LIMIT - len(self.output))]


def _json(frame: bytes) -> dict:
    try:
        message = json.loads(frame)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


def drain(fd: int, into: bytearray, limit: int = OUTPUT_LIMIT) -> None:
    """Read what is already in a pipe without waiting (at most 1 MiB: a flood is not worth more),
    keeping up to `limit` bytes in `into`."""
    os.set_blocking(fd, False)
    for _ in range(16):
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        if not chunk:
            return
        into += chunk[: max(0, limit - len(into))]
