"""EvalPlus's sets: the release files (sha256 at load), evalplus 0.3.1's comparison rules, per-input
CPU limits, MBPP's shape and EvalPlus's samples format. Parity with evalplus itself:
test_evalplus_parity.py."""

from __future__ import annotations

import gzip
import json
import random
import shutil
import textwrap

import numpy as np
import pytest

from pycodex.errors import UserError
from pycodex.problems import plus_compare
from pycodex.problems.plus_test import literal


def _run(outputs, expected, atol=0, oracle="", inputs=None):
    """plus_compare.run with a candidate that returns `outputs` in order: None if all pass, else the message."""
    answers = iter(outputs)
    inputs = inputs or [(i,) for i in range(len(expected))]
    try:
        plus_compare.run(lambda *args: next(answers), inputs, expected, [1.0] * len(expected), atol, oracle)
    except AssertionError as exc:
        return str(exc)
    return None


def test_an_int_expected_means_an_int_and_a_tolerance_only_where_evalplus_gives_one():
    assert _run([float(10**60) + 1e50], [10**60]) is not None  # issue 18: HumanEval/46 off by 1e50 no longer passes
    assert _run([10**60 + 1], [10**60]) is not None
    assert _run([True], [1]) is None  # Python's == says so, and so does evalplus
    assert _run([2.0], [2]) is None  # == again (evalplus: exact match first)
    assert _run([0.1 + 1e-7], [0.1]) is None  # a float expected: atol 1e-6
    assert _run([0.1 + 1e-5], [0.1]) is not None
    assert _run([(1.0, 2.0)], [[1.0, 2.0]]) is not None  # with a tolerance the types must be the same
    assert _run([[1.0, 2.0 + 1e-7]], [[1.0, 2.0]]) is None
    assert _run([[1.0, 2.0 + 1e-7, 3.0]], [[1.0, 2.0]]) is not None
    # evalplus rebinds its atol: after a float expected, an int expected is compared with 1e-6 too
    assert _run([1.5, 10**15 + 1], [1.5, 10**15]) is None
    assert _run([10**15 + 1, 1.5], [10**15, 1.5]) is not None
    assert _run([3, 5], [3, 6], atol=1e-4) == "input #1: AssertionError: not close to the expected output"


def test_special_oracles():
    root = plus_compare._poly([1.0, -1.0], 1.0)
    assert root == 0 and _run([1.0], [None], atol=1e-4, oracle="find_zero", inputs=[([-1.0, 1.0],)]) is None
    assert _run([3.0], [None], atol=1e-4, oracle="find_zero", inputs=[([-1.0, 1.0],)]) is not None
    assert _run([[3, 1, 2]], [(1, 2, 3)], oracle="set") is None and _run([[1, 2]], [(1, 2, 3)], oracle="set") is not None
    from pycodex.execution.channel import Opaque

    assert _run([Opaque("a re.Match"), None], [True, False], oracle="not_none") is None
    assert _run([None], [True], oracle="not_none") is not None
    assert _run([0], [17.0], oracle="sum_div") is None and _run([5], [17.0], oracle="sum_div") is not None
    assert _run([7], [99], oracle="digit_distance", inputs=[(123, 256)]) is None  # |1-2| + |2-5| + |3-6|
    assert _run([8], [99], oracle="digit_distance", inputs=[(123, 256)]) is not None
    assert _run(["x"], [1], oracle="are_equivalent") is None


def _numpy_allclose(a, b, atol):
    try:
        return bool(np.allclose(a, b, rtol=1e-07, atol=atol))
    except Exception:  # noqa: BLE001 - numpy raising is evalplus's failure
        return False


