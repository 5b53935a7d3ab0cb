"""The strict judge: its plain-data codec, the proxy's semantics, and the judge process's isolation."""

from __future__ import annotations

import math
import os
import random
import struct

import pytest

from pycodex.execution import Executor
from pycodex.execution.plain import MAX_BYTES, MAX_DEPTH, MAX_ITEMS, NotPlain, decode, encode
from pycodex.problems.problem import Problem

# -- the codec --------------------------------------------------------------------------------------

PLAIN_VALUES = [
    None, True, False, 0, 1, -1, 255, -256, 2**63, -(2**63) - 1, 10**400, -(10**400), 0.0, -0.0, 1.5, 1e308,
    float("inf"), float("-inf"), 5e-324, 1 + 2j, complex(float("inf"), -0.0), "", "é", "\ud800 lone surrogate",
    "\x00", b"", b"\x00\xff", [], (), {}, set(), frozenset(), [1, [2, [3, (4,)]]], (1, "a", b"b", None),
    {1: "a", "b": [2], (3, 4): {5: {6}}, None: frozenset({7}), 2.5: True}, {1, "a", (2, 3)},
    frozenset({frozenset({1}), ()}), {True: 1}, [[]] * 3,
    # packed (PACK_OVER values or more, all ints of 64 bits and floats), and lists that only look so
    [0.5] * 16, tuple(range(-8, 8)), [1, 2.5] * 8 + [float("inf"), -0.0, 2**63 - 1, -(2**63), 5e-324],
    [2**63] + [0] * 20, [True] + [1] * 20, [1.0] * 15 + [None], [[1.0] * 16, (2,) * 16], {"k": [3] * 17},
]


@pytest.mark.parametrize("value", PLAIN_VALUES, ids=repr)
def test_plain_values_cross_exactly(value):
    back = decode(encode(value))
    assert type(back) is type(value) and repr(back) == repr(value)
    if isinstance(value, float):
        assert math.copysign(1.0, back) == math.copysign(1.0, value)


def test_nan_keeps_its_bits_and_ints_of_any_size_cross():
    nan = struct.unpack("<d", b"\x01\x00\x00\x00\x00\x00\xf8\x7f")[0]
    assert struct.pack("<d", decode(encode(nan))) == struct.pack("<d", nan)
    assert struct.pack("<d", decode(encode([1] * 20 + [nan]))[-1]) == struct.pack("<d", nan)  # packed
    rng = random.Random(9)
    for bits in (1, 7, 8, 9, 63, 64, 65, 1000, 100_000):
        for _ in range(20):
            n = rng.getrandbits(bits) * rng.choice((1, -1))
            assert decode(encode(n)) == n


class _Int(int):
    pass


class _List(list):
    pass


def _cycle():
    a: list = []
    a.append([a])
    return a


@pytest.mark.parametrize("value, reason", [
    (_Int(1), "_Int"), (_List(), "_List"), (object(), "object"), ((i for i in ()), "generator"),
    (bytearray(b"x"), "bytearray"), (_cycle(), "contains itself"), ([[[]]] * 1 + [frozenset({_Int(2)})], "_Int"),
])
def test_anything_else_is_not_plain(value, reason):
    with pytest.raises(NotPlain, match=reason):
        encode(value)


def test_long_lists_of_numbers_are_packed_and_the_rest_is_not():
    assert encode([1.0] * 16)[:1] == b"L" and encode((1, 2.0) * 8)[:1] == b"P"
    assert encode([1.0] * 15)[:1] == b"l" and encode([2**64] * 16)[:1] == b"l" and encode([False] * 16)[:1] == b"l"
    million = [1, 3] + [i / 2 + 1 for i in range(1_000_000)]  # HumanEval+ /130's returns
    back = decode(encode(million))
    assert back == million and [type(x) for x in back[:3]] == [int, int, float]
    with pytest.raises(NotPlain, match="values"):
        encode([0.0] * (MAX_ITEMS + 1))


def test_caps_on_depth_items_and_size():
    deep: list = []
    for _ in range(MAX_DEPTH):
        deep = [deep]
    with pytest.raises(NotPlain, match="deeper"):
        encode(deep)
    assert decode(encode(deep[0])) == deep[0]  # exactly at the cap: fine
    with pytest.raises(NotPlain, match="values"):
        encode([None] * (MAX_ITEMS + 1))
    with pytest.raises(NotPlain, match="MiB"):
        encode("x" * (MAX_BYTES + 1024 * 1024))
    shared = [0]
    for _ in range(40):
        shared = [shared, shared]  # small in memory, 2**40 values encoded
    with pytest.raises(NotPlain, match="values"):
        encode(shared)


