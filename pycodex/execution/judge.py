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
from typing import NoReturn

from pycodex.execution.callclock import CallClock, CallTimer, find_sample
from pycodex.execution.harness import describe
from pycodex.execution.plain import FrameReader, NotPlain, decode, encode, write_frame

MESSAGE_LIMIT = 2000  # characters of a sample's exception message kept
_SYNTHESIZED: dict[str, type] = {}


class SampleError(Exception):
    """Base of the classes the judge makes for a sample's own exception types (by name only)."""


class Opaque:
    """What a sample returned that is not plain data, where the test accepts that (its namespace sets
    `_OPAQUE_RETURNS`: EvalPlus's MBPP tasks judged by "not None"). Only its description crossed."""

    __slots__ = ("description",)

    def __init__(self, description: str):
        self.description = description

    def __repr__(self) -> str:
        return f"<not plain data: {self.description}>"


class _Abort(BaseException):
    """The channel to the sample is unusable (gone, a malformed or non-plain reply): no pass."""


# A sample's exception with one of these names is rebuilt as the builtin itself. Not
# StopIteration (it would end the test's own loops), nor BaseExceptions like SystemExit.
_BUILTIN_EXCEPTIONS = {name: cls for name, cls in vars(builtins).items()
                       if isinstance(cls, type) and issubclass(cls, Exception)
                       and cls not in (StopIteration, StopAsyncIteration)}


def rebuild_exception(name, args, message) -> BaseException:
    """The sample's exception as an exception of the judge: the builtin of that name, or a
    SampleError subclass named after it. Only strings and plain args are used."""
    if not (type(name) is str and name.isidentifier() and len(name) <= 100):
        name = "Exception"
    message = message if type(message) is str else ""
    cls = _BUILTIN_EXCEPTIONS.get(name)
    if cls is not None:
        for attempt in ((args,) if type(args) is tuple else ()) + ((message,) if message else (), ()):
            try:
                return cls(*attempt)
            except Exception:  # noqa: BLE001 - e.g. UnicodeDecodeError needs five arguments
                continue
    cls = _SYNTHESIZED.get(name)
    if cls is None:
        if len(_SYNTHESIZED) >= 1000:  # (names are the sample's: the judge lives on, its memory must not grow)
            _SYNTHESIZED.clear()
        cls = _SYNTHESIZED[name] = type(name, (SampleError,), {"__module__": "sample"})
    return cls(message) if message else cls()


