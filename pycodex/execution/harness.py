"""Inside the sandbox: compile, run and judge one program, then prove a pass to the worker.

Proof of a pass: before any sample code runs, the harness draws a random nonce, keeps it in a
local variable only, and sends its SHA-256 to the worker. Only after `check(candidate)` returns
normally does it send the nonce itself. Sample code cannot fake that message without reading the
harness's locals, which the audit hook below refuses (frames, gc, ctypes, /proc/*/mem, signals).
An exit, a printed "passed", a killed parent: all leave the worker without a proof, so not passed.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import struct
import sys
import types

SAMPLE_FILES = ("<completion>", "<test>")

# Imported by the worker before it forks, so samples don't pay for them.
WARM_MODULES = ("math", "re", "string", "collections", "itertools", "functools", "heapq", "bisect",
                "hashlib", "typing", "fractions", "statistics", "random", "decimal", "operator", "copy",
                "datetime", "json", "array", "numbers", "cmath", "textwrap", "unicodedata", "dataclasses")

_FRAME_ATTRS = {"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back", "gi_code", "f_locals"}
_BLOCKED_MODULES = ("signal", "_signal", "ctypes", "_ctypes", "gc")
_BLOCKED_EVENTS = {"sys._current_frames", "sys.settrace", "sys.setprofile", "sys.addaudithook",
                   "gc.get_objects", "gc.get_referrers", "gc.get_referents", "code.__new__",
                   "function.__new__", "cpython._PySys_ClearAuditHooks", "cpython.PyInterpreterState_Clear",
                   "marshal.loads", "marshal.load"}

# Dunder methods through which a returned object could fake equality or closeness.
_WATCHED = {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__", "__bool__", "__len__",
            "__iter__", "__next__", "__contains__", "__getitem__", "__abs__", "__round__", "__float__",
            "__int__", "__index__", "__complex__", "__str__", "__format__", "__add__", "__radd__", "__sub__",
            "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__", "__floordiv__", "__mod__",
            "__pow__", "__neg__", "__pos__", "__and__", "__or__", "__xor__", "__getattr__", "__getattribute__",
            "__class__", "__instancecheck__", "__trunc__", "__floor__", "__ceil__"}
_HEAPTYPE = 1 << 9
_CONTAINERS = (list, tuple, set, frozenset)
_MRO, _FLAGS, _DICT = type.__dict__["__mro__"], type.__dict__["__flags__"], type.__dict__["__dict__"]


def send(fd: int, message: dict) -> None:
    data = json.dumps(message).encode()
    os.write(fd, struct.pack(">I", len(data)) + data)


class Blocked(ValueError):
    """Raised by the audit hook. A ValueError so that stdlib code probing frames degrades quietly."""


def _install_audit_hook(trusted: list) -> None:
    """Refuse the operations that could reach the harness's frame, memory or result channel."""
    getframe_ok = SAMPLE_FILES

    def hook(event, args):
        if trusted[0]:
            return
        if event == "object.__getattr__":
            if args[1] in _FRAME_ATTRS:
                raise Blocked(f"sandbox: access to {args[1]} is not allowed")
        elif event == "object.__setattr__":
            if args[1] in ("__code__", "__globals__", "__builtins__", "__closure__", "__defaults__", "__kwdefaults__"):
                raise Blocked(f"sandbox: setting {args[1]} is not allowed")
        elif event == "sys._getframe":
            if args[0].f_code.co_filename not in getframe_ok:
                raise Blocked("sandbox: sys._getframe outside the sample is not allowed")
        elif event in _BLOCKED_EVENTS or event.startswith("ctypes."):
            raise Blocked(f"sandbox: {event} is not allowed")
        elif event == "import":
            if args[0] in _BLOCKED_MODULES:
                raise Blocked(f"sandbox: import of {args[0]} is not allowed")
        elif event == "open":
            path = args[0]
            if isinstance(path, bytes):
                path = path.decode(errors="replace")
            if isinstance(path, str) and path.startswith("/proc/") and not path.endswith(("/status", "/stat", "/cmdline")):
                raise Blocked(f"sandbox: opening {path} is not allowed")

    sys.addaudithook(hook)


