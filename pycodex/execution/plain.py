"""Plain data across the judge/sample boundary: a codec that can never run code.

Values: None, bool, int (any size), float (inf, nan, -0.0 and the exact bits), complex, str,
bytes, list, tuple, dict, set, frozenset, nested. Exact types only: a subclass of int, str,
list, dict, ... (an IntEnum, a namedtuple, a Counter) is not plain data, because its methods
are the sample's. Self-references and cycles are rejected, and so is anything nested deeper
than MAX_DEPTH, holding more than MAX_ITEMS values, or encoding to more than MAX_BYTES.

The decoder is the trusted side of the boundary (the judge decodes what a sample sends): it
reads tags and lengths, checks every length against what is left of the buffer before using
it, builds only the builtin types above and calls nothing that the data names. No pickle, no
marshal, no eval. Any malformed input is a NotPlain.

Wire format: one tag byte, then for int/str/bytes a 4-byte big-endian length and the bytes
(ints as signed little-endian two's complement), for float 8 bytes and complex 16 (IEEE 754),
for containers a 4-byte count and the items (dicts: key, value, key, value, ...).
Standard library only: imported inside the sandbox and by the judge.
"""

from __future__ import annotations

import os
import struct

MAX_DEPTH = 100  # containers inside containers
MAX_ITEMS = 1_000_000  # values in one message
MAX_BYTES = 16 * 1024 * 1024  # one encoded message

_NONE, _TRUE, _FALSE, _INT, _FLOAT, _COMPLEX = b"N", b"T", b"F", b"i", b"f", b"c"
_STR, _BYTES, _LIST, _TUPLE, _DICT, _SET, _FROZENSET = b"s", b"b", b"l", b"t", b"d", b"S", b"z"
_U32, _DOUBLE, _TWO_DOUBLES = struct.Struct(">I"), struct.Struct("<d"), struct.Struct("<dd")


class NotPlain(ValueError):
    """A value that is not plain data (encoding), or bytes that are not a valid encoding (decoding)."""


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value + (value < 0)).bit_length() // 8 + 1, "little", signed=True)


def encode(value) -> bytes:
    """The encoding of a plain value; NotPlain (with the reason) for anything else."""
    out: list[bytes] = []
    size = [0, 0]  # bytes, items
    on_path: set[int] = set()  # ids of the containers being encoded: a repeat is a cycle
    append, u32, type_ = out.append, _U32.pack, type

    def put(item, depth: int) -> None:
        size[1] += 1
        if size[1] > MAX_ITEMS:
            raise NotPlain(f"more than {MAX_ITEMS} values")
        cls = type_(item)
        if item is None:
            append(_NONE)
        elif cls is bool:
            append(_TRUE if item else _FALSE)
        elif cls is int:
            data = _int_bytes(item)
            size[0] += len(data)
            append(_INT + u32(len(data)) + data)
        elif cls is float:
            append(_FLOAT + _DOUBLE.pack(item))
        elif cls is complex:
            append(_COMPLEX + _TWO_DOUBLES.pack(item.real, item.imag))
        elif cls is str:
            data = item.encode("utf-8", "surrogatepass")
            size[0] += len(data)
            append(_STR + u32(len(data)) + data)
        elif cls is bytes:
            size[0] += len(item)
            append(_BYTES + u32(len(item)) + item)
        elif cls in _CONTAINER_TAGS:
            if depth >= MAX_DEPTH:
                raise NotPlain(f"nested deeper than {MAX_DEPTH}")
            key = id(item)
            if key in on_path:
                raise NotPlain(f"a {cls.__name__} that contains itself")
            on_path.add(key)
            if cls is dict:
                append(_DICT + u32(len(item)))
                for k, v in dict.items(item):
                    put(k, depth + 1)
                    put(v, depth + 1)
            else:
                items = list(item) if cls in (set, frozenset) else item
                append(_CONTAINER_TAGS[cls] + u32(len(items)))
                for element in items:
                    put(element, depth + 1)
            on_path.discard(key)
        else:
            raise NotPlain(f"an object of type {_type_name(cls)}")
        if size[0] > MAX_BYTES:
            raise NotPlain(f"more than {MAX_BYTES >> 20} MiB")

    try:
        put(value, 0)
    except RecursionError:
        raise NotPlain(f"nested deeper than {MAX_DEPTH}") from None
    data = b"".join(out)
    if len(data) > MAX_BYTES:
        raise NotPlain(f"more than {MAX_BYTES >> 20} MiB")
    return data


