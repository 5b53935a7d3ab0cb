"""A pre-warmed worker process: reads jobs from stdin, judges each in a fresh sandbox, replies on stdout.

Started by the Executor as `python -I -c ...` with a minimal environment. Messages both ways are a
4-byte big-endian length then JSON. Per job: fork C1 -> new namespaces -> fork C2 (pid 1 of its
namespace) -> lock down -> fork C3 -> harness. The worker keeps the wall clock: on timeout it SIGKILLs C2 and
the kernel takes the whole namespace with it. Standard library only.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import select
import shutil
import signal
import struct
import sys
import tempfile
import time

from pycodex.execution import harness, sandbox

SETUP_GRACE = 10.0  # seconds a sandbox may take to start before the sample's clock runs
DRAIN_GRACE = 0.5  # seconds to collect output after the sample ended
OUTPUT_LIMIT = 16 * 1024


def read_message(stream) -> dict | None:
    header = stream.read(4)
    if len(header) < 4:
        return None
    (size,) = struct.unpack(">I", header)
    data = stream.read(size)
    return json.loads(data) if len(data) == size else None


def write_message(fd: int, message: dict) -> None:
    data = json.dumps(message).encode()
    view = memoryview(struct.pack(">I", len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _frames(buffer: bytearray) -> list[dict]:
    """Pop every complete length-prefixed JSON message off the front of buffer (bad ones are skipped)."""
    messages = []
    while len(buffer) >= 4:
        (size,) = struct.unpack(">I", buffer[:4])
        if size > 1 << 20:  # garbage written by the sample: stop parsing this channel
            buffer.clear()
            break
        if len(buffer) < 4 + size:
            break
        data = bytes(buffer[4 : 4 + size])
        del buffer[: 4 + size]
        try:
            message = json.loads(data)
        except ValueError:
            continue
        if isinstance(message, dict):
            messages.append(message)
    return messages


def _c2(job: dict, slot: int, mode: str, result_w: int, output_w: int) -> None:
    """The sandboxed process: set up descriptors, lock down, run the harness. Never returns."""
    try:
        os.dup2(result_w, 3)
        os.dup2(output_w, 1)
        os.dup2(output_w, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.closerange(4, 1 << 16)
        sys.stdin = open(0, encoding="utf-8", closefd=False)
        sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1)
        sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1)
        scratch = tempfile.mkdtemp(prefix="pycodex-sample-") if mode == "plain" else None
        layers = sandbox.lock_down(mode, slot, job["memory_mb"], job["timeout"], scratch)
        layers.append(("audit hook", True, "frames, gc, ctypes, signals and /proc memory refused to sample code"))
        # The sample must not be pid 1: the kernel shields a namespace's init from its own signals
        # (raise(SIGSEGV) would be ignored). C2 stays as init, waits and reports C3's exit status.
        c3 = os.fork()
        if c3 == 0:
            harness.run(dict(job, layers=layers, scratch=scratch), 3)
        os.close(0)
        os.close(1)
        os.close(2)
        _, status = os.waitpid(c3, 0)
        harness.send(3, {"kind": "exit", "status": status})
        os._exit(0)
    except BaseException as exc:  # noqa: BLE001
        try:
            harness.send(3, {"kind": "setup error", "detail": f"{type(exc).__name__}: {exc}"})
        finally:
            os._exit(1)
    os._exit(1)


def _c1(job: dict, slot: int, is_root: bool, result_w: int, output_w: int, status_w: int, others: list[int]) -> None:
    """Enter namespaces, fork C2 as their pid 1, report its pid, then relay its exit status."""
    try:
        for fd in others:
            os.close(fd)
        sandbox.prctl(sandbox.PR_SET_PDEATHSIG, sandbox.SIGKILL)
        mode = sandbox.enter_namespaces(is_root)
        c2 = os.fork()
        if c2 == 0:
            os.close(status_w)
            _c2(job, slot, mode, result_w, output_w)
        os.close(result_w)
        os.close(output_w)
        write_message(status_w, {"pid": c2, "mode": mode})
        _, status = os.waitpid(c2, 0)
        write_message(status_w, {"status": status})
    finally:
        os._exit(0)


def _classify(messages: list[dict], status: int | None, timed_out: bool, output: str) -> tuple[str, str]:
    commit = next((m for m in messages if m.get("kind") == "commit"), None)
    if commit is None:
        setup = next((m for m in messages if m.get("kind") == "setup error"), None)
        return "crashed", "sandbox setup failed: " + (setup["detail"] if setup else "no response")
    expected = commit.get("hash")
    after = messages[messages.index(commit) + 1 :]
    for message in after:
        proof = message.get("proof")
        if message.get("kind") == "passed" and isinstance(proof, str):
            if hashlib.sha256(proof.encode()).hexdigest() == expected:
                return "passed", ""
    if timed_out:
        return "timed out", ""
    exits = [m["status"] for m in after if m.get("kind") == "exit" and isinstance(m.get("status"), int)]
    status = exits[-1] if exits else status
    if status is not None and os.WIFSIGNALED(status):  # a signal outranks what the sample managed to report
        signum = os.WTERMSIG(status)
        if signum == signal.SIGXCPU:
            return "timed out", "CPU time limit"
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = str(signum)
        return "crashed", f"signal {name}"
    finals = [m for m in after if m.get("kind") in ("failed", "out of memory", "syntax error")]
    if finals:
        return finals[-1]["kind"], str(finals[-1].get("detail", ""))
    if "MemoryError" in output[-2000:]:
        return "out of memory", "MemoryError"
    code = os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else "unknown"
    return "failed", f"exited (status {code}) before the tests finished"


def run_job(job: dict, slot: int, is_root: bool) -> dict:
    result_r, result_w = os.pipe()
    output_r, output_w = os.pipe()
    status_r, status_w = os.pipe()
    start = time.monotonic()
    c1 = os.fork()
    if c1 == 0:
        _c1(job, slot, is_root, result_w, output_w, status_w, [result_r, output_r, status_r])
    for fd in (result_w, output_w, status_w):
        os.close(fd)
    buffers = {result_r: bytearray(), output_r: bytearray(), status_r: bytearray()}
    open_fds = set(buffers)
    output = bytearray()
    messages: list[dict] = []
    status_messages: list[dict] = []
    c2 = None
    status = None
    timed_out = False
    deadline = start + SETUP_GRACE + job["timeout"]
    ended_at = None
    mode = "root"
    while open_fds:
        now = time.monotonic()
        if ended_at is not None:
            limit = ended_at + DRAIN_GRACE
        else:
            limit = deadline
        if now >= limit:
            if ended_at is None:
                timed_out = any(m.get("kind") == "commit" for m in messages)
                _kill(c1, c2, mode)
                ended_at = now
                continue
            break
        ready, _, _ = select.select(list(open_fds), [], [], limit - now)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
                continue
            if fd == output_r:
                if len(output) < OUTPUT_LIMIT:
                    output += chunk[: OUTPUT_LIMIT - len(output)]
                continue
            buffers[fd] += chunk
            parsed = _frames(buffers[fd])
            if fd == result_r:
                for message in parsed:
                    if message.get("kind") == "commit" and not any(m.get("kind") == "commit" for m in messages):
                        deadline = time.monotonic() + job["timeout"]
                    messages.append(message)
            else:
                status_messages += parsed
                for message in parsed:
                    if "pid" in message and c2 is None:
                        c2, mode = int(message["pid"]), str(message.get("mode"))
                    if "status" in message and status is None:
                        status = int(message["status"])
                        if ended_at is None:
                            ended_at = time.monotonic()
                        if mode == "plain" and c2:
                            _killpg(c2)
    if status is None:  # the drain grace ran out: make sure nothing is left
        _kill(c1, c2, mode, both=True)
    for fd in buffers:
        os.close(fd)
    os.waitpid(c1, 0)
    seconds = (ended_at or time.monotonic()) - start
    text = output.decode("utf-8", errors="replace")
    verdict_status, detail = _classify(messages, status, timed_out, text)
    commit = next((m for m in messages if m.get("kind") == "commit"), {})
    if commit.get("scratch"):
        shutil.rmtree(commit["scratch"], ignore_errors=True)
    reply = {"status": verdict_status, "detail": detail, "seconds": round(seconds, 4), "output": text}
    if job.get("probe"):
        reply["layers"] = commit.get("layers", []) + [("wall-clock kill", mode != "plain" or bool(c2),
                                                       "the worker SIGKILLs the sample's namespace at the deadline"
                                                       if mode != "plain" else "the worker kills the sample's process group")]
    return reply


def _kill(c1: int, c2: int | None, mode: str, both: bool = False) -> None:
    """SIGKILL C2 (pid 1 of the sample's namespace: the kernel kills the rest). C1 then reports and exits."""
    if c2:
        try:
            os.kill(c2, signal.SIGKILL)
        except OSError:
            pass
        if mode == "plain":
            _killpg(c2)
    if both or not c2:
        try:
            os.kill(c1, signal.SIGKILL)
        except OSError:
            pass


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def main() -> None:
    slot = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    sandbox.prctl(sandbox.PR_SET_PDEATHSIG, sandbox.SIGKILL)
    jobs = os.fdopen(os.dup(0), "rb")
    replies = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(null, fd)
    for name in harness.WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    is_root = os.geteuid() == 0
    write_message(replies, {"ready": True})
    while True:
        job = read_message(jobs)
        if job is None:
            return
        try:
            reply = run_job(job, slot, is_root)
        except Exception as exc:  # noqa: BLE001 - the worker must answer every job
            reply = {"status": "crashed", "detail": f"worker error: {type(exc).__name__}: {exc}", "seconds": 0.0, "output": ""}
        write_message(replies, reply)
