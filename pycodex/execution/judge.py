"""The strict judge: the problem's test runs in a trusted process that never executes sample code.

One judge process J per worker, forked from the worker W before any sandbox exists: another uid
than every sample (JUDGE_UID_BASE + slot when root), no capabilities, not dumpable, outside the
samples' PID namespace (they cannot name it, so cannot signal or trace it), no memory shared with
them. For each job W hands J the job and J's ends of two fresh pipes (the sample's ends go to the
zygote, never to J): J sends calls on one and reads replies on the other.

Per job J builds a fresh namespace from trusted code only: the problem's prompt (its imports and
helper definitions, like `poly` or `encode_cyclic`) and the problem's test. The entry point's name
in that namespace is a proxy; `check(proxy)` runs in J, with J's own builtins and modules. Each
call of the proxy sends its arguments to the sample as plain data (pycodex.execution.plain) and
returns the sample's return value decoded as plain data, or raises the sample's exception
rebuilt here (same type name and message). A pass is `check()` returning normally in J with the
channel to the sample intact; nothing the sample sends can say "passed".

The test is just trusted code: any test source defining `check(candidate)` works unchanged, such
as a generated one with many input/expected pairs compared in J (`assert candidate(*args) ==
expected`). Standard library only.
"""

from __future__ import annotations

import builtins
import json
import os
import socket
import struct

from pycodex.execution import testcode
from pycodex.execution.channel import MESSAGE_LIMIT, Channel, Broken
from pycodex.execution.harness import describe

_CODE_CACHE: dict[tuple[str, str], object] = {}
def _compiled(source: str, filename: str):
    key = (source, filename)
    code = _CODE_CACHE.get(key)
    if code is None:
        if len(_CODE_CACHE) >= 512:
            _CODE_CACHE.clear()
        code = _CODE_CACHE[key] = compile(source, filename, "exec", dont_inherit=True)
    return code


def _helpers(prompt: str):
    """The prompt's code (imports, helper functions): it ends with the entry point's docstring,
    so it compiles on its own; if it does not, the test runs without helpers."""
    try:
        return _compiled(prompt, "<prompt>")
    except (SyntaxError, ValueError):
        return None


def judge(job: dict, call_fd: int, reply_fd: int) -> dict:
    """Judge one job against the sample on the other end of the pipes. Returns the verdict message:
    {"kind": "passed" | "failed" | "out of memory" | "syntax error" | "gone", "detail": ...}."""
    entry_point, test, offset = job["entry_point"], job["test"], int(job.get("offset", 0))
    channel = Channel(call_fd, reply_fd, entry_point, job.get("sandbox") if type(job.get("sandbox")) is int else None)
    try:
        hello = channel.receive()  # the harness's first word, before any sample code: its pid
        first = channel.receive()  # the sample has run prompt + completion, or says why not
    except Broken:
        return _aborted(channel)
    if not (type(hello) is tuple and len(hello) == 2 and hello[0] == "hello" and type(hello[1]) is int):
        return {"kind": "failed", "detail": "the sample sent a malformed message"}
    channel.nspid = hello[1]
    if type(first) is tuple and len(first) == 3 and first[0] == "error" and first[1] in (
            "syntax error", "failed", "out of memory") and type(first[2]) is str:
        return {"kind": first[1], "detail": first[2][:MESSAGE_LIMIT]}
    if first != ("ready",):
        return {"kind": "failed", "detail": "the sample sent a malformed message"}
    try:
        path = job.get("test_code")  # (compiled once by the executor: testcode.py)
        test_code = (testcode.load(path, test) if type(path) is str else None) or _compiled(test, "<test>")
    except (SyntaxError, ValueError) as exc:
        lineno = getattr(exc, "lineno", None)
        return {"kind": "syntax error", "detail": f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}"
                + (f" (line {lineno + offset})" if lineno else "")}
    namespace: dict = {"__builtins__": builtins.__dict__.copy(), "__name__": "__judge__"}
    proxy = channel.proxy()
    try:
        helpers = _helpers(job.get("prompt", ""))
        if helpers is not None:
            exec(helpers, namespace)
        namespace[entry_point] = proxy  # tests call it by name too (HumanEval/33, /37)
        namespace["__call_limit__"] = channel.set_limit
        namespace["__call_plan__"] = channel.plan
        exec(test_code, namespace)
        channel.opaque = namespace.get("_OPAQUE_RETURNS") is True
        check = namespace.get("check")
        if not callable(check):
            raise NameError("the test did not define check()")
        check(proxy)
    except BaseException as exc:  # noqa: BLE001 - whatever the test raised is its verdict
        if channel.abort is not None:
            return _aborted(channel, exc, offset, test)
        kind = "out of memory" if isinstance(exc, MemoryError) else "failed"
        try:
            return {"kind": kind, "detail": describe(exc, offset, test.splitlines())}
        except BaseException:  # noqa: BLE001
            return {"kind": kind, "detail": type(exc).__name__}
    if channel.abort is not None:  # the test swallowed the broken channel: still no pass
        return _aborted(channel)
    return {"kind": "passed", "calls": channel.calls}


