"""J's ends of the pipes to one sample (see judge.py): the proxy the test calls, each call's
arguments and the sample's reply as plain data, the sample's exceptions rebuilt by name, and the
time each call took, charged by the judge's own clock (callclock.py).

A test may plan its calls (`__call_plan__(inputs, limits)`, EvalPlus sets): the channel then
sends them in batches, up to MAX_BATCH calls that fit in the pipe, and reads the replies as they
come; each reply is still charged its own CPU time (callclock.Ledger), and the test still
compares one reply after another and stops at the first that fails (the sample may have run the
rest of the batch: its replies are never read).
"""

from __future__ import annotations

import builtins
import os
import struct
import time
from typing import NoReturn

from pycodex.execution.callclock import CallClock, Ledger, find_sample
from pycodex.execution.plain import FrameReader, NotPlain, decode, encode, write_frame

FREE_CODEC, FREE_SLACK = 3.0, 0.002  # S's CPU between two calls that is not charged: 3 x J's on the same values + 2 ms
MAX_BATCH = 64  # calls of a plan sent at once
BATCH_CPU = 0.05  # CPU seconds of a batch under which the next one may be twice as long

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


class Broken(BaseException):
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
        self.ledger: Ledger | None = None  # J's clock on S, made at the first call with a limit
        self.late = False  # a call ran past its limit unanswered: its reply would answer the next
        self.planned: tuple[list, list] | None = None  # the test's plan: inputs and their limits
        self.index = self.sent = 0  # the plan's next call, and the first not yet sent
        self.batch, self.batch_base = 4, 0.0  # the next batch's length; S's CPU when this one was sent
        self.batch_calls = 0
        self.encoded: list[float] = []  # J's CPU encoding each call of the batch
        self.decoded = 0.0  # J's CPU decoding the last reply
        self.pace = 0.0  # S's CPU per planned call in the last batch (J naps that long per reply due)

    def set_limit(self, seconds) -> None:
        """The test's `__call_limit__(seconds)`: the next call's limit, in CPU seconds, timed here
        (callclock.py: a call over it raises TimeoutError in the test); the sample's harness also
        arms a timer on it, which only stops an honest call sooner."""
        self.limit = _limit(seconds)

    def _fail(self, kind: str, detail: str) -> NoReturn:
        if self.abort is None:
            self.abort = (kind, detail)
        raise Broken(detail)

    def plan(self, inputs, limits) -> None:
        """The test's `__call_plan__(inputs, limits)`: its next calls will be candidate(*inputs[i]),
        in order, each with limits[i]. They are sent in batches (one round trip for many calls);
        every reply is still charged its own CPU time (callclock.Ledger)."""
        if self.index < self.sent:
            raise RuntimeError("a plan while calls of the last one are unanswered")
        ok = type(inputs) is list and type(limits) is list and len(inputs) == len(limits)
        self.planned, self.index, self.sent = ((inputs, limits) if ok else None), 0, 0

    def _in_plan(self, args: tuple, kwargs: dict) -> bool:
        if self.planned is None or kwargs or self.index >= len(self.planned[0]):
            return False
        expected = self.planned[0][self.index]
        return type(expected) in (list, tuple) and len(expected) == len(args) and all(
            a is b for a, b in zip(args, expected))

    def receive(self):
        try:
            data = self.replies.next(self.ledger.read) if self.ledger is not None else self.replies.next()
        except NotPlain as exc:
            self._fail("failed", f"the sample sent a malformed message: {exc}")
        except OSError as exc:
            self._fail("gone", f"the sample's pipe broke: {exc.strerror}")
        if data is None:
            self._fail("gone", "the sample ended before the tests finished")
        started = time.process_time()
        try:
            return decode(data)
        except NotPlain as exc:
            self._fail("failed", f"the sample sent a malformed message: {exc}")
        finally:
            self.decoded = time.process_time() - started

    def call(self, args: tuple, kwargs: dict):
        if self.abort is not None:
            raise Broken(self.abort[1])
        if self.late:
            self._fail("failed", f"{self.entry_point}() was called again after a call ran past its limit")
        if self._in_plan(args, kwargs):
            assert self.planned is not None
            if self.index == self.sent:
                self._send_batch(*self.planned)
            index, first = self.index, self.index == self.sent - self.batch_calls
            limit, self.index = _limit(self.planned[1][index]), index + 1
            self.calls += 1
            reply = self._reply(limit, self.encoded[index - self.sent + self.batch_calls] + (0.0 if first else self.decoded),
                                last=self.index == self.sent)
        else:
            if self.index < self.sent:  # (the plan's calls are in the sample's pipe: nothing else can go)
                self._fail("failed", "the test left its plan of calls")
            limit, started = self.limit, time.process_time()
            data = encode_call(args, kwargs, limit, self.entry_point)
            self._send([data], timed=limit is not None)
            self.calls += 1
            reply = self._reply(limit, time.process_time() - started, last=True)
        return self._answer(reply)

    def _send(self, frames: list[bytes], timed: bool) -> None:
        """Write calls (no reply outstanding); a timed one is charged from S's CPU now."""
        if timed:
            self._ledger().restart()
        try:
            write_frame(self.call_fd, frames[0]) if len(frames) == 1 else _write_frames(self.call_fd, frames)
        except OSError:
            self._fail("gone", "the sample ended before the tests finished")

    def _send_batch(self, inputs: list, limits: list) -> None:
        """The plan's next calls, as many as the batch length and the pipe's capacity allow (so that
        the write never waits for the sample, which may be writing replies)."""
        frames: list[bytes] = []
        size, end, self.encoded = 0, self.index, []
        room = _pipe_capacity(self.call_fd)
        while end < len(inputs) and end - self.index < self.batch:
            started = time.process_time()
            try:
                data = encode_call(tuple(inputs[end]), {}, _limit(limits[end]), self.entry_point)
            except TypeError:
                if end == self.index:
                    raise
                break
            if frames and size + 4 + len(data) > room:
                break
            frames.append(data)
            self.encoded.append(time.process_time() - started)
            size, end = size + 4 + len(data), end + 1
        self._send(frames, timed=True)
        self.sent, self.batch_base, self.batch_calls = end, self._ledger().base or 0.0, end - self.index

    def _reply(self, limit: float | None, codec: float, last: bool):
        """The next reply, charged its call's time when it has a limit (TimeoutError over it).
        codec: J's CPU on the values S handled since its last call (this call's arguments, and
        the last return value within a batch): S may take up to FREE_CODEC x that, uncharged."""
        if limit is None:
            return self.receive()
        ledger = self._ledger()
        timer = ledger.timer()
        free = FREE_CODEC * codec + FREE_SLACK
        due = self.sent - self.index + 1 if self.planned is not None else 0  # replies S has still to write
        over = None if _has_frame(self.replies.buffer) else timer.wait(self.replies.fd, limit, limit + free, due * self.pace)
        if over is None:
            reply = self.receive()
            interval = reply[-2:] if type(reply) is tuple and len(reply) >= 4 else None
            over = ledger.settle(timer, interval, free, FREE_CODEC * self.decoded + FREE_SLACK, last)
            if last and self.index == self.sent and self.planned is not None:
                used = (ledger.base or 0.0) - self.batch_base
                self.batch = min(MAX_BATCH, self.batch * 2) if used < BATCH_CPU else 1
                self.pace = used / max(1, self.batch_calls)
            if over <= limit:
                return reply
        else:
            self.late = True
        raise TimeoutError(f"the call ran past its CPU-time limit ({limit:g} s of CPU time and waiting, "
                           f"measured by the judge: {over:.2f} s)")

    def _answer(self, reply):
        """The reply as the test sees it: a value, the sample's exception raised, or an Opaque."""
        if type(reply) is tuple and len(reply) == 4 and reply[0] == "return":
            return reply[1]
        if type(reply) is tuple and len(reply) == 6 and reply[0] == "raise":
            message = reply[3][:MESSAGE_LIMIT] if type(reply[3]) is str else ""
            raise rebuild_exception(reply[1], reply[2], message)
        if type(reply) is tuple and len(reply) == 4 and reply[0] == "notplain" and type(reply[1]) is str:
            if self.opaque:
                return Opaque(reply[1][:200])
            self._fail("failed", f"{self.entry_point}() returned {reply[1][:200]}, which is not plain data "
                       "(the strict judge accepts None, bool, int, float, complex, str, bytes, list, tuple, "
                       f"dict, set, frozenset) [call #{self.calls}]")
        self._fail("failed", "the sample sent a malformed reply")

    def _ledger(self) -> Ledger:
        if self.ledger is None:
            sample = find_sample(self.sandbox, self.nspid) if self.sandbox and type(self.nspid) is int else None
            self.ledger = Ledger(CallClock(sample, self.sandbox, _accounting()))
        return self.ledger

    def proxy(self):
        call = self.call

        def candidate(*args, **kwargs):
            return call(args, kwargs)

        candidate.__name__ = candidate.__qualname__ = self.entry_point
        return candidate


