"""The named problem sets: humaneval-plus (data, contracts, regeneration) and chains (section 6)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from pycodex.problems.chains import BLOCKS, LEAD, apply_chain, chain_problems
from pycodex.errors import UserError
from pycodex.problems.sets import NAMES, PLUS_VERSION, load_named

PLUS_DIR = Path(__file__).resolve().parent.parent / "problems" / "humaneval_plus"


@pytest.fixture(scope="module")
def generator():
    sys.path.insert(0, str(PLUS_DIR))
    import contracts
    import generate

    yield generate, contracts
    sys.path.remove(str(PLUS_DIR))


def plus_inputs(problem) -> list[tuple]:
    return ast.literal_eval(re.search(r"^_PLUS_INPUTS = (.*)$", problem.test, re.M).group(1))


def test_the_three_sets_load_with_names_and_versions():
    sizes = {name: len(load_named(name)) for name in NAMES}
    assert sizes == {"humaneval": 164, "humaneval-plus": 164, "chains": 130}
    plus = load_named("humaneval-plus")
    assert plus.version == PLUS_VERSION and load_named("chains").version.startswith("1-seed")
    with pytest.raises(UserError, match="unknown problem set 'plus'"):
        load_named("plus")


def test_plus_keeps_humaneval_and_adds_over_100_inputs_per_problem():
    base, plus = load_named("humaneval"), load_named("humaneval-plus")
    for b, p in zip(base, plus):
        assert (p.task_id, p.prompt, p.canonical_solution, p.base_test) == (b.task_id, b.prompt, b.canonical_solution, b.test)
        assert p.test.startswith(b.test.rstrip("\n")) and p.base_problem().test == b.test
        assert p.extra_inputs == len(plus_inputs(p))
    assert sum(p.extra_inputs for p in plus) / len(plus) >= 100


def test_every_extra_input_keeps_its_contract_and_avoids_canonical_bugs(generator):
    _, contracts = generator
    for problem in load_named("humaneval-plus"):
        contract = contracts.CONTRACTS[problem.number]
        wrong = contracts.CANONICAL_WRONG.get(problem.number)
        for args in plus_inputs(problem):
            assert contract(*args), (problem.task_id, args)
            assert not (wrong and wrong[0](*args)), (problem.task_id, args)


def test_contracts_reject_what_docstrings_exclude(generator):
    _, contracts = generator
    c = contracts.CONTRACTS
    assert not c[1](")(")  # unbalanced groups
    assert not c[11]("10", "1")  # string_xor: equal lengths
    assert not c[55](40) and c[55](10)  # recursive fib kept fast
    assert not c[129]([[1, 2], [2, 3]], 2)  # every value 1..N*N exactly once
    assert not c[44](8, 10)  # base < 10
    assert contracts.CANONICAL_WRONG[97][0](19, -1) and not contracts.CANONICAL_WRONG[97][0](14, -15)


def test_regeneration_of_a_few_problems_matches_the_shipped_rows(generator):
    generate, _ = generator
    plus = load_named("humaneval-plus")
    assert generate.VERSION == PLUS_VERSION
    for number in (0, 53, 97, 160):  # floats, a random base test, a canonical bug, eval in the canonical
        row, stats = generate.plus_problem(plus.get(str(number)).base_problem())
        assert row == plus.get(str(number)).to_row() and stats["kept"] == plus.get(str(number)).extra_inputs


def test_chains_follow_section_6():
    problems = chain_problems()
    assert problems == chain_problems()  # deterministic
    by_length: dict[int, int] = {}
    for p in problems:
        by_length[len(p.chain)] = by_length.get(len(p.chain), 0) + 1
        assert LEAD in p.prompt
        dash_lines = [line.strip() for line in p.prompt.splitlines() if line.strip().startswith("-")]
        assert dash_lines == [f"-{BLOCKS[b][0]}" for b in p.chain]
        assert p.canonical_solution.splitlines()[:-1] == [f"    {BLOCKS[b][1]}" for b in p.chain]
        assert len(set(p.chain)) == len(p.chain) and set(p.chain) <= set(range(1, 14))
    assert min(by_length) == 1 and max(by_length) >= 10 and min(by_length.values()) >= 10
    assert len({p.chain for p in problems}) == len(problems)


def test_chain_blocks_do_what_the_paper_says():
    s = "Hello world. Is it? Yes!"
    assert apply_chain((1,), s) == "Hllo world. Is it? Ys!"
    assert apply_chain((6,), "abcdefg") == "bcef"  # drop i % 3 == 0
    assert apply_chain((12,), "abcd") == "AbCd"  # uppercase i % 2 == 0
    assert apply_chain((10,), "a b c d e") == "c d e"
    assert apply_chain((9, 11), "a b") == "b apples a apples"
    assert apply_chain((13, 4), s) == "llo world Is it Y"


def test_by_chain_length_reference_and_fit():
    from types import SimpleNamespace

    from pycodex.report.sets import by_chain_length

    chains = load_named("chains")
    by_len = {}
    for p in chains:
        by_len.setdefault(len(p.chain), p)
    sample = lambda passed: SimpleNamespace(passed=passed)  # noqa: E731
    groups = {by_len[1].task_id: [sample(True)] * 8 + [sample(False)] * 2,  # 0.8, then 0.32, 0.128: 2.5x per block
              by_len[2].task_id: [sample(True)] * 32 + [sample(False)] * 68,
              by_len[3].task_id: [sample(True)] * 128 + [sample(False)] * 872}
    rows = by_chain_length(groups, chains)
    assert [r["length"] for r in rows] == [1, 2, 3] and abs(rows[2]["reference"] - 0.128) < 1e-12
    assert abs(rows[0]["fitted_drop_per_block"] - 2.5) < 1e-9
    never = by_chain_length({by_len[1].task_id: [sample(False)], by_len[2].task_id: [sample(False)]}, chains)
    assert [r["reference"] for r in never] == [None, None]  # no line from a length that never passed
    assert by_chain_length(groups, load_named("humaneval")) == []