def _aborted(channel: Channel, exc: BaseException | None = None, offset: int = 0, test: str = "") -> dict:
    kind, detail = channel.abort or ("failed", "the channel to the sample broke")
    if kind != "gone" and isinstance(exc, Broken):
        detail = describe(exc, offset, test.splitlines(), text=detail)
    return {"kind": kind, "detail": detail}


# -- the judge process ------------------------------------------------------------------------------


def _own_view_of_the_files() -> None:
    """Before J leaves root: its own mount namespace, every mount read-only, and Python's
    directories visible to its uid when they live under a closed one (/root/.pyenv), so that a test
    can import any module. Best effort: without it J imports only what W had imported."""
    from pycodex.execution import sandbox

    try:
        sandbox.unshare(sandbox.CLONE_NEWNS)
        sandbox.mount(None, "/", None, sandbox.MS_REC | sandbox.MS_PRIVATE)
        sandbox._expose_python([])
        sandbox.remount_read_only(writable=("/proc", "/sys", "/dev"))
    except OSError:
        pass


def _drop_privileges(uid: int | None, memory_mb: int) -> None:
    import resource

    from pycodex.execution import sandbox

    if uid is not None:
        _own_view_of_the_files()
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)  # a non-root uid: every capability is gone with it
    sandbox.prctl(sandbox.PR_SET_NO_NEW_PRIVS, 1)
    sandbox.prctl(sandbox.PR_SET_DUMPABLE, 0)  # no ptrace, no /proc/PID/mem, even by the same uid
    for which, value in ((resource.RLIMIT_AS, memory_mb * 1024 * 1024), (resource.RLIMIT_CORE, 0),
                         (resource.RLIMIT_NOFILE, 64)):
        resource.setrlimit(which, (value, value))


def _main(sock: socket.socket, uid: int | None, memory_mb: int) -> None:
    """J: drop privileges, then judge one job after another. Never returns."""
    from pycodex.execution import sandbox
    from pycodex.execution.wire import recv_job, write_message

    try:
        sandbox.prctl(sandbox.PR_SET_PDEATHSIG, sandbox.SIGKILL)
        keep = sock.fileno()
        os.closerange(3, keep)
        os.closerange(keep + 1, 1 << 16)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        os.chdir("/")
        _drop_privileges(uid, memory_mb)
        write_message(keep, {"ready": True})
        while True:
            received = recv_job(sock)
            if received is None:
                os._exit(0)
            body, fds = received
            call_fd, reply_fd = fds
            try:
                verdict = judge(json.loads(body), call_fd, reply_fd)
            finally:
                os.close(call_fd)  # the sample reads the end of its calls and exits
                os.close(reply_fd)
            write_message(keep, verdict)
    except BaseException:  # noqa: BLE001
        os._exit(1)


class JudgeProcess:
    """W's handle on its judge J."""

    def __init__(self, uid: int | None, memory_mb: int, wait: float = 10.0):
        import select

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            ours.close()
            _main(theirs, uid, memory_mb)
            os._exit(1)
        theirs.close()
        self.pid, self.sock, self.uid, self.buffer = pid, ours, uid, bytearray()
        self.usable = True  # set by Zygote.run after each job: False when J must be replaced
        ready = select.select([ours], [], [], wait)[0] and self.read_messages()
        if not ready or not ready[0].get("ready"):
            self.kill()
            raise RuntimeError("the judge did not start")

    def start(self, job: dict, call_fd: int, reply_fd: int, sandbox: int | None = None, compiled: bool = False) -> None:
        """Hand J a job and its ends of the pipes (the caller closes its copies); sandbox: the host
        pid of the zygote whose child answers the calls (J's clock finds the sample under it);
        compiled: J may load the test's code from the executor's file (testcode.py): never when
        samples share J's file system ("plain" mode)."""
        names = ("entry_point", "test", "prompt", "offset") + (("test_code",) if compiled else ())
        fields = {k: job[k] for k in names if k in job}
        data = json.dumps(fields | ({"sandbox": sandbox} if sandbox else {})).encode()
        socket.send_fds(self.sock, [struct.pack(">I", len(data))], [call_fd, reply_fd])
        self.sock.sendall(data)

    def read_messages(self) -> list[dict] | None:
        """What J has said (call when its socket is readable); None when J is gone."""
        from pycodex.execution.wire import read_messages

        chunk = self.sock.recv(65536)
        if not chunk:
            return None
        self.buffer += chunk
        return read_messages(self.buffer)

    def kill(self) -> None:
        try:
            os.kill(self.pid, 9)
        except OSError:
            pass
        self.sock.close()
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def judge_uid(is_root: bool, slot: int) -> int | None:
    from pycodex.execution.sandbox import JUDGE_UID_BASE

    return JUDGE_UID_BASE + slot if is_root else None

