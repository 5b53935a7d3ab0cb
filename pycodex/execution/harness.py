"""Inside the sandbox: compile, run and judge one program, then prove a pass to the worker.

Proof of a pass: before any sample code runs, the harness draws a random nonce, keeps it in a
local variable only, and sends its SHA-256 to the worker. Only after `check(candidate)` returns
normally does it send the nonce itself. Sample code cannot fake that message without reading the
harness's locals, which the audit hook below refuses (frames, gc, ctypes, /proc/*/mem, signals).
An exit, a printed "passed", a killed parent: all leave the worker without a proof, so not passed.
The sample runs on a second thread, so it cannot install signal handlers (which receive frames).
"""

from __future__ import annotations

import _thread
import builtins
import hashlib
import json
import os
import struct
import sys
import time
import types
from typing import Any

# Bound here, in the zygote: pycodex's modules are hidden from sys.modules before samples run, so
# an import inside a sample would load the module again from disk.
from pycodex.execution.plain import FrameReader, NotPlain, as_plain_dict, decode, encode, write_frame

SAMPLE_FILES = ("<completion>", "<test>")

# Imported by the worker before it forks, so samples don't pay for them.
WARM_MODULES = ("math", "re", "string", "collections", "itertools", "functools", "heapq", "bisect",
                "hashlib", "typing", "fractions", "decimal", "operator", "copy",
                "datetime", "json", "array", "numbers", "cmath", "textwrap", "unicodedata", "dataclasses")

_FRAME_ATTRS = {"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back", "gi_code", "f_locals"}
_BLOCKED_MODULES: tuple[str, ...] = ()  # importing ctypes is fine; reading memory with it is not (events)
_CTYPES_EVENTS = {"ctypes.call_function", "ctypes.cdata", "ctypes.cdata/buffer", "ctypes.string_at",
                  "ctypes.wstring_at", "ctypes.addressof", "ctypes.dlsym", "ctypes.dlsym/handle"}
_BLOCKED_EVENTS = {"sys._current_frames", "sys.settrace", "sys.setprofile", "sys.addaudithook",
                   "gc.get_objects", "gc.get_referrers", "gc.get_referents", "code.__new__",
                   "function.__new__", "cpython._PySys_ClearAuditHooks", "cpython.PyInterpreterState_Clear"} | _CTYPES_EVENTS
_IMPORTER = "<frozen importlib._bootstrap_external>"  # the one caller allowed to unmarshal code

# Dunder methods through which a returned object could fake equality or closeness.
_WATCHED = frozenset({"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__", "__bool__", "__len__",
            "__iter__", "__next__", "__contains__", "__getitem__", "__abs__", "__round__", "__float__",
            "__int__", "__index__", "__complex__", "__str__", "__format__", "__add__", "__radd__", "__sub__",
            "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__", "__floordiv__", "__mod__",
            "__pow__", "__neg__", "__pos__", "__and__", "__or__", "__xor__", "__getattr__", "__getattribute__",
            "__class__", "__instancecheck__", "__trunc__", "__floor__", "__ceil__"})
_HEAPTYPE = 1 << 9
JUDGE_STACK = 64 * 1024 * 1024  # the judging thread's stack: room for deep recursion
_CONTAINERS = (list, tuple, set, frozenset)
_MRO, _FLAGS, _DICT = type.__dict__["__mro__"], type.__dict__["__flags__"], type.__dict__["__dict__"]


def _frame(message: dict) -> bytes:
    data = json.dumps(message).encode()
    return struct.pack(">I", len(data)) + data


def send(fd: int, message: dict) -> None:
    os.write(fd, _frame(message))


class Blocked(ValueError):
    """Raised by the audit hook. A ValueError so that stdlib code probing frames degrades quietly."""


