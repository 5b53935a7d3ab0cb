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
for containers a 4-byte count and the items (dicts: key, value, key, value, ...). A list or tuple
of PACK_OVER or more values that are all exact ints of 64 bits and floats (HumanEval+ /130 returns
a million of them) is packed instead: tag, count, one kind byte per value ("i" or "f"), then 8
bytes per value (int64 or IEEE 754, little-endian), read back by struct in one call each way.
Standard library only: imported inside the sandbox and by the judge.
"""

from __future__ import annotations

import os
import struct
from typing import Any

MAX_DEPTH = 100  # containers inside containers
MAX_ITEMS = 4_000_000  # values in one message (HumanEval+ /130 returns lists of a million ints)
MAX_BYTES = 64 * 1024 * 1024  # one encoded message (HumanEval+ /15 returns a 34 MB string)

_NONE, _TRUE, _FALSE, _INT, _FLOAT, _COMPLEX = b"N", b"T", b"F", b"i", b"f", b"c"
_STR, _BYTES, _LIST, _TUPLE, _DICT, _SET, _FROZENSET = b"s", b"b", b"l", b"t", b"d", b"S", b"z"
_PACKED = {list: b"L", tuple: b"P"}  # packed lists and tuples of ints and floats
PACK_OVER = 16  # values in a list or tuple from which it is packed (when it can be)
_KIND = {int: 105, float: 102}  # (type -> its kind byte, "i" or "f")
_AS_STRUCT = bytes.maketrans(b"if", b"qd")
_NUMBERS = frozenset((int, float))
_U32, _DOUBLE, _TWO_DOUBLES = struct.Struct(">I"), struct.Struct("<d"), struct.Struct("<dd")


class NotPlain(ValueError):
    """A value that is not plain data (encoding), or bytes that are not a valid encoding (decoding)."""


_STDLIB_DICTS = ("collections.Counter", "collections.OrderedDict", "collections.defaultdict")


def as_plain_dict(value):
    """A dict with the items of a Counter, OrderedDict or defaultdict (a returned value that `==`
    compares as a dict), else None. Called where the value was made (the sample's side, or the
    canonical solution's): what crosses is still plain data, compared by the judge."""
    kind = type(value)
    if f"{kind.__module__}.{kind.__qualname__}" not in _STDLIB_DICTS or not isinstance(value, dict):
        return None
    return dict(value)


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value + (value < 0)).bit_length() // 8 + 1, "little", signed=True)


