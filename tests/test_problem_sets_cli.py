"""--problem-set through the installed CLI: verify, evaluate (base and plus), export, eval, errors."""

from __future__ import annotations

import gzip
import json
import sqlite3

from conftest import run_cli
from plus_alternatives import ALTERNATIVES

WRONG_24 = "    return n // 2 if n % 2 == 0 else (n // 7 if n % 7 == 0 else 1)\n"  # passes HumanEval's 5 asserts


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_verify_plus_and_chains_all_canonical_pass():
    for name, size in (("humaneval-plus-mini", 164), ("chains", 130)):  # (humaneval-plus, mbpp-plus: docs/problem-sets.md)
        done = run_cli("problems", "verify", "--problem-set", name, "--json")
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(done.stdout) | {"judge": None} == {"problems": size, "passed": size, "failures": [], "judge": None}


def test_evaluate_plus_no_false_failure_on_other_correct_solutions_and_catches_a_base_survivor(tmp_path):
    # (not /44: EvalPlus fixed its canonical solution, change_base(0, b) is "0", which this alternative misses)
    rows = [{"task_id": f"HumanEval/{n}", "completion": c} for n, c in ALTERNATIVES.items() if n != 44]
    rows.append({"task_id": "HumanEval/24", "completion": WRONG_24})
    # a forged "always equal" value: the strict judge only ever sees plain data
    rows.append({"task_id": "HumanEval/24", "completion": "    class A:\n        def __eq__(self, o):\n            return True\n    return A()\n"})
    samples = _write(tmp_path / "s.jsonl", rows)
    done = run_cli("evaluate", str(samples), "--problem-set", "humaneval-plus-mini", "--k", "1", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    results = [json.loads(line) for line in (tmp_path / "s.jsonl_results.jsonl").read_text().splitlines()]
    alternatives, wrong, forged = results[:-2], results[-2], results[-1]
    false_failures = [(r["task_id"], r["result"]) for r in alternatives if not (r["passed"] and r["base_passed"])]
    assert false_failures == [] and len(alternatives) >= 36
    assert (wrong["base_passed"], wrong["passed"], wrong["plus_status"]) == (True, False, "failed") and "input #" in wrong["result"]
    assert (forged["base_passed"], forged["passed"]) == (False, False)
    summary = json.loads(done.stdout)
    assert summary["problem_set"] == "humaneval-plus-mini" and summary["base_passed"] == len(alternatives) + 1
    assert summary["passed"] == len(alternatives)


def test_export_round_trips_with_extra_fields(tmp_path):
    for name, out in (("chains", tmp_path / "chains.jsonl"), ("humaneval-plus-mini", tmp_path / "plus.jsonl.gz")):
        done = run_cli("problems", "export", "--problem-set", name, "-o", str(out))
        assert done.returncode == 0, done.stderr
        opener = gzip.open if out.suffix == ".gz" else open
        with opener(out, "rt") as f:
            rows = [json.loads(line) for line in f]
        assert {"task_id", "prompt", "entry_point", "canonical_solution", "test"} <= set(rows[0])
        assert ("chain" in rows[0]) == (name == "chains") and ("base_test" in rows[0]) == (name != "chains")
        shown = run_cli("problems", "show", "3", "--problems-file", str(out), "--json")
        assert json.loads(shown.stdout) | {"asserts": 0} == rows[3] | {"asserts": 0}


def test_eval_records_the_set_and_its_version(tmp_path):
    db = tmp_path / "runs.db"
    done = run_cli("eval", "--backend", "canonical", "--problem-set", "chains", "-p", "0-11", "--db", str(db), "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert out["problem_set"] == "chains" and out["problem_set_version"].startswith("1-seed") and out["pass_at_k"]["1"] == 1.0
    done = run_cli("eval", "--backend", "canonical", "--problem-set", "mbpp-plus", "-p", "2-4", "--db", str(db), "--json")
    assert json.loads(done.stdout)["base_pass_at_k"] == {"1": 1.0} and json.loads(done.stdout)["pass_at_k"]["1"] == 1.0
    rows = sqlite3.connect(db).execute("SELECT problem_set, problem_set_version FROM runs ORDER BY created_at").fetchall()
    assert rows == [("chains", out["problem_set_version"]), ("mbpp-plus", "evalplus-v0.1.0")]


def test_report_by_chain_length_and_base_vs_plus(tmp_path):
    from pycodex.problems.sets import load_named

    db = tmp_path / "runs.db"
    chains = load_named("chains").problems[:30]  # lengths 1, 2, 3
    rows = [{"task_id": p.task_id, "completion": p.canonical_solution if len(p.chain) == 1 or (len(p.chain) == 2 and i % 2)
             else "    return s\n"} for i, p in enumerate(chains)]
    samples = _write(tmp_path / "chains.jsonl", rows)
    assert run_cli("eval", "--backend", "samples", "--samples-file", str(samples), "--problem-set", "chains", "-p", "0-29",
                   "--db", str(db)).returncode == 0
    report = json.loads(run_cli("report", "last", "--db", str(db), "--json", "--no-bleu").stdout)
    by_length = {r["length"]: r for r in report["by_chain_length"]}
    assert [(r["problems"], r["passed"]) for r in by_length.values()] == [(10, 10), (10, 5), (10, 0)]
    assert by_length[3]["reference"] == 1 / 2.5 ** 2 and by_length[3]["reference_low"] == 1 / 9
    text = run_cli("report", "last", "--db", str(db), "--no-bleu", "--no-plots").stdout
    assert "pass rate by chain length" in text and "paper 2.5x" in text

    samples = _write(tmp_path / "plus.jsonl", [{"task_id": "HumanEval/24", "completion": WRONG_24}])
    assert run_cli("eval", "--backend", "samples", "--samples-file", str(samples), "--problem-set", "humaneval-plus-mini", "-p", "24",
                   "--db", str(db)).returncode == 0
    report = json.loads(run_cli("report", "last", "--db", str(db), "--json", "--no-bleu").stdout)
    assert report["run"]["problem_set"] == "humaneval-plus-mini" and "by_chain_length" not in report
    assert (report["base_pass_at_k"][0]["value"], report["pass_at_k"][0]["value"]) == (1.0, 0.0)


def test_bad_problem_set_flags_are_one_line_and_exit_2(tmp_path):
    for args in (("problems", "list", "--problem-set", "plus"),
                 ("problems", "list", "--problem-set", "chains", "--problems-file", str(tmp_path / "x.jsonl")),
                 ("eval", "--backend", "canonical", "--problem-set", "nope", "--db", str(tmp_path / "r.db"))):
        done = run_cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "problem" in done.stderr
