"""The named problem sets: names and versions, and chains (section 6); EvalPlus's sets: test_evalplus.py."""

from __future__ import annotations

import pytest

from pycodex.problems.chains import BLOCKS, LEAD, apply_chain, chain_problems
from pycodex.errors import UserError
from pycodex.problems.sets import NAMES, load_named



def test_the_sets_load_with_names_and_versions():
    sizes = {name: len(load_named(name)) for name in ("humaneval", "humaneval-plus-mini", "chains")}
    assert sizes == {"humaneval": 164, "humaneval-plus-mini": 164, "chains": 130}
    assert set(NAMES) == {"humaneval", "humaneval-plus", "humaneval-plus-mini", "mbpp-plus", "chains"}
    assert load_named("humaneval-plus-mini").version == "evalplus-mini-v0.1.10" and load_named("chains").version.startswith("1-seed")
    with pytest.raises(UserError, match="unknown problem set 'plus'"):
        load_named("plus")


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