def test_allclose_is_numpys_on_plain_data():
    rng = random.Random(5)
    atoms = [0, 1, -1, 2**63, 2**64, -(2**63) - 1, 1.5, 1.5 + 1e-7, 1e300, float("inf"), float("-inf"), float("nan"),
             True, False, 1 + 2j, "a", None, 10**30]

    def value(depth=0):
        roll = rng.random()
        if depth < 2 and roll < 0.35:
            n = rng.randrange(0, 3)
            items = [value(depth + 1) for _ in range(n)] if rng.random() < 0.5 else [value(depth + 1)] * n
            return items if rng.random() < 0.7 else tuple(items)
        return rng.choice(atoms)

    pairs = [(value(), value()) for _ in range(8000)]
    pairs += [([[1], [3]], [[1, 1], [3, 3]]), ([[]], [[]]), ([1, [2]], [1, [2]]), ([1.0, 2**64], [1.0, 2**64]), ([2**64], [2**64])]
    # (what reaches allclose in evalplus: the same type, and for lists and tuples the same length)
    pairs = [(a, b) for a, b in pairs if type(a) is type(b) and (not isinstance(a, (list, tuple)) or len(a) == len(b))]
    assert len(pairs) > 900
    for a, b in pairs:
        for atol in (1e-6, 0.5):
            assert plus_compare.allclose(a, b, atol) == _numpy_allclose(a, b, atol), (a, b, atol)


def test_literals_read_back_exactly():
    values = [float("nan"), float("-inf"), -0.0, 1e-320, complex(float("inf"), -0.0), {1: (2,)}, {3}, frozenset(), set(),
              (1,), (), [b"\x00"], "\u2603\ud800"[:1], 2**9000, -(2**9000), None, True]
    for value in values:
        back = eval(literal(value))  # noqa: S307 - our own literal
        assert repr(back) == repr(value) and type(back) is type(value)


def test_release_files_are_checked_at_load(tmp_path, monkeypatch):
    from pycodex import locations
    from pycodex.problems import sets

    source = locations.bundled_problems_dir()
    for name in ("HumanEvalPlus-Mini-v0.1.10.jsonl.gz",):
        data = gzip.decompress((source / name).read_bytes()).replace(b"has_close_elements", b"has_closer_elements", 1)
        (tmp_path / name).write_bytes(gzip.compress(data))
    shutil.copy(source / "HumanEval.jsonl.gz", tmp_path)
    monkeypatch.setattr(locations, "bundled_problems_dir", lambda: tmp_path)
    with pytest.raises(UserError, match="sha256 .* not the release's 78fbba88"):
        sets.load_named("humaneval-plus-mini")


@pytest.fixture(scope="module")
def mbpp():
    from pycodex.problems.sets import load_named

    return load_named("mbpp-plus")


def test_mbpp_shape_and_every_task_has_extra_inputs_but_one(mbpp):
    first = mbpp.get("Mbpp/2")
    assert first.prompt.startswith("'''\nWrite a function to find the shared elements") and "\nassert similar_elements(" in first.prompt
    assert first.prompt.endswith("'''\n") and first.canonical_solution.lstrip().startswith("def similar_elements(")
    assert [p.task_id for p in mbpp if p.extra_inputs == 0] == ["Mbpp/793"]  # (docs/problem-sets.md says why)
    assert mbpp.get("124").cpu_limits[0] >= 3 * 1.0 + 1  # three base inputs, at least 1 s each, + 1


def test_mbpp_judged_in_the_strict_judge_with_evalplus_oracles(mbpp):
    from pycodex.evaluate import evaluate_samples

    rows = [
        {"task_id": "Mbpp/737", "solution": "import re\ndef check_str(s):\n    return re.match('[aeiouAEIOU]', s)\n"},  # objects: "not None"
        {"task_id": "Mbpp/737", "completion": "def check_str(s):\n    return None\n"},
        {"task_id": "Mbpp/2", "completion": "def similar_elements(a, b):\n    return list(set(b) & set(a))[::-1]\n"},  # set oracle
        {"task_id": "Mbpp/124", "completion": "import cmath\ndef angle_complex(a, b):\n    return cmath.phase(a + b) + 1e-5\n"},
        {"task_id": "Mbpp/3", "completion": "def is_not_prime(n):\n    while True:\n        pass\n"},
    ]
    verdicts = evaluate_samples(rows, mbpp, workers=2).verdicts
    assert [(v.base_passed, v.plus_status) for v in verdicts] == [(True, "passed"), (False, "failed"), (True, "passed"),
                                                                   (True, "passed"), (False, "failed")]
    assert "TimeoutError" in verdicts[4].base_detail and "input #0" in verdicts[4].base_detail  # its own limit, not the job's