@pytest.mark.parametrize("data", [
    b"", b"N N", b"X", b"i\x00\x00\x00\x09\x01", b"l\xff\xff\xff\xff", b"l\x00\x00\x00\x02N",
    b"d\x00\x00\x00\x01l\x00\x00\x00\x00N", b"S\x00\x00\x00\x01l\x00\x00\x00\x00", b"s\x00\x00\x00\x02\xff\xfe",
    b"l\x00\x00\x00\x01" * (MAX_DEPTH + 1) + b"N", b"f\x00\x00",
    b"L\x00\x00\x00\x01x" + bytes(8), b"L\x00\x00\x00\x02if" + bytes(8), b"P\xff\xff\xff\xff", b"L\x00\x00\x00\x01N" + bytes(8),
])
def test_malformed_encodings_are_refused(data):
    with pytest.raises(NotPlain):
        decode(data)


def test_the_decoder_only_ever_raises_not_plain():
    """Random bytes and random corruptions of valid encodings: a value or NotPlain, nothing else."""
    rng = random.Random(14)
    valid = [encode(v) for v in PLAIN_VALUES]
    for _ in range(20_000):
        if rng.random() < 0.5:
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 24)))
        else:
            data = bytearray(rng.choice(valid))
            for _ in range(rng.randint(1, 3)):
                if data:
                    data[rng.randrange(len(data))] = rng.getrandbits(8)
            data = bytes(data)
        try:
            decode(data)
        except NotPlain:
            pass


# -- the proxy, through the real executor ------------------------------------------------------------


def _problem(test: str, prompt: str = "def f(*args, **kwargs):\n", entry_point: str = "f") -> Problem:
    return Problem(task_id="T/0", prompt=prompt, entry_point=entry_point, canonical_solution="", test=test)


@pytest.fixture(scope="module")
def strict():
    with Executor(workers=2, timeout=5.0) as executor:
        yield executor


EXACT = '''
EXPECTED = [None, True, 0, -0.0, float("inf"), 1 + 2j, 10 ** 50, "é", b"\\x00", [1, (2,)], {"a": {1, 2}}, frozenset({3})]

def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b

def check(candidate):
    for i, expected in enumerate(EXPECTED):
        assert same(candidate(i), expected), (i, candidate(i))
    assert math.isnan(candidate(99))
    assert candidate(1) is True and candidate(0) is None
'''
EXACT_SOLUTION = '''    import math
    values = [None, True, 0, -0.0, float("inf"), 1 + 2j, 10 ** 50, "é", b"\\x00", [1, (2,)], {"a": {1, 2}}, frozenset({3})]
    return float("nan") if args[0] == 99 else values[args[0]]
'''


def test_values_reach_the_judge_with_their_exact_types(strict):
    problem = _problem("import math\n" + EXACT)
    assert strict.submit(problem, EXACT_SOLUTION).result().passed
    close = EXACT_SOLUTION.replace("-0.0", "0.0")  # equal, but not the same value
    assert strict.submit(problem, close).result().status == "failed"
    as_list = EXACT_SOLUTION.replace("[1, (2,)]", "[1, [2]]")
    assert strict.submit(problem, as_list).result().status == "failed"


def test_arguments_reach_the_sample_as_copies(strict):
    problem = _problem("def check(candidate):\n    xs = [3, 1, 2]\n    assert candidate(xs) == [1, 2, 3]\n    assert xs == [3, 1, 2]\n")
    sorts_in_place = "    args[0].sort()\n    return args[0]\n"
    assert strict.submit(problem, sorts_in_place).result().passed  # the judge's list is untouched
    with Executor(workers=1, timeout=5.0, judge="classic") as classic:
        assert classic.submit(problem, sorts_in_place).result().status == "failed"  # in-process it is the same list


def test_a_sample_exception_is_raised_in_the_judge_by_name(strict):
    test = ("def check(candidate):\n"
            "    try:\n        candidate('v')\n    except ValueError as exc:\n        assert str(exc) == 'bad v'\n"
            "    else:\n        raise AssertionError('no ValueError')\n"
            "    candidate('k')\n")
    problem = _problem(test)
    code = ("    class Custom(Exception):\n        pass\n"
            "    if args[0] == 'v':\n        raise ValueError('bad ' + args[0])\n"
            "    if args[0] == 'k':\n        raise KeyError(args[0])\n")
    verdict = strict.submit(problem, code).result()
    assert verdict.status == "failed" and verdict.detail.startswith("KeyError: 'k' (line "), verdict
    custom = strict.submit(problem, code.replace("raise KeyError(args[0])", "raise Custom('mine')")).result()
    assert custom.detail.startswith("Custom: mine (line "), custom
    memory = strict.submit(problem, code.replace("raise KeyError(args[0])", "raise MemoryError")).result()
    assert memory.status == "out of memory", memory


