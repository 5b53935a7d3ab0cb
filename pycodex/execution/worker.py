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
S's end (the siginfo waitid gave, sent from a buffer it then zeroes) and puts the scratch out of
reach (sandbox.clear_scratch). W does not listen to the result pipe while the sample runs, so that the
sample's messages do not wake W and cost the sample its CPU: it reads the commit (the program
starts) at the first tick of the time limits, when most samples are long over. W keeps
the time limits (limits.py: the CPU time and the waiting of the namespace's processes, read
from the host's /proc): when one is reached it SIGKILLs Z and the kernel takes the whole
namespace with it; the next job gets a new zygote. W's wait for one job (its deadline, limits,
turning slow, the job queued behind it) is watch.py's Watch.
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
from typing import Callable

from pycodex.execution import cpus, harness, limits, sandbox
from pycodex.execution.classify import classify, classify_strict
from pycodex.execution.wire import JobReader, read_messages, write_message
from pycodex.execution.judge import JudgeProcess, judge_uid
from pycodex.execution.watch import SETUP_GRACE, Watch, drain
from pycodex.execution.zygote import _exec_zygote, _zygote

JUDGE_ONLY = ("test", "prompt", "offset", "test_code")  # a strict job's fields that only the judge gets


# -- the worker's side ----------------------------------------------------------------------------


class Zygote:
    """W's handle on C1 and Z."""

    def __init__(self, slot: int, is_root: bool, fresh: bool = True, ready: bool = True):
        """fresh: Z starts as a new interpreter (exec). False only before W has read any job: a
        forked Z then inherits nothing of a job, and saves a start (about 40 ms of CPU).
        ready: wait here until Z is set up; False: the caller calls wait_ready() (and meanwhile
        starts the judge, whose set-up then runs beside Z's)."""
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
        self.c1, self.sock, self.mode = c1, ours, "plain"
        self.pid: int | None = None
        self.layers: list = []
        self.buffer = bytearray()
        if ready:
            self.wait_ready()

    def wait_ready(self) -> None:
        """Until Z says it is set up (its pid, then its layers); a Z that fails is killed."""
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

    def run(self, job: dict, data: bytes | None = None, jobs: JobReader | None = None,
            hand_back: Callable[[], None] | None = None, judge: JudgeProcess | None = None,
            on_slow: Callable[[], None] | None = None) -> tuple[dict, bool]:
        """Judge one job (data: the job already encoded). Returns (reply, zygote still usable);
        judge.usable says whether the judge is.

        jobs, hand_back: the job stream and a callable; once this job has run RETURN_AFTER seconds
        (watch.py), a job queued behind it is popped off the stream and hand_back() tells the main
        process, which gives it to a free worker instead of letting it wait here behind a slow sample.
        judge: the strict judge's process (judge.JudgeProcess), which runs the test and calls the
        sample through two pipes made here; None: the classic in-process harness.
        on_slow: called once when the job turns slow (watch.SLOW_AFTER, SLOW_CPU, SLOW_WALL).

        Sends the job (_send), waits for its end (watch.Watch), reads what is left of the sample's
        messages and output (killing the namespace if the sample is still running) and classifies
        the end (_reply_to)."""
        if judge is not None:  # the test and its expected values go to the judge only, never to the sample
            data = json.dumps({k: v for k, v in job.items() if k not in JUDGE_ONLY}).encode()
        data = data if data is not None else json.dumps(job).encode()
        start = time.monotonic()
        pipes = self._send(job, data, judge)
        if pipes is None:
            return _reply("crashed", "sandbox is gone", 0.0, ""), False
        result_r, output_r = pipes
        watch = Watch(job, start, self.sock, self.buffer, self.pid, result_r, output_r, judge, jobs, hand_back, on_slow)
        watch.wait()
        seconds = time.monotonic() - start
        drain(result_r, watch.buffer, limit=1 << 20)
        messages = watch.messages + read_messages(watch.buffer)
        if watch.exit_status is not None:
            messages.append({"kind": "exit", "status": watch.exit_status})
        if not watch.alive:
            self._kill_all(watch.groups)
        drain(output_r, watch.output)
        os.close(result_r)
        os.close(output_r)
        reply = self._reply_to(job, watch, messages, seconds)
        if judge is not None:
            judge.usable = watch.judge_alive and watch.verdict is not None  # (else it is killed: it may be mid-test)
        return reply, watch.alive and watch.exit_status is not None

    def _send(self, job: dict, data: bytes, judge: JudgeProcess | None) -> tuple[int, int] | None:
        """Hand Z the job and the sample's pipes (and the judge its pipes to the sample). Returns W's
        ends of the result and output pipes; None: the sandbox is gone (the judge is then unusable)."""
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
                judge.start(job, call_w, reply_r, self.pid, compiled=self.mode != "plain")
        except OSError:
            for fd in (result_r, output_r):
                os.close(fd)
            if judge is not None:
                judge.usable = False
            return None
        finally:
            for fd in ours:
                os.close(fd)
        return result_r, output_r

    def _kill_all(self, groups: list[int]) -> None:
        """A sample still running at a limit: its process groups ("plain" mode), then Z."""
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except OSError:
                pass
        self.kill()

    def _reply_to(self, job: dict, watch: Watch, messages: list[dict], seconds: float) -> dict:
        """The job's reply: its status (classify.py), what it used, and on a probe the layers."""
        text = watch.output.decode("utf-8", errors="replace")
        if watch.judge is not None:
            status, detail = classify_strict(messages, watch.verdict, watch.judge_alive, watch.timed_out, text,
                                             watch.exit_status)
        else:
            status, detail = classify(messages, watch.timed_out, text)
        if status == "timed out" and not detail:
            detail = watch.over or ""
        reply = _reply(status, detail, seconds, text)
        if watch.meter is not None:
            reply["cpu"], reply["waiting"] = round(watch.meter.cpu, 3), round(watch.meter.waiting, 3)
        if job.get("probe"):
            commit = next((m for m in messages if m.get("kind") == "commit"), {})
            measured, what = limits.describe(job["timeout"], job.get("wait_limit", job["timeout"]))
            kill = ("; at a limit the worker SIGKILLs the sandbox's PID namespace" if self.mode != "plain"
                    else "; at a limit the worker kills the sample's process group")
            reply["layers"] = commit.get("layers", []) + [("time limits", measured, what + kill)]
            if watch.judge is not None:
                reply["layers"].append(_judge_layer(watch.judge, self.mode))
        return reply


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _reply(status: str, detail: str, seconds: float, output: str) -> dict:
    return {"status": status, "detail": detail, "seconds": round(seconds, 4), "output": output}


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
    # Both started before any job is read, J's set-up beside Z's (a failure is retried with the first job).
    starting: Zygote | None = None
    try:
        starting = Zygote(slot, is_root, fresh=False, ready=False)  # (no job read yet: a fork is enough)
        if first_judge == "strict":
            judge = JudgeProcess(judge_uid(is_root, slot), memory_mb)
    except Exception:  # noqa: BLE001
        pass
    try:
        if starting is not None:
            starting.wait_ready()
            zygote = starting
    except Exception:  # noqa: BLE001 - (wait_ready killed it)
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