def _hide_modules() -> None:
    """Drop modules that hand out frames or raw memory, so importing them goes through the hook."""
    for name in _BLOCKED_MODULES:
        sys.modules.pop(name, None)
    for name in list(sys.modules):
        if name.startswith(("ctypes.", "pycodex.execution.sandbox")):
            sys.modules.pop(name, None)


def check_returned_value(value, _type=type, _isinstance=isinstance, _len=len, _dict=dict) -> None:
    """Reject an object that could fake equality: any instance of a class defined in Python that
    overrides a comparison/arithmetic/container dunder, at any depth inside builtin containers."""
    stack, seen = [value], 0
    while stack and seen < 100_000:
        item = stack.pop()
        seen += 1
        cls = _type(item)
        if cls in (int, float, str, bool, bytes, complex, _type(None)):
            continue
        for klass in _MRO.__get__(cls):  # read through type's own descriptors: a metaclass can't lie
            if _FLAGS.__get__(klass) & _HEAPTYPE and _WATCHED.intersection(_DICT.__get__(klass)):
                raise TypeError(f"candidate returned a {cls.__name__} object that overrides comparison "
                                "methods; the pycodex harness accepts plain values only")
        if _isinstance(item, _CONTAINERS):
            stack.extend(list(tuple.__iter__(item) if _isinstance(item, tuple) else item))
        elif _isinstance(item, _dict):
            stack.extend(_dict.keys(item))
            stack.extend(_dict.values(item))


def _guard(candidate):
    if not callable(candidate):
        return candidate

    def guarded(*args, **kwargs):
        value = candidate(*args, **kwargs)
        check_returned_value(value)
        return value

    return guarded


def _describe(exc: BaseException, test_offset: int, test_lines: list[str]) -> str:
    """'AssertionError: msg (line N: assert ...)' with N counted in the whole judged program."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    tb, where = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<test>":
            where = tb.tb_lineno
        tb = tb.tb_next
    if where is not None and 0 < where <= len(test_lines):
        text += f" (line {where + test_offset}: {test_lines[where - 1].strip()})"
    return text


def run(job: dict, result_fd: int) -> None:
    """Judge job["head"] (prompt+completion) + job["test"], then check(entry_point). Never returns."""
    write, exit_, sha256, urandom = os.write, os._exit, hashlib.sha256, os.urandom
    nonce = urandom(16).hex()
    send(result_fd, {"kind": "commit", "hash": sha256(nonce.encode()).hexdigest(), "layers": job.get("layers", [])})
    head, test, entry_point = job["head"], job["test"], job["entry_point"]
    try:
        head_code = compile(head, "<completion>", "exec", dont_inherit=True)
        test_code = compile(test, "<test>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes in the source
        nonce = None
        lineno = getattr(exc, "lineno", None)
        detail = f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}" + (f" (line {lineno})" if lineno else "")
        send(result_fd, {"kind": "syntax error", "detail": detail})
        exit_(0)
    check_codes = [c for c in test_code.co_consts if isinstance(c, types.CodeType) and c.co_name == "check"]
    trusted = [False]
    namespace = {"__builtins__": dict(builtins.__dict__)}
    _hide_modules()
    _install_audit_hook(trusted)
    try:
        exec(head_code, namespace)
        exec(test_code, namespace)
        check = namespace.get("check")
        if not isinstance(check, types.FunctionType) or check.__code__ not in check_codes:
            raise NameError("the test did not define check()")
        if entry_point not in namespace:
            raise NameError(f"name '{entry_point}' is not defined")
        check(_guard(namespace[entry_point]))
    except BaseException as exc:  # noqa: BLE001 - anything the program raises is its verdict
        nonce = None
        trusted[0] = True
        status = "out of memory" if isinstance(exc, MemoryError) else "failed"
        try:
            detail = _describe(exc, head.count("\n"), test.splitlines())
        except BaseException as inner:  # noqa: BLE001
            detail = f"{type(exc).__name__} (undescribable: {type(inner).__name__})"
        send(result_fd, {"kind": status, "detail": detail})
        exit_(0)
    message = ('{"kind": "passed", "proof": "%s"}' % nonce).encode()
    proof = struct.pack(">I", len(message)) + message
    write(result_fd, proof)
    exit_(0)