def test_evalplus_results_file(tmp_path, mbpp):
    from conftest import run_cli

    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in [
        {"task_id": "Mbpp/3", "solution": mbpp.get("3").canonical_solution},
        {"task_id": "Mbpp/3", "completion": "def is_not_prime(n):\n    return n % 2 == 0\n"}]))
    done = run_cli("evaluate", str(samples), "--problem-set", "mbpp-plus", "--evalplus-results", "--json")
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "samples_eval_results.json").read_text())
    assert set(results) == {"date", "hash", "eval"} and list(results["eval"]) == ["Mbpp/3"]
    ok, wrong = results["eval"]["Mbpp/3"]
    assert (ok["base_status"], ok["plus_status"], ok["base_fail_tests"]) == ("pass", "pass", [])
    assert (wrong["base_status"], wrong["plus_status"]) == ("fail", "fail") and wrong["base_fail_tests"] == [[1]]
    assert wrong["solution"] == mbpp.get("3").prompt + "def is_not_prime(n):\n    return n % 2 == 0\n"
    done = run_cli("evaluate", str(samples), "--evalplus-results")
    assert done.returncode == 2 and "--evalplus-results" in done.stderr


def test_mbpp_v020_is_not_rebuilt_byte_for_byte_so_v010_ships():
    import hashlib
    import importlib.util

    from pycodex import locations

    spec = importlib.util.spec_from_file_location("mbpp_v020", locations.bundled_problems_dir() / "mbpp_v020.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = module.rebuild()
    assert data.count(b"\n") == 378 and len(data) == 2_565_735
    assert hashlib.sha256(data).hexdigest() == "1e20ab833b9da5d330830f9c6ea1fe0dff01b1e853d7dd976059f9b1a7a62c67" != module.RELEASE_SHA256


def test_a_run_of_the_retired_pycodex_humaneval_plus_still_opens_and_reports(tmp_path):
    from conftest import run_cli
    from pycodex.store.database import Store

    db = tmp_path / "runs.db"
    with Store(db) as store:
        rid = store.create_run(config={"problem_set": "humaneval-plus", "problem_set_version": "1-seed14"}, backend="canonical",
                               task_ids=["HumanEval/0"], n=2)
        for index, (passed, base) in enumerate(((False, True), (True, True))):
            store.add_sample(rid, "HumanEval/0", index, completion="    return True\n")
            store.add_result(rid, "HumanEval/0", index, status="passed" if passed else "failed", passed=passed, base_passed=base)
        store.finish_run(rid, "finished")
    done = run_cli("report", rid, "--db", str(db), "--json", "--no-bleu")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["run"]["problem_set"], report["run"]["problem_set_version"]) == ("humaneval-plus", "1-seed14")
    assert report["pass_at_k"][0]["value"] == 0.5 and report["base_pass_at_k"][0]["value"] == 1.0
    assert run_cli("runs", "show", rid, "--db", str(db)).returncode == 0


_SPIN = "t = time.process_time()\nwhile time.process_time() - t < 1.6:\n    pass\n"
# The first call's 1.6 s (over the 1 s per-input floor), done in the call, in a thread, in a child
# the call waits for, or slept.
_WORK = {"spins": _SPIN, "sleeps": "time.sleep(1.6)\n",
         "spins in a thread": "th = threading.Thread(target=_spin)\nth.start()\nth.join()\n",
         "spins in a child": "pid = os.fork()\nif pid == 0:\n    _spin()\n    os._exit(0)\nos.waitpid(pid, 0)\n"}