class Channel:
    """J's ends of the pipes to one sample, and the proxy that calls through them."""

    def __init__(self, call_fd: int, reply_fd: int, entry_point: str, sandbox: int | None = None):
        self.call_fd, self.replies, self.entry_point = call_fd, FrameReader(reply_fd), entry_point
        self.abort: tuple[str, str] | None = None  # (verdict kind, detail) once unusable
        self.calls = 0
        self.limit: float | None = None  # CPU seconds the sample may spend on the next call (set_limit)
        self.opaque = False  # a non-plain return is an Opaque value, not a failure
        self.sandbox = sandbox  # Z's host pid (from W)
        self.nspid: int | None = None  # S's pid in its namespace (its hello)
        self.clock: CallClock | None = None  # made at the first call with a limit
        self.late = False  # a call ran past its limit unanswered: its reply would answer the next

    def set_limit(self, seconds) -> None:
        """The test's `__call_limit__(seconds)`: the next call's limit, in CPU seconds, timed here
        (callclock.py: a call over it raises TimeoutError in the test); the sample's harness also
        arms a timer on it, which only stops an honest call sooner."""
        self.limit = float(seconds) if type(seconds) in (int, float) and seconds > 0 else None

    def _fail(self, kind: str, detail: str) -> NoReturn:
        if self.abort is None:
            self.abort = (kind, detail)
        raise _Abort(detail)

    def receive(self):
        try:
            data = self.replies.next()
        except NotPlain as exc:
            self._fail("failed", f"the sample sent a malformed message: {exc}")
        except OSError as exc:
            self._fail("gone", f"the sample's pipe broke: {exc.strerror}")
        if data is None:
            self._fail("gone", "the sample ended before the tests finished")
        try:
            return decode(data)
        except NotPlain as exc:
            self._fail("failed", f"the sample sent a malformed message: {exc}")

    def call(self, args: tuple, kwargs: dict):
        if self.abort is not None:
            raise _Abort(self.abort[1])
        if self.late:
            self._fail("failed", f"{self.entry_point}() was called again after a call ran past its limit")
        limit = self.limit
        try:
            data = encode(("call", args, kwargs) if limit is None else ("call", args, kwargs, limit))
        except NotPlain as exc:
            raise TypeError(f"{self.entry_point}() was given {exc}: the strict judge passes plain data only") from None
        self.calls += 1
        timer = self._clock().begin() if limit is not None else None
        try:
            write_frame(self.call_fd, data)
        except OSError:
            self._fail("gone", "the sample ended before the tests finished")
        reply = self._reply_within(timer, limit) if timer is not None and limit is not None else self.receive()
        if type(reply) is tuple and len(reply) == 2 and reply[0] == "return":
            return reply[1]
        if type(reply) is tuple and len(reply) == 4 and reply[0] == "raise":
            message = reply[3][:MESSAGE_LIMIT] if type(reply[3]) is str else ""
            raise rebuild_exception(reply[1], reply[2], message)
        if type(reply) is tuple and len(reply) == 2 and reply[0] == "notplain" and type(reply[1]) is str:
            if self.opaque:
                return Opaque(reply[1][:200])
            self._fail("failed", f"{self.entry_point}() returned {reply[1][:200]}, which is not plain data "
                       "(the strict judge accepts None, bool, int, float, complex, str, bytes, list, tuple, "
                       f"dict, set, frozenset) [call #{self.calls}]")
        self._fail("failed", "the sample sent a malformed reply")

    def _clock(self) -> CallClock:
        if self.clock is None:
            sample = find_sample(self.sandbox, self.nspid) if self.sandbox and type(self.nspid) is int else None
            self.clock = CallClock(sample, self.sandbox, _accounting())
        return self.clock

    def _reply_within(self, timer: CallTimer, limit: float):
        """The reply, read once it comes within the call's limit; TimeoutError once the call is over
        it (the reply unread: the channel takes no more calls)."""
        over = None if self.replies.buffer else timer.wait(self.replies.fd, limit)
        if over is None:
            reply = self.receive()
            over = timer.charge()
            if over <= limit:
                return reply
        else:
            self.late = True
        raise TimeoutError(f"the call ran past its CPU-time limit ({limit:g} s of CPU time and waiting, "
                           f"measured by the judge: {over:.2f} s)")

    def proxy(self):
        call = self.call

        def candidate(*args, **kwargs):
            return call(args, kwargs)

        candidate.__name__ = candidate.__qualname__ = self.entry_point
        return candidate


_CODE_CACHE: dict[tuple[str, str], object] = {}
_ACCOUNTING: list[str] = []


def _accounting() -> str:
    """How this machine lets J meter a sample (limits.accounting(), worked out once per J)."""
    if not _ACCOUNTING:
        from pycodex.execution import limits

        _ACCOUNTING.append(limits.accounting())
    return _ACCOUNTING[0]


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
    except _Abort:
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
        test_code = _compiled(test, "<test>")
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
    if kind != "gone" and isinstance(exc, _Abort):
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

    def start(self, job: dict, call_fd: int, reply_fd: int, sandbox: int | None = None) -> None:
        """Hand J a job and its ends of the pipes (the caller closes its copies); sandbox: the host
        pid of the zygote whose child answers the calls (J's clock finds the sample under it)."""
        fields = {k: job[k] for k in ("entry_point", "test", "prompt", "offset") if k in job}
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