def _install_audit_hook(trusted: list, protected: set) -> None:
    """Refuse the operations that could reach the harness's frame, memory or result channel.

    Everything the hook uses is bound here, before sample code runs, so that patching builtins
    or this module's globals cannot change its decisions. `protected` holds ids of functions
    whose code, defaults or closure must not be replaced (the harness's guard, the test's check).
    """
    frame_attrs, blocked_events, blocked_modules = frozenset(_FRAME_ATTRS), frozenset(_BLOCKED_EVENTS), frozenset(_BLOCKED_MODULES)
    function_parts = frozenset(("__code__", "__globals__", "__closure__", "__defaults__", "__kwdefaults__"))
    sample_files, importer, blocked = frozenset(SAMPLE_FILES), _IMPORTER, Blocked
    getframe, ident, is_instance, str_type, bytes_type, object_id = sys._getframe, _thread.get_ident, isinstance, str, bytes, id
    inside: list[int | None] = [None]  # the thread currently inspecting frames inside this hook

    def unmarshal_allowed() -> bool:
        inside[0] = ident()
        try:
            return getframe(3).f_code.co_filename == importer
        finally:
            inside[0] = None

    def hook(event, args):
        if trusted[0] or inside[0] == ident():
            return
        if event == "object.__getattr__":
            if args[1] in frame_attrs:
                raise blocked(f"sandbox: access to {args[1]} is not allowed")
        elif event == "object.__setattr__":
            if args[1] in function_parts and object_id(args[0]) in protected:
                raise blocked(f"sandbox: setting {args[1]} of a harness function is not allowed")
        elif event == "sys._getframe":
            if args[0].f_code.co_filename not in sample_files:
                raise blocked("sandbox: sys._getframe outside the sample is not allowed")
        elif event in ("marshal.loads", "marshal.load"):
            if not unmarshal_allowed():  # crafted bytecode could read arbitrary memory
                raise blocked("sandbox: marshal is not allowed")
        elif event in blocked_events:
            raise blocked(f"sandbox: {event} is not allowed")
        elif event == "import":
            if args[0] in blocked_modules:
                raise blocked(f"sandbox: import of {args[0]} is not allowed")
        elif event == "open":
            path = args[0]
            if is_instance(path, bytes_type):
                path = path.decode(errors="replace")
            if is_instance(path, str_type) and path.startswith("/proc/") and not path.endswith(("/status", "/stat", "/cmdline")):
                raise blocked(f"sandbox: opening {path} is not allowed")

    sys.addaudithook(hook)


def _hide_modules() -> None:
    """Drop modules that hand out frames or raw memory, so importing them goes through the hook,
    and pycodex's own modules, so that sample code does not stumble on the harness."""
    for name in list(sys.modules):
        if name in _BLOCKED_MODULES or name.startswith(("ctypes.", "pycodex")):
            sys.modules.pop(name, None)


def _snapshot(classes) -> tuple:
    """Stdlib classes written in Python that honest code returns (Counter, Fraction), with their
    watched methods as they are now: if a sample patches one, it is no longer trusted."""
    return tuple((cls, tuple((name, cls.__dict__.get(name)) for name in sorted(_WATCHED))) for cls in classes)


def _trusted_stdlib_classes() -> list:
    import collections
    import fractions
    import numbers

    return [collections.Counter, fractions.Fraction, numbers.Number, numbers.Complex, numbers.Real,
            numbers.Rational, numbers.Integral]


def check_returned_value(value, _type=type, _isinstance=isinstance, _list=list, _tuple=tuple, _dict=dict,
                         _scalars=(int, float, str, bool, bytes, complex, type(None)), _containers=_CONTAINERS,
                         _mro=_MRO, _flags=_FLAGS, _vars=_DICT, _watched=_WATCHED, _heap=_HEAPTYPE,
                         _trusted=_snapshot(_trusted_stdlib_classes())) -> None:
    """Reject an object that could fake equality: any instance of a class defined in Python that
    overrides a comparison/arithmetic/container dunder, at any depth inside builtin containers.
    (Everything it uses is a default argument: patching builtins later cannot change it.)"""
    trusted = None  # worked out at the first class defined in Python: plain values never need it
    stack, seen = [value], 0
    while stack and seen < 100_000:
        item = stack.pop()
        seen += 1
        cls = _type(item)
        if cls in _scalars:
            continue
        for klass in _mro.__get__(cls):  # read through type's own descriptors: a metaclass can't lie
            if not _flags.__get__(klass) & _heap:
                continue
            if trusted is None:
                trusted = {klass_ for klass_, methods in _trusted
                           if all(_vars.__get__(klass_).get(name) is method for name, method in methods)}
            if klass not in trusted and _watched.intersection(_vars.__get__(klass)):
                raise TypeError(f"candidate returned a {cls.__name__} object that overrides comparison "
                                "methods; the pycodex harness accepts plain values only")
        if _isinstance(item, _containers):
            stack.extend(_list(_tuple.__iter__(item) if _isinstance(item, _tuple) else item))
        elif _isinstance(item, _dict):
            stack.extend(_dict.keys(item))
            stack.extend(_dict.values(item))


def _guard(candidate, _callable=callable, _check=check_returned_value):
    """The candidate as the test sees it: same behaviour, but its return values are checked."""
    if not _callable(candidate):
        return candidate

    def guarded(*args, **kwargs):
        value = candidate(*args, **kwargs)
        _check(value)
        return value

    return guarded


def _flush(streams) -> None:
    for stream in streams:
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - a closed or broken stream loses its output, nothing more
            pass