def _slow_first_call(problem, prefix: str = "", in_call: str = "", work: str = _SPIN) -> str:
    """The canonical program, whose first call does `work` first."""
    name = problem.entry_point
    body = problem.canonical_solution.replace(f"def {name}(", f"def _orig_{name}(")
    return (prefix + "import os, threading, time\n_first = [True]\n" + body
            + "\ndef _spin():\n" + textwrap.indent(_SPIN, "    ")
            + f"\ndef {name}(*a):\n{in_call}    if _first[0]:\n        _first[0] = False\n"
            + textwrap.indent(work, "        ") + f"    return _orig_{name}(*a)\n")


def _judge(tmp_path, solutions: list[str]) -> list[dict]:
    from conftest import run_cli

    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "Mbpp/3", "solution": s}) + "\n" for s in solutions))
    done = run_cli("evaluate", str(samples), "--problem-set", "mbpp-plus")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in (tmp_path / "samples.jsonl_results.jsonl").read_text().splitlines()]


def test_a_call_over_its_cpu_limit_fails_and_ignoring_sigprof_outside_the_call_does_not_help(tmp_path, mbpp):
    results = _judge(tmp_path, [_slow_first_call(mbpp.get("3"), prefix=prefix)
                                for prefix in ("", "import signal\nsignal.signal(signal.SIGPROF, signal.SIG_IGN)\n")])
    assert [r["passed"] for r in results] == [False, False]
    assert all("input #0: TimeoutError" in r["result"] and "CPU-time limit" in r["result"] for r in results)


def test_a_call_that_disarms_its_own_timer_still_fails_however_it_spends_its_time(tmp_path, mbpp):
    """The judge's own clock (callclock.py): the sample's threads and children count, and its
    waiting (as evalplus's wall clock would count it); the sample's own timer is off in each."""
    in_call = "    import signal\n    signal.setitimer(signal.ITIMER_PROF, 0)\n"
    solutions = [_slow_first_call(mbpp.get("3"), in_call=in_call, work=work) for work in _WORK.values()]
    results = _judge(tmp_path, solutions + [_slow_first_call(mbpp.get("3"), in_call=in_call, work="pass\n")])
    assert [r["passed"] for r in results] == [False] * len(_WORK) + [True], [r["result"] for r in results]
    for how, result in zip(_WORK, results):
        assert "input #0: TimeoutError" in result["result"] and "measured by the judge" in result["result"], (how, result)


def test_a_digested_int_is_written_out_in_subquadratic_time_as_repr_writes_it():
    import sys

    sys.set_int_max_str_digits(0)
    rng = random.Random(7)
    values = [2**30001, -(2**30001) + 5, 10**20000 - 1, 18 * 10**40000]
    values += [rng.getrandbits(rng.randrange(30001, 60000)) * rng.choice((1, -1)) for _ in range(5)]
    assert all(plus_compare._repr(v) == repr(v) for v in values)
    assert plus_compare._repr(True) == "True" and plus_compare._repr([2**40000]) == repr([2**40000])