class _Budget:
    """What one encoding may still use: values (containers add their length)."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items = MAX_ITEMS - 1


def encode(value) -> bytes:
    """The encoding of a plain value; NotPlain (with the reason) for anything else."""
    out = bytearray()
    try:
        _put(value, out, 0, set(), _Budget())
    except RecursionError:
        raise NotPlain(f"nested deeper than {MAX_DEPTH}") from None
    if len(out) > MAX_BYTES:
        raise NotPlain(f"more than {MAX_BYTES >> 20} MiB")
    return bytes(out)


def _put(item, out: bytearray, depth: int, on_path: set, budget: _Budget, _type=type, _len=len,
         _u32=_U32.pack, _double=_DOUBLE.pack, _int_bytes=_int_bytes) -> None:
    cls = _type(item)
    if cls is int:
        data = _int_bytes(item)
        out += b"i" + _u32(_len(data)) + data
    elif cls is str:
        data = item.encode("utf-8", "surrogatepass")
        out += b"s" + _u32(_len(data)) + data
    elif cls is float:
        out += b"f" + _double(item)
    elif cls is bool:
        out += b"T" if item else b"F"
    elif item is None:
        out += b"N"
    elif cls is bytes:
        out += b"b" + _u32(_len(item)) + item
    elif cls is complex:
        out += b"c" + _TWO_DOUBLES.pack(item.real, item.imag)
    elif (cls is list or cls is tuple) and _len(item) >= PACK_OVER and _packed(item, out, budget):
        pass
    elif cls in _CONTAINER_TAGS:
        if depth >= MAX_DEPTH:
            raise NotPlain(f"nested deeper than {MAX_DEPTH}")
        key = id(item)
        if key in on_path:
            raise NotPlain(f"a {cls.__name__} that contains itself")
        on_path.add(key)
        size = _len(item)
        budget.items -= size * 2 if cls is dict else size
        if budget.items < 0:
            raise NotPlain(f"more than {MAX_ITEMS} values")
        out += _CONTAINER_TAGS[cls] + _u32(size)
        depth += 1
        if cls is dict:
            for k, v in dict.items(item):
                _put(k, out, depth, on_path, budget)
                _put(v, out, depth, on_path, budget)
        else:
            for element in (item if cls is list or cls is tuple else list(item)):
                _put(element, out, depth, on_path, budget)
        on_path.discard(key)
    else:
        raise NotPlain(f"an object of type {_type_name(cls)}")
    if _len(out) > MAX_BYTES:
        raise NotPlain(f"more than {MAX_BYTES >> 20} MiB")


_CONTAINER_TAGS: dict[type, bytes] = {list: _LIST, tuple: _TUPLE, dict: _DICT, set: _SET, frozenset: _FROZENSET}


def _packed(item, out: bytearray, budget: _Budget, _type=type, _len=len) -> bool:
    """Append `item` packed, when its values are all ints of 64 bits and floats; else False."""
    if not set(map(_type, item)) <= _NUMBERS:
        return False
    kinds = bytes(map(_KIND.__getitem__, map(_type, item)))
    try:
        payload = struct.pack(b"<" + kinds.translate(_AS_STRUCT), *item)
    except struct.error:  # an int over 64 bits
        return False
    size = _len(item)
    budget.items -= size
    if budget.items < 0:
        raise NotPlain(f"more than {MAX_ITEMS} values")
    out += _PACKED[_type(item)] + _U32.pack(size) + kinds + payload
    return True


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
    data = bytes(data)
    if len(data) > MAX_BYTES:
        raise NotPlain(f"more than {MAX_BYTES >> 20} MiB")
    try:
        value, pos = _get(data, 0, 0, _Budget())
    except (IndexError, struct.error):
        raise NotPlain("truncated") from None
    if pos != len(data):
        raise NotPlain("trailing bytes")
    return value


# tags as the ints that indexing bytes gives
_T_NONE, _T_TRUE, _T_FALSE, _T_INT, _T_FLOAT, _T_COMPLEX = b"NTFifc"
_T_STR, _T_BYTES, _T_LIST, _T_TUPLE, _T_DICT, _T_SET, _T_FROZENSET = b"sbltdSz"
_T_PACKED_LIST, _T_PACKED_TUPLE = b"LP"


def _get(data: bytes, pos: int, depth: int, budget: _Budget, _u32=_U32.unpack_from, _double=_DOUBLE.unpack_from):
    """(value, position after it). Lengths are checked against what is left before any use."""
    tag = data[pos]
    pos += 1
    if tag == _T_INT or tag == _T_STR or tag == _T_BYTES:
        (n,) = _u32(data, pos)
        pos += 4
        end = pos + n
        if end > len(data):
            raise NotPlain("truncated")
        if tag == _T_INT:
            return int.from_bytes(data[pos:end], "little", signed=True), end
        if tag == _T_STR:
            try:
                return str(data[pos:end], "utf-8", "surrogatepass"), end
            except UnicodeDecodeError:
                raise NotPlain("a str that is not UTF-8") from None
        return data[pos:end], end
    if tag == _T_FLOAT:
        return _double(data, pos)[0], pos + 8
    if tag == _T_TRUE:
        return True, pos
    if tag == _T_FALSE:
        return False, pos
    if tag == _T_NONE:
        return None, pos
    if tag == _T_COMPLEX:
        real, imag = _TWO_DOUBLES.unpack_from(data, pos)
        return complex(real, imag), pos + 16
    if tag == _T_LIST or tag == _T_TUPLE or tag == _T_DICT or tag == _T_SET or tag == _T_FROZENSET:
        return _get_container(tag, data, pos, depth, budget)
    if tag == _T_PACKED_LIST or tag == _T_PACKED_TUPLE:
        return _get_packed(tag, data, pos, budget)
    raise NotPlain(f"unknown tag {bytes([tag])!r}")


def _get_packed(tag: int, data: bytes, pos: int, budget: _Budget):
    """_get of a packed list or tuple (pos: after its tag): count, kinds, 8 bytes a value."""
    (n,) = _U32.unpack_from(data, pos)
    pos += 4
    end = pos + 9 * n
    if end > len(data):
        raise NotPlain("truncated")
    budget.items -= n
    if budget.items < 0:
        raise NotPlain(f"more than {MAX_ITEMS} values")
    kinds = data[pos:pos + n]
    if kinds.translate(None, b"if"):
        raise NotPlain("a packed value of an unknown kind")
    values = struct.unpack_from(b"<" + kinds.translate(_AS_STRUCT), data, pos + n)
    return (list(values) if tag == _T_PACKED_LIST else values), end


def _get_container(tag: int, data: bytes, pos: int, depth: int, budget: _Budget, _u32=_U32.unpack_from):
    """_get of a list, tuple, dict, set or frozenset (pos: after its tag), within MAX_DEPTH and the
    message's MAX_ITEMS."""
    if depth >= MAX_DEPTH:
        raise NotPlain(f"nested deeper than {MAX_DEPTH}")
    (n,) = _u32(data, pos)
    pos += 4
    if n > len(data) - pos:  # every value takes at least one byte: a count larger than what is left lies
        raise NotPlain("truncated")
    budget.items -= 2 * n if tag == _T_DICT else n
    if budget.items < 0:
        raise NotPlain(f"more than {MAX_ITEMS} values")
    depth += 1
    if tag == _T_DICT:
        result = {}
        for _ in range(n):
            key, pos = _get(data, pos, depth, budget)
            value, pos = _get(data, pos, depth, budget)
            try:
                result[key] = value
            except TypeError:
                raise NotPlain("an unhashable dict key") from None
        return result, pos
    items: list[Any] = []
    append = items.append
    for _ in range(n):
        value, pos = _get(data, pos, depth, budget)
        append(value)
    if tag == _T_LIST:
        return items, pos
    if tag == _T_TUPLE:
        return tuple(items), pos
    try:
        return (set(items) if tag == _T_SET else frozenset(items)), pos
    except TypeError:
        raise NotPlain("an unhashable set element") from None


