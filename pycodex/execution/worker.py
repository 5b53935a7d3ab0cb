"""A pre-warmed worker process: reads jobs on stdin, judges each in the sandbox, replies on stdout.

Started by the Executor as `python -I -c ...` with a minimal environment. Messages both ways are a
4-byte big-endian length then JSON. Standard library only.

Processes (W = this worker, trusted, outside the sandbox):

    W --fork--> C1 --enter namespaces, fork--> Z (zygote: pid 1 of the new PID namespace)
                                               Z --fork per sample--> S (the sample, locked down)

Z is set up once per worker (its own root holding only the interpreter and the standard library,
/proc, no IPC, no_new_privs, a clean environment, the standard streams, the seccomp filter) and
stays warm; its objects are frozen out of the garbage collector, so that the pages S shares with
it stay shared. W sends Z each job as descriptors over a socket: the job in a memfd (only S reads
it: Z's memory, which every later sample inherits, never holds a job) and two fresh pipes (result,
output). Z mounts a new scratch tmpfs, draws the next pid at random and forks S, which reads its
job, takes the pipes, drops its privileges, sets its limits and runs the harness. Z waits for S,
then kills every other process left in the namespace (kill(-1) from pid 1), reaps them, reports
S's end (the siginfo waitid gave, sent from a buffer it then zeroes) and unmounts the scratch. W does not listen to the result pipe while the sample runs, so that the
sample's messages do not wake W and cost the sample its CPU: it reads the commit (the program
starts) at the first tick of the time limits, when most samples are long over. W keeps
the time limits (limits.py: the CPU time and the waiting of the namespace's processes, read
from the host's /proc): when one is reached it SIGKILLs Z and the kernel takes the whole
namespace with it; the next job gets a new zygote.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from typing import Any

from pycodex.execution import cpus, harness, limits, sandbox
from pycodex.execution.classify import classify, classify_strict, wait_status
from pycodex.execution.wire import JobReader, read_frames, read_messages, write_message
from pycodex.execution.judge import JudgeProcess, judge_uid
from pycodex.execution.zygote import SIGINFO_SIZE, _exec_zygote, _zygote

SETUP_GRACE = 10.0  # seconds a sandbox may take to start before the sample's clock runs
RETURN_AFTER = 0.02  # seconds a job runs before the job queued behind it is handed back
# A job is slow (the main process is told, and starts more work beside it) once it has waited
# SLOW_AFTER seconds (sleeping, blocked: its CPU is idle), or used SLOW_CPU seconds of CPU time
# plus waiting, or half its CPU limit if less (a sample that computes keeps its CPU that long:
# another worker beside it would only share the CPU, at the price of its start; most samples
# that get this far are loops), or run SLOW_WALL seconds of wall clock whatever it used. A busy
# machine makes no sample slow.
SLOW_AFTER, SLOW_CPU, SLOW_WALL = 0.1, 1.0, 2.0
OUTPUT_LIMIT = 16 * 1024
JUDGE_ONLY = ("test", "prompt", "offset")  # a strict job's fields that only the judge gets


# -- the worker's side ----------------------------------------------------------------------------


class Zygote:
    """W's handle on C1 and Z."""

    def __init__(self, slot: int, is_root: bool, fresh: bool = True):
        """fresh: Z starts as a new interpreter (exec). False only before W has read any job: a
        forked Z then inherits nothing of a job, and saves a start (about 40 ms of CPU)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        c1 = os.fork()
        if c1 == 0:
            try:
                ours.close()
                sandbox.prctl(sandbox.PR_SET_PDEATHSIG, sandbox.SIGKILL)
                mode = sandbox.enter_namespaces(is_root)
                z = os.fork()
                if z == 0:
                    if fresh:
                        _exec_zygote(theirs, slot, mode)
                    _zygote(theirs, slot, mode)  # (a fork of W: only before W has read a job)
                write_message(theirs.fileno(), {"pid": z, "mode": mode})
                theirs.close()
                os.waitpid(z, 0)
            finally:
                os._exit(0)
        theirs.close()
        self.c1, self.sock, self.pid, self.mode, self.layers = c1, ours, None, "plain", []
        self.buffer = bytearray()
        deadline = time.monotonic() + SETUP_GRACE
        while self.pid is None or not self.layers:
            message = self._next_message(deadline)
            if message is None or "error" in message:
                self.kill()
                raise RuntimeError(f"sandbox did not start: {message.get('error') if message else 'no answer'}")
            if "pid" in message:
                self.pid, self.mode = int(message["pid"]), str(message["mode"])
            if message.get("ready"):
                self.layers = message["layers"]

    def _next_message(self, deadline: float) -> dict | None:
        while True:
            messages = read_messages(self.buffer)
            if messages:
                first, rest = messages[0], messages[1:]
                for message in reversed(rest):  # put the others back
                    data = json.dumps(message).encode()
                    self.buffer[:0] = struct.pack(">I", len(data)) + data
                return first
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk

    def kill(self) -> None:
        """SIGKILL Z (the namespace's init: the kernel kills the rest); C1, which only waits for Z,
        then exits, and is reaped. (C1 too is killed when there is no Z yet.)"""
        for pid in (self.pid,) if self.pid else (self.c1,):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self.mode == "plain" and self.pid:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass
        self.sock.close()
        try:
            os.waitpid(self.c1, 0)
        except ChildProcessError:
            pass

    def run(self, job: dict, data: bytes | None = None, jobs: "JobReader | None" = None,
            hand_back=None, judge=None, on_slow=None) -> tuple[dict, bool]:
        """Judge one job (data: the job already encoded). Returns (reply, zygote still usable);
        judge.usable says whether the judge is.

        jobs, hand_back: the job stream and a callable; once this job has run RETURN_AFTER seconds,
        a job queued behind it is popped off the stream and hand_back() tells the main process,
        which gives it to a free worker instead of letting it wait here behind a slow sample.
        judge: the strict judge's process (judge.JudgeProcess), which runs the test and calls the
        sample through two pipes made here; None: the classic in-process harness.
        on_slow: called once when the job turns slow (SLOW_AFTER, SLOW_CPU, SLOW_WALL)."""
        if judge is not None:  # the test and its expected values go to the judge only, never to the sample
            data = json.dumps({k: v for k, v in job.items() if k not in JUDGE_ONLY}).encode()
        data = data if data is not None else json.dumps(job).encode()
        start = time.monotonic()
        result_r, result_w = os.pipe()
        output_r, output_w = os.pipe()
        # The job goes to the sample in a memfd that only S reads: Z, whose memory every later
        # sample inherits, never holds a job's bytes.
        job_fd = os.memfd_create("pycodex-job", os.MFD_CLOEXEC)
        ours = [job_fd, result_w, output_w]  # (W's copies of the other processes' ends, closed once sent)
        if judge is not None:
            call_r, call_w = os.pipe()
            reply_r, reply_w = os.pipe()
            ours += [call_r, reply_w, call_w, reply_r]
        try:
            _write_all(job_fd, data)
            socket.send_fds(self.sock, [b"J"], ours[:5])
            if judge is not None:
                judge.start(job, call_w, reply_r)
        except OSError:
            for fd in (result_r, output_r):
                os.close(fd)
            if judge is not None:
                judge.usable = False
            return _reply("crashed", "sandbox is gone", 0.0, ""), False
        finally:
            for fd in ours:
                os.close(fd)
        buffer, output, messages, groups = bytearray(), bytearray(), [], []
        timed_out, alive, finished, committed, exit_status = False, True, False, False, None
        verdict, judge_alive = None, judge is not None  # the strict judge's word on the job
        output_open = True
        deadline = start + SETUP_GRACE + job["timeout"]
        # The result pipe is not watched while the sample runs: its commit (the program starts) is
        # read at the first tick, when most samples are long over (waking here for it would only
        # take the CPU from the sample). The limits then count the sample's tree from its fork.
        meter, over, tick = None, None, start + limits.TICK
        judge_base = limits.own_cpu(judge.pid) if judge is not None else None
        slow_at = start + SLOW_WALL if on_slow is not None else float("inf")
        # (The output pipe too is left alone until the first tick: a fast sample's output is read
        # once it is over; a sample that fills the pipe before then waits for it.)
        watched: list[Any] = [self.sock] + ([judge.sock] if judge is not None else [])
        if jobs is not None and not jobs.closed:
            watched.append(jobs.fd)
        hand_back_at = start + RETURN_AFTER if jobs is not None else float("inf")
        while not finished or (judge_alive and verdict is None):
            now = time.monotonic()
            if not committed and now >= tick:
                _drain(result_r, buffer, limit=1 << 20)
                for message in read_messages(buffer):
                    if message.get("kind") == "commit" and not committed:
                        committed = True
                        assert self.pid is not None, "the zygote said its pid before it was used"
                        meter = limits.Meter(self.pid, job["timeout"], job.get("wait_limit", job["timeout"]),
                                             extra=(judge.pid,) if judge is not None else ())  # (the test's own work counts)
                        meter.start_at(start, {judge.pid: judge_base} if judge is not None and judge_base is not None else {})
                        deadline = start + (limits.backstop(meter.cpu_limit, meter.wait_limit)
                                            if meter.mode != "wall" else job["timeout"])
                    messages.append(message)
                tick = tick if committed else now + limits.TICK
                if output_r not in watched and output_open:
                    watched.append(output_r)
            if meter is not None and now >= tick:
                meter.read(now)
                over, tick = meter.exceeded(), now + limits.TICK
                slow_use = min(SLOW_CPU, meter.cpu_limit / 2)
                if (meter.waiting >= SLOW_AFTER or meter.cpu + meter.waiting >= slow_use) and meter.mode != "wall" \
                        and slow_at != float("inf"):
                    slow_at = now
            if now >= deadline or over:
                timed_out = committed
                over = over or (f"wall-clock backstop ({deadline - start:g} s)" if committed else None)
                alive = False
                break
            if now >= slow_at:
                on_slow()
                slow_at = float("inf")
            if now >= hand_back_at and jobs is not None and jobs.frames:
                jobs.frame()  # dropped here: the main process queues it again
                hand_back()
                hand_back_at = float("inf")
            wake = min(deadline, tick, slow_at, hand_back_at if jobs is not None and jobs.frames else deadline)
            ready, _, _ = select.select(watched, [], [], max(0.0, wake - now))
            if jobs is not None and jobs.fd in ready:
                jobs.fill()
                if jobs.closed:
                    watched.remove(jobs.fd)
            if judge is not None and judge.sock in ready:
                said = judge.read_messages()
                if said is None:
                    judge_alive = False
                    watched.remove(judge.sock)
                verdict = next((m for m in said or () if "kind" in m), verdict)
            if self.sock in ready:  # Z: the sample's process group ("plain"), then its exit status
                chunk = self.sock.recv(4096)
                if not chunk:
                    alive, finished = False, True
                self.buffer += chunk
                for frame in read_frames(self.buffer):
                    if len(frame) == SIGINFO_SIZE and frame[:1] != b"{":
                        exit_status, finished = wait_status(frame), True
                        continue
                    message = _json(frame)
                    if isinstance(message.get("started"), int):
                        groups.append(message["started"])
                if finished:  # (only the judge's verdict is awaited now)
                    watched.remove(self.sock)
            if output_r in ready:
                chunk = os.read(output_r, 65536)
                if not chunk:  # every writer is gone; Z's word on the socket ends the job
                    watched.remove(output_r)
                    output_open = False
                    continue
                output += chunk[: max(0, OUTPUT_LIMIT - len(output))]
        seconds = time.monotonic() - start
        _drain(result_r, buffer, limit=1 << 20)
        messages += read_messages(buffer)
        if exit_status is not None:
            messages.append({"kind": "exit", "status": exit_status})
        if not alive:
            for group in groups:
                try:
                    os.killpg(group, signal.SIGKILL)
                except OSError:
                    pass
            self.kill()
        _drain(output_r, output)
        os.close(result_r)
        os.close(output_r)
        text = output.decode("utf-8", errors="replace")
        if judge is not None:
            status, detail = classify_strict(messages, verdict, judge_alive, timed_out, text, exit_status)
        else:
            status, detail = classify(messages, timed_out, text)
        if status == "timed out" and not detail:
            detail = over or ""
        reply = _reply(status, detail, seconds, text)
        if meter is not None:
            reply["cpu"], reply["waiting"] = round(meter.cpu, 3), round(meter.waiting, 3)
        if job.get("probe"):
            commit = next((m for m in messages if m.get("kind") == "commit"), {})
            measured, what = limits.describe(job["timeout"], job.get("wait_limit", job["timeout"]))
            kill = ("; at a limit the worker SIGKILLs the sandbox's PID namespace" if self.mode != "plain"
                    else "; at a limit the worker kills the sample's process group")
            reply["layers"] = commit.get("layers", []) + [("time limits", measured, what + kill)]
            if judge is not None:
                reply["layers"].append(_judge_layer(judge, self.mode))
        if judge is not None:
            judge.usable = judge_alive and verdict is not None  # (else it is killed: it may be mid-test)
        return reply, alive and exit_status is not None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _json(frame: bytes) -> dict:
    try:
        message = json.loads(frame)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


def _reply(status: str, detail: str, seconds: float, output: str) -> dict:
    return {"status": status, "detail": detail, "seconds": round(seconds, 4), "output": output}


def _drain(fd: int, into: bytearray, limit: int = OUTPUT_LIMIT) -> None:
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


def _judge_layer(judge, mode: str) -> tuple[str, bool, str]:
    where = "outside the sample's PID namespace" if mode != "plain" else "visible to the sample (no PID namespace)"
    who = f"as uid {judge.uid}" if judge.uid is not None else "as the invoking user (not root: no uid of its own)"
    return ("trusted judge", mode != "plain" and judge.uid is not None,
            f"check() runs in a separate process {who}, {where}, not dumpable; the candidate is called "
            "through a proxy, values cross as plain data")


def main() -> None:
    slot = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    memory_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 4096
    first_judge = sys.argv[3] if len(sys.argv) > 3 else "strict"
    sandbox.prctl(sandbox.PR_SET_PDEATHSIG, sandbox.SIGKILL)
    jobs = JobReader(os.dup(0))
    replies = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(null, fd)
    for fd in (jobs.fd, replies):
        os.set_inheritable(fd, False)
    for name in harness.WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    is_root = os.geteuid() == 0
    pinning = cpus.Pinning()  # fast samples share their worker's CPU
    zygote: Zygote | None = None
    judge: JudgeProcess | None = None  # the strict judge, started with the first strict job
    try:  # both started before any job is read (a failure here is retried with the first job)
        zygote = Zygote(slot, is_root, fresh=False)  # (no job read yet: a fork is enough)
        if first_judge == "strict":
            judge = JudgeProcess(judge_uid(is_root, slot), memory_mb)
    except Exception:  # noqa: BLE001
        pass
    write_message(replies, {"ready": True})
    while True:
        data = jobs.next()
        if data is None:
            for process in (zygote, judge):
                if process is not None:
                    process.kill()
            os._exit(0)  # (nothing to flush: the interpreter's own shutdown would only make close() wait)
        try:
            job = json.loads(data)
            strict = job.get("judge", "strict") == "strict"
            if strict and judge is None:
                judge = JudgeProcess(judge_uid(is_root, slot), int(job["memory_mb"]))
            if zygote is None:
                zygote = Zygote(slot, is_root)
            pinning.run_on(job.get("cpu"), [p.pid for p in (zygote, judge) if p is not None and p.pid])
            its_judge = judge if strict else None

            def slow(zygote: Zygote = zygote, judge: JudgeProcess | None = its_judge) -> None:
                write_message(replies, {"slow": True})
                pinning.let_loose(zygote.pid, judge.pid if judge is not None else None)

            reply, usable = zygote.run(job, data, jobs, lambda: write_message(replies, {"handed_back": True}), its_judge, slow)
            if not usable:
                zygote.kill()
                zygote = None
            if strict and judge is not None and not judge.usable:
                judge.kill()
                judge = None
        except Exception as exc:  # noqa: BLE001 - the worker must answer every job
            for process in (zygote, judge):
                if process is not None:
                    process.kill()
            zygote = judge = None
            reply = _reply("crashed", f"worker error: {type(exc).__name__}: {exc}", 0.0, "")
        write_message(replies, reply)