_CONTAINER_TAGS: dict[type, bytes] = {list: _LIST, tuple: _TUPLE, dict: _DICT, set: _SET, frozenset: _FROZENSET}


def _type_name(cls) -> str:
    try:
        name = type.__dict__["__qualname__"].__get__(cls)  # the real name, whatever the class claims
        module = type.__dict__["__module__"].__get__(cls)
    except (TypeError, AttributeError, KeyError):
        return "non-plain"
    name = name if isinstance(name, str) else "?"
    return f"{module}.{name}" if isinstance(module, str) and module != "builtins" else name


def decode(data: bytes):
    """The value an encoding stands for; NotPlain when data is not exactly one valid encoding."""
    if len(data) > MAX_BYTES:
        raise NotPlain(f"more than {MAX_BYTES >> 20} MiB")
    view = memoryview(data)
    end = len(data)
    pos = [0]
    count = [0]
    u32 = _U32.unpack_from

    def length() -> int:
        if pos[0] + 4 > end:
            raise NotPlain("truncated")
        (n,) = u32(view, pos[0])
        pos[0] += 4
        return n

    def chunk(n: int) -> memoryview:
        start = pos[0]
        if start + n > end:
            raise NotPlain("truncated")
        pos[0] = start + n
        return view[start : start + n]

    def count_items(n: int) -> None:
        # every item takes at least one byte: a count larger than what is left is a lie
        if n > end - pos[0]:
            raise NotPlain("truncated")

    def get(depth: int):
        count[0] += 1
        if count[0] > MAX_ITEMS:
            raise NotPlain(f"more than {MAX_ITEMS} values")
        tag = bytes(chunk(1))
        if tag == _NONE:
            return None
        if tag == _TRUE:
            return True
        if tag == _FALSE:
            return False
        if tag == _INT:
            return int.from_bytes(chunk(length()), "little", signed=True)
        if tag == _FLOAT:
            return _DOUBLE.unpack(chunk(8))[0]
        if tag == _COMPLEX:
            real, imag = _TWO_DOUBLES.unpack(chunk(16))
            return complex(real, imag)
        if tag == _STR:
            try:
                return str(chunk(length()), "utf-8", "surrogatepass")
            except UnicodeDecodeError:
                raise NotPlain("a str that is not UTF-8") from None
        if tag == _BYTES:
            return bytes(chunk(length()))
        if tag in (_LIST, _TUPLE, _SET, _FROZENSET, _DICT):
            if depth >= MAX_DEPTH:
                raise NotPlain(f"nested deeper than {MAX_DEPTH}")
            n = length()
            count_items(n)
            if tag == _DICT:
                result = {}
                for _ in range(n):
                    key = get(depth + 1)
                    try:
                        result[key] = get(depth + 1)
                    except TypeError:
                        raise NotPlain("an unhashable dict key") from None
                return result
            items = [get(depth + 1) for _ in range(n)]
            if tag == _LIST:
                return items
            if tag == _TUPLE:
                return tuple(items)
            try:
                return set(items) if tag == _SET else frozenset(items)
            except TypeError:
                raise NotPlain("an unhashable set element") from None
        raise NotPlain(f"unknown tag {tag!r}")

    value = get(0)
    if pos[0] != end:
        raise NotPlain("trailing bytes")
    return value


# -- frames on a pipe: a 4-byte big-endian length, then one encoding ---------------------------------

_FRAME_LIMIT = MAX_BYTES + 64


def write_frame(fd: int, data: bytes) -> None:
    """Write one frame, all of it (a pipe may take it in parts)."""
    view = memoryview(_U32.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def read_frame(fd: int) -> bytes | None:
    """The next frame's body; None at the end of the stream. NotPlain when the length is over the cap
    or the stream ends inside a frame."""
    header = _read_exactly(fd, 4)
    if header is None:
        return None
    (size,) = _U32.unpack(header)
    if size > _FRAME_LIMIT:
        raise NotPlain(f"a frame of {size} bytes, over the limit")
    body = _read_exactly(fd, size) if size else b""
    if body is None:
        raise NotPlain("the stream ended inside a frame")
    return body


def _read_exactly(fd: int, size: int, read=os.read) -> bytes | None:
    first = read(fd, size)
    if len(first) == size:
        return first
    if not first:
        return None
    parts, got = [first], len(first)
    while got < size:
        part = read(fd, min(size - got, 1 << 20))
        if not part:
            raise NotPlain("the stream ended inside a frame")
        parts.append(part)
        got += len(part)
    return b"".join(parts)