def test_the_judges_ledger_charges_each_call_its_own_time_and_a_batch_all_of_its_own():
    """callclock.Ledger: each reply's (start, end) readings of S's CPU clock (untrusted) are taken
    within J's own readings; S's CPU between two calls is free up to what encoding and decoding
    may take (`free`), the rest is charged; the last call of a batch is charged up to J's reading."""
    from pycodex.execution.callclock import CallClock, Ledger

    class Clock(CallClock):
        now = 10.0

        def cpu(self):
            return self.now

    def charges(intervals: list) -> list[float]:
        clock = Clock(1, 1, "stat")
        ledger = Ledger(clock)
        ledger.restart()  # a batch of calls sent at S's CPU 10.0
        clock.now = ledger.high = 10.9  # all the replies came in one read, after S had used 0.9 s
        return [round(ledger.settle(ledger.timer(), interval, 0.002, 0.002, last=i == len(intervals) - 1), 6)
                for i, interval in enumerate(intervals)]

    assert charges([(10.0, 10.3), (10.3, 10.6), (10.6, 10.9)]) == [0.3, 0.3, 0.3]  # honest: each call its own CPU
    assert charges([(10.001, 10.3), (10.301, 10.6), (10.601, 10.899)]) == [0.299, 0.299, 0.298]  # (codec: free)
    assert charges([(0.0, 0.0)] * 3) == [0.0, 0.0, 0.898]  # readings too low: the last call gets the rest
    assert charges([(99.0, 99.0)] * 3) == [0.898, 0.0, 0.0]  # too high: no more than J read
    assert charges([(10.5, 10.6), (10.6, 10.9)]) == [0.598, 0.3]  # 0.5 s before the call, not codec: charged
    assert charges(["x", (10.9, 10.9)]) == [0.9, 0.0]  # (no readings: up to J's reading)


def test_calls_that_each_stay_under_their_limit_pass_though_together_they_are_over(tmp_path, mbpp):
    """The first three calls spin 0.6 s each (1 s limit each): sent in one batch, each reply is
    still charged its own CPU, not the batch's."""
    work = "if _calls[0] < 3:\n    _calls[0] += 1\n" + textwrap.indent(_SPIN.replace("1.6", "0.6"), "    ")
    solution = _slow_first_call(mbpp.get("3"), prefix="_calls = [0]\n", work=work).replace("_first[0] = False", "pass")
    [result] = _judge(tmp_path, [solution])
    assert result["passed"], result["result"]



_TAKEOVER = '''
import signal, sys
def {name}(*a):
    signal.setitimer(signal.ITIMER_PROF, 0)  # (the sample's own timer off: the judge's clock alone)
    # The attack that knows the judge's clock: write each reply itself, after spending `seconds` of
    # CPU on each of the first `slow` calls, with readings that claim no CPU at all (lie) or the
    # true ones, answering every later call itself too.
    frame = sys._getframe(1)
    here, there = frame.f_locals, frame.f_globals
    write, encode, decode, spent = there["write_frame"], there["encode"], there["decode"], here["spent"]
    claim, calls, args, kwargs = here["start"], 0, a, {{}}
    while True:
        start = spent()
        while calls < {slow} and spent() - start < {seconds}:
            pass
        value, calls = _orig_{name}(*args, **kwargs), calls + 1
        readings = (claim, claim) if {lie} else (start, spent())
        write(here["reply_fd"], encode(("return", value) + readings))
        data = here["calls"].next()
        if data is None:
            os._exit(0)
        _, args, kwargs, *limit = decode(data)
'''


def test_a_sample_that_forges_its_replies_readings_still_pays_its_cpu(tmp_path, mbpp):
    """Replies written by the sample itself (callclock.Ledger's rules under attack). A first call
    of 1.6 s whose reply claims no CPU fails at its limit all the same: the judge takes readings
    only within its own, and charges a batch's last reply up to its own reading. Three calls of
    0.6 s each pass with their true readings, and fail with readings that claim no CPU: a lie
    only moves CPU onto the later calls of its batch, never out of it. (A ledger that believed
    the readings passes all three.)"""
    problem = mbpp.get("3")
    name = problem.entry_point
    body = "import os\n" + problem.canonical_solution.replace(f"def {name}(", f"def _orig_{name}(")
    cases = [(1, 1.6, True), (3, 0.6, True), (3, 0.6, False)]
    results = _judge(tmp_path, [body + _TAKEOVER.format(name=name, slow=n, seconds=s, lie=lie) for n, s, lie in cases])
    assert [r["passed"] for r in results] == [False, False, True], [r["result"] for r in results]
    assert all("TimeoutError" in r["result"] and "measured by the judge" in r["result"] for r in results[:2]), results
