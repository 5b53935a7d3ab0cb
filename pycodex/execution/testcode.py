"""Tests compiled once per executor and handed to the strict judges as code objects.

The judge J used to compile each job's test itself. EvalPlus tests are big (a task's inputs and
expected outputs as literals: 87 KB on average on HumanEval+, 4.7 MB for HumanEval/83), each
judge compiled each one again, and a judge replaced after a sample that ran out its time started
over: on HumanEval+ 3.2 s of CPU per judge process, several judges per command.

Now the executor compiles each test once (CompiledTests, in the pycodex process, which is trusted)
and writes its code object (marshal) to a directory of its own, named by the sha256 of the test's
source; the job names the file and J loads it (milliseconds), after checking the name against the
source it was given, so that a test always runs as the code of its own source. A test's code
(KEEP_OVER characters of source or more: nearly every EvalPlus test) is also kept in the user's
cache directory, by the same name under the interpreter's tag, so that the next command copies it
instead of compiling it again (at most KEEP_FILES files, pruned once a command; the oldest go
first). Only when pycodex runs as root: then every sample runs under a uid of its own, whatever
the mode, and cannot write there. A user's samples under "plain" mode run as that user and could
leave code there for a later command's judge, so a user's commands keep nothing: they compile
each test once per command.

Who can write there: the directory is made by pycodex (mode 0755, files 0644, written under another
name and renamed), and samples run in a root of their own that does not contain it ("root" and
"userns" modes). Under "plain" mode (no namespaces: samples see the whole file system as the same
user) the worker never hands J the file, and J compiles as before.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import shutil
import stat
import tempfile
import threading
import types
import weakref

_LOADED: dict[str, types.CodeType] = {}
LOADED_KEEP = 16  # code objects a judge keeps (consecutive samples of one task share a test)
KEEP_OVER, KEEP_FILES = 4 * 1024, 4000  # (MBPP+'s median test: 16 KB, 3 ms to compile; ~1,300 files: every EvalPlus test)


class CompiledTests:
    """The executor's directory of compiled tests (made at the first test, removed by close())."""

    def __init__(self, keep: str | None = None) -> None:
        """keep: the directory of compiled tests kept between commands (None: none kept)."""
        self.keep = keep
        self.directory: str | None = None
        self._written: set[str] = set()
        self._paths: dict[str, str] = {}  # test -> its file: consecutive jobs share a test (no sha256 of it again)
        self._unwritable = False
        self._pruned = False  # (once a command: a prune reads every kept file's time)
        self._lock = threading.Lock()

    def path(self, test: str) -> str | None:
        """The file holding `test` compiled (written once); None when it does not compile (the
        judge then compiles it and reports the error) or cannot be written."""
        known = self._paths.get(test)
        if known is not None:
            return known
        key = hashlib.sha256(test.encode()).hexdigest()
        with self._lock:
            if self.directory is None:
                if self._unwritable:
                    return None
                try:
                    self.directory = tempfile.mkdtemp(prefix="pycodex-tests-")
                    os.chmod(self.directory, 0o755)  # (the judge reads it under a uid of its own)
                except OSError:  # no writable temporary directory: the judges compile
                    self._unwritable = True
                    return None
                self._remove = weakref.finalize(self, shutil.rmtree, self.directory, ignore_errors=True)  # (at exit too)
            path = os.path.join(self.directory, key)
            if key in self._written:
                return path
            kept = os.path.join(self.keep, key) if self.keep is not None and len(test) >= KEEP_OVER else None
            data = _read(kept) if kept is not None else None
            if data is None:
                try:
                    data = marshal.dumps(compile(test, "<test>", "exec", dont_inherit=True))
                except (SyntaxError, ValueError):
                    return None
                if kept is not None and _write(kept, data) and not self._pruned:
                    self._pruned = True
                    _prune(os.path.dirname(kept))
            if not _write(path, data):
                return None
            self._written.add(key)
            self._paths[test] = path
            return path

    def close(self) -> None:
        with self._lock:
            if self.directory is not None:
                self._remove()
            self.directory, self._written, self._paths = None, set(), {}


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _write(path: str, data: bytes) -> bool:
    """Write under another name, then rename: a reader sees the whole file or none."""
    part = f"{path}.{os.getpid()}.{threading.get_ident()}.part"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), "wb") as f:
            f.write(data)
        os.replace(part, path)
        return True
    except OSError:
        try:
            os.unlink(part)
        except OSError:
            pass
        return False


def _prune(directory: str) -> None:
    """At most KEEP_FILES files: the oldest beyond that are removed."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.stat().st_mtime)
    except OSError:
        return
    for entry in entries[: max(0, len(entries) - KEEP_FILES)]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass


def keep_directory() -> str:
    """Where tests' code is kept between commands: the user's cache, by interpreter."""
    import sys

    from pycodex import locations

    return str(locations.cache_dir() / "compiled-tests" / (sys.implementation.cache_tag or "python"))


def load(path: str, test: str) -> types.CodeType | None:
    """In J: the code object of `test` from `path`, or None (J compiles it then). The file must be
    named by the sha256 of `test`, a regular file that only its owner may write."""
    code = _LOADED.get(path)
    if code is not None:
        return code
    if os.path.basename(path) != hashlib.sha256(test.encode()).hexdigest():
        return None
    try:
        with open(path, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o022:
                return None
            code = marshal.loads(f.read())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not isinstance(code, types.CodeType):
        return None
    if len(_LOADED) >= LOADED_KEEP:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[path] = code
    return code
