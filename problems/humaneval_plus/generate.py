"""Regenerate problems/HumanEvalPlus.jsonl.gz: HumanEval with many more tests per problem.

    python problems/humaneval_plus/generate.py            # writes problems/HumanEvalPlus.jsonl.gz
    python problems/humaneval_plus/generate.py --check    # regenerates in memory, compares with the file

Deterministic and offline. For each problem:
1. record the arguments HumanEval's own test passes to the candidate (the canonical solution
   runs in a child process, oracle.py; its arguments come back as reprs read by literal_eval);
2. mutate them, type-aware (ints, floats, strings, lists, dicts, tuples; structure kept), with a
   random.Random seeded by SEED and the problem number, plus edge cases (empty, one element,
   zero, boundaries), keeping only inputs that satisfy the problem's contract (contracts.py);
3. ask the oracle (the canonical solution, in a child process, a CPU alarm per call) for the
   expected output; inputs on which it raises, runs over time or returns something that is not
   a plain literal (nan, inf, objects) are dropped, and so are those CANONICAL_WRONG names;
4. keep up to PER_PROBLEM of them and write the problem with a `test` that runs HumanEval's own
   check and then every extra pair (floats compared with a tolerance, see TEST_TEMPLATE).
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))

import contracts  # noqa: E402

SEED = 14
PER_PROBLEM = 150
ATTEMPTS = 3000
VERSION = f"1-seed{SEED}"
OUT = HERE.parent / "HumanEvalPlus.jsonl.gz"

TEST_HEADER = '''

# ---- humaneval-plus: extra inputs (problems/humaneval_plus/generate.py) ----
_PLUS_COUNT = {count}
_PLUS_INPUTS = {inputs}
_PLUS_OUTPUTS = {outputs}


def _plus_same(got, expected):
    """== with a tolerance for floats (relative 1e-6, absolute 1e-9), at any depth."""
    if type(expected) is float or (type(got) is float and type(expected) is int):
        if type(got) not in (int, float):
            return False
        return abs(got - expected) <= max(1e-9, 1e-6 * abs(expected))
    if type(expected) in (list, tuple):
        return (type(got) is type(expected) and len(got) == len(expected)
                and all(_plus_same(g, e) for g, e in zip(got, expected)))
    if type(expected) is dict:
        return (type(got) is dict and set(got) == set(expected)
                and all(_plus_same(got[k], expected[k]) for k in expected))
    return got == expected


_base_check = check


def check(candidate):
    _base_check(candidate)
'''

EQUAL_LOOP = '''    for _args, _expected in zip(_PLUS_INPUTS, _PLUS_OUTPUTS):
        _got = candidate(*_args)
        assert _plus_same(_got, _expected), ("extra input", _args, _expected)
'''

ROOT_LOOP = '''    for _args in _PLUS_INPUTS:
        _x = candidate(*_args)
        assert abs(poly(_args[0], _x)) < 1e-4, ("extra input", _args)
'''


# ---------------------------------------------------------------- the oracle (a child process)

def oracle(job: dict) -> dict:
    done = subprocess.run([sys.executable, str(HERE / "oracle.py")], input=json.dumps(job),
                          capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"oracle failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def recorded_inputs(problem) -> list[tuple]:
    job = {"program": problem.prompt + problem.canonical_solution, "entry_point": problem.entry_point, "test": problem.test}
    return [ast.literal_eval(text) for text in oracle(job)["inputs"]]


def canonical_outputs(problem, inputs: list[tuple]) -> list:
    job = {"program": problem.prompt + problem.canonical_solution, "entry_point": problem.entry_point,
           "inputs": [repr(args) for args in inputs]}
    outputs = []
    for text in oracle(job)["outputs"]:
        try:
            outputs.append(("ok", ast.literal_eval(text)) if text is not None else ("raised", None))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            outputs.append(("not plain", None))  # nan, inf, an object: no literal to compare with
    return outputs


# ---------------------------------------------------------------- type-aware mutation

def mutate_int(x: int, rnd: random.Random) -> int:
    choice = rnd.randrange(8)
    if choice == 0:
        return x + 1
    if choice == 1:
        return x - 1
    if choice == 2:
        return -x
    if choice == 3:
        return x * 2
    if choice == 4:
        return x // 2
    if choice == 5:
        return rnd.choice((0, 1, 2, -1, 3, 10, 100))
    span = max(10, 2 * abs(x))
    return rnd.randint(-span, span) if choice == 6 else rnd.randint(0, span)


def mutate_float(x: float, rnd: random.Random) -> float:
    choice = rnd.randrange(6)
    if choice == 0:
        return round(x * rnd.uniform(0.5, 2.0), rnd.choice((1, 2, 3)))
    if choice == 1:
        return round(x + rnd.uniform(-2, 2), rnd.choice((1, 2)))
    if choice == 2:
        return -x
    if choice == 3:
        return float(round(x))
    if choice == 4:
        return round(rnd.uniform(-10, 10), 1)
    return x + 0.5


def mutate_str(s: str, rnd: random.Random, pool: list) -> str:
    alphabet = sorted(set(s)) or ["a"]
    choice = rnd.randrange(11)
    if choice == 0 and s:
        i = rnd.randrange(len(s))
        return s[:i] + s[i + 1:]
    if choice == 1:
        i = rnd.randrange(len(s) + 1)
        return s[:i] + rnd.choice(alphabet) + s[i:]
    if choice == 2 and s:
        i = rnd.randrange(len(s))
        return s[:i] + rnd.choice(alphabet) + s[i + 1:]
    if choice == 3 and len(s) > 1:
        i = rnd.randrange(len(s) - 1)
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    if choice == 4:
        words = s.split(" ")
        rnd.shuffle(words)
        return " ".join(words)
    if choice == 5:
        words = s.split(" ")
        if len(words) > 1:
            del words[rnd.randrange(len(words))]
        return " ".join(words)
    if choice == 6:
        words = s.split(" ")
        i = rnd.randrange(len(words))
        words.insert(i, words[i])
        return " ".join(words)
    if choice == 7 and s:
        i = rnd.randrange(len(s))
        c = s[i]
        return s[:i] + (c.lower() if c.isupper() else c.upper()) + s[i + 1:]
    if choice == 8:
        other = rnd.choice(pool) if pool else s
        return s + (" " if rnd.random() < 0.5 else "") + other
    if choice == 9 and s:
        i, j = sorted(rnd.randrange(len(s) + 1) for _ in range(2))
        return s[:i] + s[i:j] * 2 + s[j:]
    return s[::-1] if rnd.random() < 0.5 else s


def mutate_value(value, rnd: random.Random, pools: dict):
    kind = type(value)
    if kind is bool:
        return not value
    if kind is int:
        return mutate_int(value, rnd)
    if kind is float:
        return mutate_float(value, rnd)
    if kind is str:
        return mutate_str(value, rnd, pools.get(str, []))
    if kind in (list, tuple):
        items = list(value)
        choice = rnd.randrange(9)
        if choice <= 2 and items:
            i = rnd.randrange(len(items))
            items[i] = mutate_value(items[i], rnd, pools)
        elif choice == 3 and items:
            del items[rnd.randrange(len(items))]
        elif choice == 4 and items:
            i = rnd.randrange(len(items))
            items.insert(rnd.randrange(len(items) + 1), mutate_value(items[i], rnd, pools) if rnd.random() < 0.5 else items[i])
        elif choice == 5 and len(items) > 1:
            i, j = rnd.sample(range(len(items)), 2)
            items[i], items[j] = items[j], items[i]
        elif choice == 6:
            rnd.shuffle(items)
        elif choice == 7:
            others = [v for v in pools.get(kind, []) if v]
            if others:
                items += list(rnd.choice(others))[: rnd.randint(1, 5)]
        else:
            items = sorted(items, key=repr) if rnd.random() < 0.5 else items[::-1]
        return kind(items) if kind is tuple and len(items) == len(value) else (items if kind is list else value)
    if kind is dict:
        items = list(value.items())
        choice = rnd.randrange(4)
        if choice == 0 and items:
            del items[rnd.randrange(len(items))]
        elif choice == 1 and items:
            k, v = rnd.choice(items)
            items.append((mutate_value(k, rnd, pools), v))
        elif choice == 2 and items:
            i = rnd.randrange(len(items))
            items[i] = (items[i][0], mutate_value(items[i][1], rnd, pools))
        elif items:
            i = rnd.randrange(len(items))
            items[i] = (mutate_value(items[i][0], rnd, pools), items[i][1])
        return dict(items)
    return value


def collect_pools(value, pools: dict) -> None:
    """Every string and container seen in the seeds, for cross-over."""
    kind = type(value)
    if kind in (str, list, tuple):
        pools.setdefault(kind, []).append(value)
    if kind in (list, tuple):
        for item in value:
            collect_pools(item, pools)
    if kind is dict:
        for k, v in value.items():
            collect_pools(k, pools)
            collect_pools(v, pools)


def edge_cases(seed: tuple) -> list[tuple]:
    """For each argument in turn: the empty/zero/one/small values of its type."""
    cases = []
    for i, value in enumerate(seed):
        kind = type(value)
        if kind is int:
            options = [0, 1, -1, 2, 3, 10, 100]
        elif kind is float:
            options = [0.0, 0.5, 1.0, -1.0, 2.5]
        elif kind is str:
            options = ["", value[:1], value[-1:], value[:len(value) // 2], " ", value.upper(), value.lower()]
        elif kind is list:
            options = [[], value[:1], value[-1:], value[: len(value) // 2], value * 2]
        else:
            options = []
        for option in options:
            cases.append(seed[:i] + (option,) + seed[i + 1:])
    return cases


def candidate_inputs(number: int, seeds: list[tuple], seed: int = SEED, per_problem: int = PER_PROBLEM) -> list[tuple]:
    """Valid, distinct inputs not among the seeds, in a deterministic order."""
    rnd = random.Random(seed * 1000 + number)
    contract = contracts.CONTRACTS[number]
    pools: dict = {}
    for seed in seeds:
        collect_pools(seed, pools)
    seen = {repr(s) for s in seeds}
    out: list[tuple] = []

    def consider(args: tuple) -> None:
        key = repr(args)
        if key in seen:
            return
        seen.add(key)
        try:
            valid = contract(*args)
        except Exception:  # noqa: BLE001 - a contract that cannot read an input rejects it
            valid = False
        if valid and len(key) < 4000:
            out.append(args)

    for seed in seeds:
        for case in edge_cases(seed):
            consider(case)
    frontier = list(seeds)
    for _ in range(ATTEMPTS):
        if len(out) >= 3 * per_problem or not frontier:
            break
        base = rnd.choice(frontier)
        args = list(base)
        for _ in range(rnd.choice((1, 1, 2))):
            i = rnd.randrange(len(args))
            if rnd.random() < 0.15 and len(seeds) > 1:  # cross-over: the same argument of another seed
                args[i] = rnd.choice(seeds)[i]
            else:
                args[i] = mutate_value(args[i], rnd, pools)
        before = len(out)
        consider(tuple(args))
        if len(out) > before and rnd.random() < 0.3:
            frontier.append(out[-1])  # mutate mutants too: drift further from the seeds
    return out


def plus_problem(problem, seed: int = SEED, per_problem: int = PER_PROBLEM) -> tuple[dict, dict]:
    """The problem's humaneval-plus row and what happened to its candidates. Another seed gives
    another set of inputs from the same contracts (benchmarks/bench_plus.py's held-out set)."""
    number = problem.number
    seeds = [s for s in recorded_inputs(problem) if type(s) is tuple]
    seeds = list({repr(s): s for s in seeds}.values())
    candidates = candidate_inputs(number, seeds, seed, per_problem)
    outputs = canonical_outputs(problem, candidates)
    wrong = contracts.CANONICAL_WRONG.get(number)
    kept_in, kept_out = [], []
    stats = {"candidates": len(candidates), "raised": 0, "not plain": 0, "canonical wrong": 0}
    for args, (status, value) in zip(candidates, outputs):
        if status != "ok":
            stats[status] += 1
            continue
        if wrong and wrong[0](*args):
            stats["canonical wrong"] += 1
            continue
        kept_in.append(args)
        kept_out.append(value)
    rnd = random.Random(seed * 7919 + number)
    order = sorted(range(len(kept_in)), key=lambda i: rnd.random())[:per_problem]
    order.sort()
    inputs = [kept_in[i] for i in order]
    expected = [kept_out[i] for i in order]
    special = contracts.SPECIAL_CHECK.get(number)
    test = problem.test.rstrip("\n") + TEST_HEADER.format(count=len(inputs), inputs=repr(inputs), outputs=repr(expected if not special else []))
    test += ROOT_LOOP if special == "root" else EQUAL_LOOP
    row = problem.to_dict() | {"test": test, "base_test": problem.test}
    stats["kept"] = len(inputs)
    return row, stats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare a fresh generation with the shipped file")
    ap.add_argument("--only", default=None, help="problem numbers (e.g. 0,5,12) to generate, printed, not written")
    args = ap.parse_args(argv)
    from pycodex.problems.problem import load_humaneval

    problems = list(load_humaneval())
    if args.only:
        wanted = {int(x) for x in args.only.split(",")}
        problems = [p for p in problems if p.number in wanted]
    rows, all_stats = [], []
    for problem in problems:
        row, stats = plus_problem(problem)
        rows.append(row)
        all_stats.append(stats)
        print(f"{problem.task_id:14} " + " ".join(f"{k}={v}" for k, v in stats.items()), file=sys.stderr)
    total = sum(stats["kept"] for stats in all_stats)
    print(f"{len(rows)} problems, {total} extra inputs ({total / len(rows):.1f} per problem), version {VERSION}", file=sys.stderr)
    data = "".join(json.dumps(row) + "\n" for row in rows).encode("utf-8")
    if args.only:
        return 0
    if args.check:
        with gzip.open(OUT, "rb") as f:
            same = f.read() == data
        print("identical to the shipped file" if same else "DIFFERS from the shipped file", file=sys.stderr)
        return 0 if same else 1
    with open(OUT, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        f.write(data)
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