def test_a_generated_test_of_many_pairs_runs_unchanged_in_the_judge(strict):
    """What an extra problem set needs (issue #14): a test that is data plus a loop, all in the judge."""
    pairs = [((a, b), a * b + 1) for a in range(-5, 6) for b in range(-3, 4)]
    test = f"INPUTS = {[p[0] for p in pairs]!r}\nRESULTS = {[p[1] for p in pairs]!r}\n\n" + (
        "def check(candidate):\n    for inp, exp in zip(INPUTS, RESULTS):\n        assert candidate(*inp) == exp, inp\n")
    problem = _problem(test, prompt="def f(a, b):\n    \"\"\"a * b + 1\"\"\"\n")
    assert strict.submit(problem, "    return a * b + 1\n").result().passed
    wrong = strict.submit(problem, "    return a * b + (a != 5)\n").result()
    assert wrong.status == "failed" and "AssertionError: (5, -3)" in wrong.detail, wrong


def test_prompt_helpers_come_from_the_problem_not_the_sample(strict):
    prompt = "def helper(x):\n    return x + 1\n\n\ndef f(x):\n    \"\"\"helper(x) * 2\"\"\"\n"
    problem = _problem("def check(candidate):\n    assert candidate(3) == helper(3) * 2\n", prompt, "f")
    assert strict.submit(problem, "    return helper(x) * 2\n").result().passed
    rebinds = "    return 0\n\ndef helper(x):\n    return -1\n"  # 0 == -1 * 2 fails: the judge's helper is the prompt's
    assert strict.submit(problem, rebinds).result().status == "failed"
    with Executor(workers=1, timeout=5.0, judge="classic") as classic:
        assert classic.submit(problem, "    return -2\n\ndef helper(x):\n    return -1\n").result().passed


# -- the judge process -------------------------------------------------------------------------------


def _processes_of(uid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/status") as f:
                    fields = dict(line.split(":", 1) for line in f if ":" in line)
            except OSError:
                continue
            if int(fields["Uid"].split()[0]) == uid:
                found.append(int(name))
    return found


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def test_the_judge_is_another_uid_outside_the_samples_namespace():
    from pycodex.execution.sandbox import JUDGE_UID_BASE

    if os.geteuid() != 0:
        pytest.skip("the judge has a uid of its own only when pycodex runs as root")
    probe = "    import os\n    print(os.getuid())\n    return 1\n"  # (the sample has no /proc: its namespace is read from here)
    problem = _problem("def check(candidate):\n    assert candidate() == 1\n")
    with Executor(workers=1, timeout=5.0) as executor:
        verdict = executor.submit(problem, probe).result()
        (slot,) = executor.slots
        judges = _processes_of(JUDGE_UID_BASE + slot)
        assert len(judges) == 1, judges
        with open(f"/proc/{judges[0]}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        judge_ns = os.readlink(f"/proc/{judges[0]}/ns/pid")
        worker = int(status["PPid"])  # W: its other child is C1, whose child is Z, the samples' pid 1
        c1 = [p for p in _children(worker) if p != judges[0]]
        sample_ns = {os.readlink(f"/proc/{z}/ns/pid") for p in c1 for z in _children(p)}
    assert verdict.passed, verdict
    uid = verdict.output.split()[0]
    assert len(sample_ns) == 1
    sample_ns = sample_ns.pop()
    assert int(uid) != JUDGE_UID_BASE + slot
    assert sample_ns != judge_ns == os.readlink("/proc/self/ns/pid")  # the sample's PID namespace holds no judge
    assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0 and status["NoNewPrivs"].strip() == "1"


def test_the_sample_cannot_speak_for_its_zygote(strict):
    """What a sample writes on its result pipe only starts the clock: a forged exit status changes nothing."""
    problem = _problem("def check(candidate):\n    assert candidate() == 1\n")
    forge = ("    import os, json, struct\n"
             "    for message in ({'kind': 'exit', 'status': 11}, {'kind': 'passed', 'proof': 'x'}, {'kind': 'failed', 'detail': 'x'}):\n"
             "        data = json.dumps(message).encode()\n"
             "        os.write(3, struct.pack('>I', len(data)) + data)\n"
             "    os._exit(0)\n")
    verdict = strict.submit(problem, forge).result()
    assert (verdict.status, verdict.detail) == ("failed", "exited (status 0) before the tests finished"), verdict


def test_the_judge_imports_any_module_and_writes_nothing(strict):
    """J leaves root for its own uid, yet a test may import modules the worker never imported
    (Python may live under a closed /root); its files are read-only to it."""
    if os.geteuid() != 0:
        pytest.skip("the judge has a uid (and mount namespace) of its own only when pycodex runs as root")
    test = ("import difflib, wave\n"
            "def check(candidate):\n"
            "    assert candidate() == 1\n"
            "    try:\n"
            "        open('/tmp/pycodex-judge-write-probe', 'w')\n"
            "    except OSError:\n"
            "        return\n"
            "    raise AssertionError('the judge could write to /tmp')\n")
    verdict = strict.submit(_problem(test), "    return 1\n").result()
    assert verdict.passed, verdict
    assert not os.path.exists("/tmp/pycodex-judge-write-probe")