def describe(exc: BaseException, test_offset: int, test_lines: list[str], text: str | None = None) -> str:
    """'AssertionError: msg (line N: assert ...)' with N counted in the whole judged program
    (text: what to say instead of the exception's type and message)."""
    if text is None:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    tb, where = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<test>":
            where = tb.tb_lineno
        tb = tb.tb_next
    if where is not None and 0 < where <= len(test_lines):
        text += f" (line {where + test_offset}: {test_lines[where - 1].strip()})"
    return text


def prepare_process() -> None:
    """What every judged program's process needs done once, before sample code: done by the
    zygote for all its samples (job["prepared"]), or else by _judge itself."""
    _hide_modules()
    hashlib.sha256(b"").hexdigest()  # OpenSSL's lazy set-up, done here rather than in every sample


def new_namespace() -> dict:
    """The globals the judged program runs in, with its own copy of the builtins."""
    return {"__builtins__": dict(builtins.__dict__)}


def run(job: dict, result_fd: int) -> None:
    """Judge the job on a second thread; the main thread only waits. Never returns.

    job: head, test, entry_point; from the zygote also test_code (the test already compiled),
    namespace (a fresh new_namespace(), made before the fork) and prepared (prepare_process() done).

    Python runs signal handlers on the main thread only, handing them the frame it was in. With
    the sample on another thread it can install no handler at all, and the main thread's frames
    hold nothing secret.
    """
    acquire, start, exit_ = _thread.allocate_lock, _thread.start_new_thread, os._exit
    done = acquire()
    done.acquire()

    def judge():
        try:
            _judge(job, result_fd)
        finally:
            done.release()

    _thread.stack_size(JUDGE_STACK)
    start(judge, ())
    while True:
        try:
            done.acquire()
            break
        except BaseException:  # noqa: BLE001 - e.g. _thread.interrupt_main() from the sample
            continue
    exit_(1)  # the judge returned without exiting: no verdict, the worker reads "failed"


def _judge(job: dict, result_fd: int) -> None:
    """Judge job["head"] (prompt+completion) + job["test"], then check(entry_point). Exits the process.

    Everything used after sample code starts is bound to a local first: sample code may patch
    builtins and modules, but cannot reach this frame.
    """
    write, exit_, pack, urandom, sha256 = os.write, os._exit, struct.pack, os.urandom, hashlib.sha256
    is_instance, function_type, memory_error, object_id, guard = isinstance, types.FunctionType, MemoryError, id, _guard
    streams, flush = (sys.stdout, sys.stderr), _flush
    nonce: str | None = urandom(16).hex()
    assert nonce is not None
    commit = {"kind": "commit", "hash": sha256(nonce.encode()).hexdigest()}
    if job.get("probe"):
        commit["layers"] = job.get("layers", [])
    send(result_fd, commit)
    head, test, entry_point = job["head"], job["test"], job["entry_point"]
    try:
        head_code = compile(head, "<completion>", "exec", dont_inherit=True)
        test_code = job.get("test_code") or compile(test, "<test>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes in the source
        nonce = None
        lineno = getattr(exc, "lineno", None)
        detail = f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}" + (f" (line {lineno})" if lineno else "")
        send(result_fd, {"kind": "syntax error", "detail": detail})
        exit_(0)
    fallback = {"failed": _frame({"kind": "failed", "detail": "an exception that could not be described"}),
                "out of memory": _frame({"kind": "out of memory", "detail": "MemoryError"})}
    check_codes = tuple(c for c in test_code.co_consts if isinstance(c, types.CodeType) and c.co_name == "check")
    trusted, protected = [False], {id(check_returned_value), id(_guard)}
    namespace = job.get("namespace") or new_namespace()
    if not job.get("prepared"):
        prepare_process()
    _install_audit_hook(trusted, protected)
    try:
        exec(head_code, namespace)
        exec(test_code, namespace)
        check: Any = namespace.get("check")
        if not is_instance(check, function_type):
            raise NameError("the test did not define check()")
        protected.add(object_id(check))
        if not any(check.__code__ is code for code in check_codes):
            raise NameError("check() is not the test's own")
        if entry_point not in namespace:
            raise NameError(f"name '{entry_point}' is not defined")
        check(guard(namespace[entry_point]))
    except BaseException as exc:  # noqa: BLE001 - anything the program raises is its verdict
        nonce = None
        trusted[0] = True
        flush(streams)
        status = "out of memory" if is_instance(exc, memory_error) else "failed"
        try:
            send(result_fd, {"kind": status, "detail": describe(exc, head.count("\n"), test.splitlines())})
        except BaseException:  # noqa: BLE001 - e.g. no memory left to describe it
            write(result_fd, fallback[status])
        exit_(0)
    flush(streams)  # our own C-level stream objects, whatever the sample did to sys.stdout
    message = ('{"kind": "passed", "proof": "%s"}' % nonce).encode()
    write(result_fd, pack(">I", len(message)) + message)
    exit_(0)


