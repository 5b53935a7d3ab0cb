"""Parity with evalplus 0.3.1 itself, lean: a few tasks of each set, real evalplus runs on the same
samples (canonical, mutants, wrong, alternative and real Gemma 3 270M samples) (its samples format in, its eval_results.json out on both sides). The >=800-sample
comparisons are benchmarks/bench_evalplus.py's (figures in docs/problem-sets.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from bench_evalplus import KNOWN, MODEL_SAMPLES, build_samples, compare, release_jsonl, run_evalplus, run_pycodex  # noqa: E402
from plus_alternatives import ALTERNATIVES  # noqa: E402

CASES = {
    "humaneval-plus-mini": ["HumanEval/0", "HumanEval/2", "HumanEval/24", "HumanEval/32", "HumanEval/53"],
    "mbpp-plus": ["Mbpp/2", "Mbpp/3", "Mbpp/124", "Mbpp/737"],
}


@pytest.mark.parametrize("set_name", list(CASES))
def test_same_verdicts_and_failing_inputs_as_evalplus(set_name, tmp_path, monkeypatch):
    from pycodex.problems.problem import ProblemSet
    from pycodex.problems.sets import load_named

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # evalplus's ground-truth cache
    full = load_named(set_name)
    subset = ProblemSet([full.get(t) for t in CASES[set_name]], name=set_name)
    rows = build_samples(set_name, subset, [], loops=1)
    if set_name.startswith("humaneval"):
        rows += [{"task_id": f"HumanEval/{n}", "completion": ALTERNATIVES[n]} for n in (0, 2, 24) if n in ALTERNATIVES]
    else:
        rows += [{"task_id": "Mbpp/737", "solution": "import re\ndef check_str(s):\n    return re.match('[aeiouAEIOU]', s)\n"},
                 {"task_id": "Mbpp/2", "solution": "def similar_elements(a, b):\n    return list(set(a) & set(b))\n"}]
    model = MODEL_SAMPLES["mbpp-plus" if set_name.startswith("mbpp") else "humaneval-plus"]
    rows += [row for path in model for line in path.read_text().splitlines() if line.strip()
             for row in [json.loads(line)] if row["task_id"] in CASES[set_name]]  # real Gemma 3 270M samples
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = release_jsonl(set_name, tmp_path / "data.jsonl", set(CASES[set_name]))
    theirs, _ = run_evalplus(set_name, data, samples, workers=2)
    ours, _ = run_pycodex(set_name, samples, workers=2)
    count, disagreements = compare(set_name, ours, theirs)
    assert count == len(rows) >= 13 + 5  # (two of the four MBPP tasks have no mutant site; 5+ model samples)
    assert [d for d in disagreements if d["reason"] is None] == []
    # the one known exception: evalplus 0.3.1 fails every HumanEval/32 sample (reporting no failing input),
    # pycodex passes the canonical one
    assert {d["task_id"] for d in disagreements} == ({"HumanEval/32"} if set_name.startswith("humaneval") else set())
    assert not set_name.startswith("humaneval") or {"task_id": "HumanEval/32", "index": 0, "pycodex": ("pass", "pass"),
                                                     "evalplus": ("fail", "fail"), "reason": KNOWN[(set_name, "HumanEval/32")]} in disagreements
    passes = sum(e["base_status"] == e["plus_status"] == "pass" for entries in ours["eval"].values() for e in entries)
    assert passes >= len(CASES[set_name])  # (not a file of failures only)