def encode_call(args: tuple, kwargs: dict, limit: float | None, entry_point: str) -> bytes:
    try:
        return encode(("call", args, kwargs) if limit is None else ("call", args, kwargs, limit))
    except NotPlain as exc:
        raise TypeError(f"{entry_point}() was given {exc}: the strict judge passes plain data only") from None


def _limit(seconds) -> float | None:
    return float(seconds) if type(seconds) in (int, float) and seconds > 0 else None


def _write_frames(fd: int, frames: list[bytes]) -> None:
    view = memoryview(b"".join(struct.pack(">I", len(data)) + data for data in frames))
    while view:
        view = view[os.write(fd, view):]


def _has_frame(buffer: bytes) -> bool:
    return len(buffer) >= 4 and len(buffer) >= 4 + struct.unpack_from(">I", buffer)[0]


def _pipe_capacity(fd: int) -> int:
    import fcntl

    try:
        return fcntl.fcntl(fd, 1032)  # F_GETPIPE_SZ
    except OSError:
        return 4096


_ACCOUNTING: list[str] = []


def _accounting() -> str:
    """How this machine lets J meter a sample (limits.accounting(), worked out once per J)."""
    if not _ACCOUNTING:
        from pycodex.execution import limits

        _ACCOUNTING.append(limits.accounting())
    return _ACCOUNTING[0]