# -- the sample's side of the strict judge (see judge.py) -------------------------------------------

CALL_FD, REPLY_FD = 4, 5  # in the sample's process: calls from the judge in, replies out
_COMMIT = _frame({"kind": "commit"})  # (encoded once, in the zygote)


def _over_limit(signum, frame):
    raise TimeoutError("the call ran past its CPU-time limit")


def _limit_call(seconds: float) -> None:
    """A CPU-time timer on the next call (0: off). SIGPROF raises TimeoutError in the call, as
    evalplus's time_limit raises in its sample. Not the limit itself: the judge times every call
    from outside (callclock.py) and fails it there whatever this process does; the timer only
    stops an honest call at its limit, so that the sample goes on to the judge's next message
    (the end of the job) instead of running until the job's limit kills the sandbox."""
    import signal

    if seconds > 0 and signal.getsignal(signal.SIGPROF) is not _over_limit:
        signal.signal(signal.SIGPROF, _over_limit)
    signal.setitimer(signal.ITIMER_PROF, seconds)


def serve(job: dict, result_fd: int, call_fd: int = CALL_FD, reply_fd: int = REPLY_FD) -> None:
    """Run prompt + completion, then answer the judge's calls of the entry point until the judge
    closes its end. Never returns. Nothing here is trusted: the judge decodes every reply as plain
    data and decides the verdict; this process holds no secret and needs no audit hook."""
    exit_, streams, spent = os._exit, (sys.stdout, sys.stderr), time.process_time
    if job.get("probe"):
        send(result_fd, {"kind": "commit", "layers": job.get("layers", [])})
    else:
        os.write(result_fd, _COMMIT)
    head, entry_point = job["head"], job["entry_point"]

    def reply(message) -> None:
        try:
            write_frame(reply_fd, encode(message))
        except OSError:  # the judge is done with us
            _flush(streams)
            exit_(0)

    reply(("hello", os.getpid()))  # (before any sample code: the judge's clock finds this process by it)
    try:
        head_code = compile(head, "<completion>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes in the source
        lineno = getattr(exc, "lineno", None)
        reply(("error", "syntax error", f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}" + (f" (line {lineno})" if lineno else "")))
        exit_(0)
    namespace = job.get("namespace") or new_namespace()
    if not job.get("prepared"):
        prepare_process()
    try:
        exec(head_code, namespace)
        if entry_point not in namespace:
            raise NameError(f"name '{entry_point}' is not defined")
        function = namespace[entry_point]
    except BaseException as exc:  # noqa: BLE001
        _flush(streams)
        reply(("error", "out of memory" if isinstance(exc, MemoryError) else "failed", _safe_text(describe, exc, 0, [])))
        exit_(0)
    reply(("ready",))
    calls = FrameReader(call_fd)
    while True:
        try:
            data = calls.next()
        except (OSError, NotPlain):
            data = None
        if data is None:  # the judge has finished
            _flush(streams)
            exit_(0)
        _, args, kwargs, *limit = decode(data)
        start = spent()  # (each reply ends with S's CPU time when the call started and ended)
        try:
            if limit:  # the judge's CPU-time limit on this call (EvalPlus sets)
                _limit_call(limit[0])
            value = function(*args, **kwargs)
            if limit:
                _limit_call(0)
        except BaseException as exc:  # noqa: BLE001 - the judge re-raises it by name
            if limit:
                _limit_call(0)
            reply(_raised(exc, encode) + (start, spent()))
            continue
        end = spent()
        try:
            message = encode(("return", value, start, end))
        except NotPlain as exc:  # (a Counter is compared as the dict it is, as evalplus's == does)
            mapping = as_plain_dict(value)
            message = encode(("notplain", str(exc), start, end) if mapping is None else ("return", mapping, start, end))
        except BaseException as exc:  # noqa: BLE001 - e.g. MemoryError while encoding
            message = encode(_raised(exc, encode) + (start, end))
        _flush(streams)
        try:
            write_frame(reply_fd, message)
        except OSError:
            exit_(0)


def _safe_text(make, *args) -> str:
    try:
        return str(make(*args))[:2000]
    except BaseException:  # noqa: BLE001 - a __str__ that raises
        return "an exception that could not be described"


def _raised(exc: BaseException, encode) -> tuple:
    """("raise", type name, args if plain, message): what the judge rebuilds the exception from."""
    name = _safe_text(lambda: type(exc).__name__)
    message = _safe_text(str, exc)
    try:
        args = exc.args if type(exc.args) is tuple else None
        if args is not None and len(encode(args)) > 4096:
            args = None
        encode(("raise", name, args, message))
    except BaseException:  # noqa: BLE001
        args = None
    return ("raise", name, args, message)
