"""The executor's wire format: length-prefixed frames (a 4-byte big-endian size, then the body)
between the main process, each worker W, its zygote Z, the sample S and the judge J. Jobs go to
Z and J over a Unix socket with their pipes attached (SCM_RIGHTS); messages are JSON objects.

Only the standard library: Z and J import this before anything else of pycodex."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import struct
from collections import deque

MESSAGE_LIMIT = 1 << 20  # a message announced longer than this is the sample's garbage
_ENCODED_TESTS: dict[str, str] = {}  # a test -> its JSON: consecutive jobs share a test (EvalPlus: 44 KB each on MBPP+)
_ENCODED_KEEP = 8


def encode_job(message: dict) -> bytes:
    """A job's JSON, for a worker (the main process's side): json.dumps(message), its test
    written once for all the jobs of that test."""
    test = message.get("test")
    if type(test) is not str or len(test) < 4096:
        return json.dumps(message).encode()
    encoded = _ENCODED_TESTS.get(test)
    if encoded is None:
        if len(_ENCODED_TESTS) >= _ENCODED_KEEP:
            _ENCODED_TESTS.clear()
        encoded = _ENCODED_TESTS[test] = json.dumps(test)
    rest = json.dumps({key: value for key, value in message.items() if key != "test"})
    return (rest[:-1] + (", " if len(rest) > 2 else "") + '"test": ' + encoded + "}").encode()


def pop_frame(buffer: bytearray, limit: int | None = None) -> bytes | None:
    """The body of the length-prefixed frame at the front of buffer, removed from it; None while
    it is incomplete. A frame announced longer than `limit` empties the buffer (garbage)."""
    if len(buffer) < 4:
        return None
    (size,) = struct.unpack(">I", buffer[:4])
    if limit is not None and size > limit:
        buffer.clear()
        return None
    if len(buffer) < 4 + size:
        return None
    data = bytes(buffer[4 : 4 + size])
    del buffer[: 4 + size]
    return data


class JobReader:
    """W's end of the job stream: length-prefixed frames read from a raw descriptor, so that W can
    also take in the job queued behind the one it runs (and hand it back, see Zygote.run)."""

    def __init__(self, fd: int):
        self.fd, self.buffer, self.closed = fd, bytearray(), False
        self.frames: deque[bytes] = deque()

    def fill(self) -> None:
        """Read what the descriptor has now (call when select says it is readable)."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.closed = True
        self.buffer += chunk
        while (data := pop_frame(self.buffer)) is not None:
            self.frames.append(data)

    def frame(self) -> bytes | None:
        """The next complete frame, popped, or None."""
        return self.frames.popleft() if self.frames else None

    def next(self) -> bytes | None:
        """Block until a whole frame is there; None at the end of the stream."""
        while not self.frames and not self.closed:
            self.fill()
        return self.frame()


def write_message(fd: int, message: dict) -> None:
    data = json.dumps(message).encode()
    view = memoryview(struct.pack(">I", len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def read_messages(buffer: bytearray) -> list[dict]:
    """Pop every complete length-prefixed JSON message off the front of buffer (bad ones are skipped)."""
    messages = []
    for data in read_frames(buffer):
        try:
            message = json.loads(data)
        except ValueError:
            continue
        if isinstance(message, dict):
            messages.append(message)
    return messages


def recv_job(sock: socket.socket) -> tuple[bytes, list[int]] | None:
    """One job from W: its body and its pipes (for Z: result and output, then with the strict
    judge the sample's ends of the call and reply pipes; for the judge: its ends of those);
    None when W is gone."""
    header, fds, _, _ = socket.recv_fds(sock, 4, 4)
    fds = [_high(fd) for fd in fds]
    while header and len(header) < 4:
        more = sock.recv(4 - len(header))
        if not more:
            return None
        header += more
    if len(header) < 4 or len(fds) not in (2, 4):
        return None
    body = _recv_exactly(sock, struct.unpack(">I", header)[0])
    return (body, fds) if body is not None else None


def recv_pipes(sock: socket.socket) -> list[int] | None:
    """The zygote's job from W: descriptors only (the job itself in a memfd, which only the sample
    reads, then the result and output pipes, and with the strict judge the sample's ends of the
    call and reply pipes); None when W is gone."""
    message, fds, _, _ = socket.recv_fds(sock, 1, 8)
    fds = [_high(fd) for fd in fds]
    if message != b"J" or len(fds) not in (3, 5):
        for fd in fds:
            os.close(fd)
        return None
    return fds


def read_frames(buffer: bytearray) -> list[bytes]:
    """Pop every complete length-prefixed frame off the front of buffer."""
    frames = []
    while (data := pop_frame(buffer, limit=MESSAGE_LIMIT)) is not None:
        frames.append(data)
    return frames


def _high(fd: int) -> int:
    """fd moved to 10 or above, away from 0-4, which the sample's dup2()s overwrite."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(min(size - len(data), 1 << 20))
        if not chunk:
            return None
        data += chunk
    return bytes(data)
