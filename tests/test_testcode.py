"""Tests compiled once by the executor and loaded by the strict judge (pycodex/execution/testcode.py)."""

from __future__ import annotations

import hashlib
import marshal
import os

import pytest

from pycodex.execution import Executor, testcode
from pycodex.execution.testcode import CompiledTests
from pycodex.problems.problem import Problem

FAILS = "def check(candidate):\n    assert candidate() == 1, 'the source ran'\n"
PASSES = "def check(candidate):\n    pass\n"


def _problem(test: str) -> Problem:
    return Problem(task_id="T/0", prompt="def f():\n", entry_point="f", canonical_solution="", test=test)


def test_each_test_is_compiled_once_and_loads_as_its_own_code(tmp_path):
    tests = CompiledTests(keep=str(tmp_path / "keep"))
    big = "X = " + repr(list(range(20_000))) + "\ndef check(candidate):\n    assert candidate() == len(X)\n"
    first, again, small = tests.path(big), tests.path(big), tests.path(PASSES)
    assert first == again and first is not None and small is not None
    assert os.stat(first).st_mode & 0o777 == 0o644 and os.stat(tests.directory).st_mode & 0o777 == 0o755
    namespace: dict = {}
    exec(testcode.load(first, big), namespace)
    assert len(namespace["X"]) == 20_000
    assert os.listdir(tmp_path / "keep") == [os.path.basename(first)]  # a big test is kept, a small one not
    assert tests.path("def check(:\n") is None  # the judge compiles it and says why
    directory = tests.directory
    tests.close()
    assert not os.path.exists(directory)


def test_a_kept_test_is_copied_not_compiled(tmp_path):
    big = "X = " + repr(list(range(20_000))) + "\ndef check(candidate):\n    pass\n"
    CompiledTests(keep=str(tmp_path)).path(big)
    kept = tmp_path / hashlib.sha256(big.encode()).hexdigest()
    kept.write_bytes(marshal.dumps(compile("MARK = 1\n", "<test>", "exec")))  # what the next command finds
    namespace: dict = {}
    later = CompiledTests(keep=str(tmp_path))
    exec(testcode.load(later.path(big), big), namespace)
    assert namespace.get("MARK") == 1
    later.close()


def test_the_judge_refuses_a_file_not_named_by_its_source_or_writable_by_others(tmp_path):
    code = marshal.dumps(compile(PASSES, "<test>", "exec"))
    good = tmp_path / hashlib.sha256(PASSES.encode()).hexdigest()
    good.write_bytes(code)
    good.chmod(0o644)
    other = tmp_path / hashlib.sha256(b"another test").hexdigest()
    other.write_bytes(code)
    assert testcode.load(str(other), PASSES) is None
    good.chmod(0o664)
    assert testcode.load(str(good), PASSES) is None
    good.chmod(0o644)
    assert testcode.load(str(good), PASSES) is not None
    not_code = tmp_path / hashlib.sha256(b"x = 1\n").hexdigest()
    not_code.write_bytes(marshal.dumps([1, 2]))
    assert testcode.load(str(not_code), "x = 1\n") is None


def _tamper(path: str, mode: int = 0o644) -> None:
    with open(path, "wb") as f:
        f.write(marshal.dumps(compile(PASSES, "<test>", "exec", dont_inherit=True)))
    os.chmod(path, mode)


def test_the_judge_runs_the_executors_compiled_test():
    """Proof that J takes the code from the executor's file (a source that fails, a file whose code
    passes: passed), and only a file it may trust (group-writable: the source's own verdict)."""
    if os.geteuid() != 0:
        pytest.skip("the sandbox's root and uids need root")
    problem = _problem(FAILS)
    for mode, passes in ((0o644, True), (0o666, False)):
        with Executor(workers=1, timeout=5.0) as executor:
            _tamper(executor._tests.path(FAILS + "\n"), mode)
            verdict = executor.submit(problem, "    return 0\n").result()
            assert verdict.passed is passes, (mode, verdict)
            if not passes:
                assert "the source ran" in verdict.detail
    with Executor(workers=1, timeout=5.0) as executor:
        assert "the source ran" in executor.submit(problem, "    return 0\n").result().detail


def test_without_a_writable_temporary_directory_the_judges_compile(monkeypatch, tmp_path):
    import tempfile

    def nowhere(*args, **kwargs):
        raise FileNotFoundError("No usable temporary directory found")

    monkeypatch.setattr(tempfile, "mkdtemp", nowhere)
    tests = CompiledTests(keep=str(tmp_path))
    assert tests.path(PASSES) is None and tests.path(FAILS) is None
    tests.close()


def test_only_root_keeps_compiled_tests_between_commands(monkeypatch):
    """A user's samples under "plain" mode run as that user: a kept file could be theirs."""
    from pycodex.execution import executor as executor_module

    monkeypatch.setattr(executor_module.os, "geteuid", lambda: 1000)
    assert Executor(workers=1)._tests.keep is None
    monkeypatch.setattr(executor_module.os, "geteuid", lambda: 0)
    assert Executor(workers=1)._tests.keep == testcode.keep_directory()


def test_the_worker_names_the_file_to_the_judge_only_outside_plain_mode():
    """JudgeProcess.start sends `test_code` only when told (the worker tells it when its zygote's
    mode is not "plain": there samples share the judge's file system)."""
    import json
    import socket
    import struct

    from pycodex.execution.judge import JudgeProcess
    from pycodex.execution.worker import JUDGE_ONLY

    assert "test_code" in JUDGE_ONLY  # (never in what the sample reads)
    job = {"entry_point": "f", "test": PASSES, "prompt": "", "offset": 0, "test_code": "/tmp/x", "head": "h"}
    for compiled in (False, True):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        judge = JudgeProcess.__new__(JudgeProcess)
        judge.sock = ours
        r, w = os.pipe()
        judge.start(job, r, w, compiled=compiled)
        message, fds, _, _ = socket.recv_fds(theirs, 4, 2)
        body = theirs.recv(struct.unpack(">I", message)[0])
        for fd in fds + [r, w]:
            os.close(fd)
        ours.close()
        theirs.close()
        assert ("test_code" in json.loads(body)) is compiled and "head" not in json.loads(body)


def test_the_kept_files_are_pruned_oldest_first_once_a_command(tmp_path, monkeypatch):
    monkeypatch.setattr(testcode, "KEEP_OVER", 0)
    monkeypatch.setattr(testcode, "KEEP_FILES", 2)
    for age, name in enumerate(["old", "older", "oldest"]):
        (tmp_path / name).write_bytes(b"")
        os.utime(tmp_path / name, (1_000_000 - age, 1_000_000 - age))
    tests = CompiledTests(keep=str(tmp_path))
    first = os.path.basename(tests.path(PASSES) or "")
    assert sorted(os.listdir(tmp_path)) == sorted([first, "old"])  # the first write pruned: the 2 newest left
    second = os.path.basename(tests.path(FAILS) or "")
    assert sorted(os.listdir(tmp_path)) == sorted([first, second, "old"])  # (not again in the same command)
    CompiledTests(keep=str(tmp_path)).path("def check(candidate):\n    return 2\n")
    assert "old" not in os.listdir(tmp_path) and len(os.listdir(tmp_path)) == 2