# -- frames on a pipe: a 4-byte big-endian length, then one encoding ---------------------------------

_FRAME_LIMIT = MAX_BYTES + 64


def write_frame(fd: int, data: bytes) -> None:
    """Write one frame, all of it (a pipe may take it in parts)."""
    view = memoryview(_U32.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


class FrameReader:
    """Frames read from a descriptor through a buffer: one read() usually brings a whole frame
    (header and body), so a call costs one system call on each side, not two."""

    def __init__(self, fd: int):
        self.fd, self.buffer = fd, b""

    def next(self, read=os.read) -> bytes | None:
        """The next frame's body; None at the end of the stream. NotPlain when the length is over
        the cap or the stream ends inside a frame."""
        buffer = self.buffer
        while len(buffer) < 4:
            chunk = read(self.fd, 1 << 16)
            if not chunk:
                if buffer:
                    raise NotPlain("the stream ended inside a frame")
                return None
            buffer += chunk
        (size,) = _U32.unpack_from(buffer)
        if size > _FRAME_LIMIT:
            raise NotPlain(f"a frame of {size} bytes, over the limit")
        end = 4 + size
        if len(buffer) < end:
            parts, got = [buffer], len(buffer)
            while got < end:
                chunk = read(self.fd, min(max(end - got, 1 << 16), 1 << 20))
                if not chunk:
                    raise NotPlain("the stream ended inside a frame")
                parts.append(chunk)
                got += len(chunk)
            buffer = b"".join(parts)
        self.buffer = buffer[end:]
        return buffer[4:end]

