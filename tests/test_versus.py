"""`pycodex versus` and `report --compare`: two runs paired on the same problems and seed, the paired
difference with its bootstrap interval, the per-problem matrix, refusals, kill -9 and resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import pycodex_exe, run_cli
from pycodex.errors import UserError
from pycodex.report.paired import check_comparable, paired_comparison
from pycodex.store.database import Store


def _json(result):
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def _one_line_error(result, needle: str):
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.stderr


def write_samples(path, problems: range, n: int, right: set[str]) -> None:
    """A samples file: the canonical solution for the task ids in `right`, a wrong body elsewhere."""
    from pycodex.problems.sets import load

    humaneval = load(None, None)
    rows = []
    for i in problems:
        task = f"HumanEval/{i}"
        body = humaneval.get(task).canonical_solution if task in right else "    return None\n"
        rows += [{"task_id": task, "completion": body}] * n
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_paired_comparison_is_paired_seeded_and_fills_the_matrix():
    a = {"t0": (4, 4), "t1": (4, 0), "t2": (4, 2), "t3": (4, 0), "t4": (4, 1)}
    b = {"t0": (4, 3), "t1": (4, 1), "t2": (4, 4), "t3": (4, 0), "t4": (4, 0), "t9": (4, 4)}
    result = paired_comparison(a, b, resamples=500, seed=3)
    assert result["shared_problems"] == 5  # t9 is not in A
    assert result["matrix"] == {"both": ["t0", "t2"], "only_a": ["t4"], "only_b": ["t1"], "neither": ["t3"]}
    one = result["pass_at_k"][0]
    assert one["k"] == 1 and one["a"] == pytest.approx(7 / 20) and one["b"] == pytest.approx(8 / 20)
    assert one["diff"] == pytest.approx(1 / 20) and one["ci_low"] < one["diff"] < one["ci_high"]
    assert [r["k"] for r in result["pass_at_k"]] == [1, 2, 3, 4]
    assert paired_comparison(a, b, resamples=500, seed=3) == result  # seeded: deterministic
    # Paired: B = A + 0.25 on every problem gives a zero-width interval, unpaired intervals would not.
    shifted = paired_comparison({t: (4, 1) for t in "wxyz"} | {"v": (4, 3)}, {t: (4, 2) for t in "wxyz"} | {"v": (4, 4)})
    assert shifted["pass_at_k"][0]["ci_low"] == pytest.approx(0.25) == shifted["pass_at_k"][0]["ci_high"]


def test_check_comparable_refuses_other_problems_sets_or_seeds(tmp_path):
    with Store(tmp_path / "runs.db") as store:
        def run(backend="llama", seed=0, tasks=("HumanEval/0", "HumanEval/1"), problem_set="humaneval"):
            rid = store.create_run(config={"problem_set": problem_set, "problem_set_version": "1"}, backend=backend,
                                   task_ids=list(tasks), n=1, seed=seed)
            return store.get_run(rid)

        check_comparable(run(), run(tasks=("HumanEval/1", "HumanEval/0")))
        check_comparable(run(backend="canonical", seed=1), run(seed=2))  # a replay's seed changes nothing
        for other, needle in ((run(seed=5), "different seeds (0 vs 5)"), (run(tasks=("HumanEval/0",)), "different problems"),
                              (run(problem_set="humaneval-plus"), "different problem sets")):
            with pytest.raises(UserError, match=r"cannot be compared pair by pair: " + needle.replace("(", r"\(").replace(")", r"\)")):
                check_comparable(run(), other)


def test_versus_replays_pair_and_match_report_compare(tmp_path):
    db = str(tmp_path / "runs.db")
    samples = tmp_path / "mine.jsonl"
    write_samples(samples, range(4), 3, right={"HumanEval/1", "HumanEval/3"})
    args = ("versus", "canonical", f"samples:{samples}", "-p", "0-3", "-n", "3", "--db", db, "--json")
    data = _json(run_cli(*args))
    a, b, comparison = data["a"], data["b"], data["comparison"]
    assert a["status"] == b["status"] == "finished" and a["totals"]["seed"] == b["totals"]["seed"] == 0
    assert comparison["matrix"] == {"both": ["HumanEval/1", "HumanEval/3"], "only_a": ["HumanEval/0", "HumanEval/2"], "only_b": [], "neither": []}
    assert comparison["pass_at_k"][0] | {"ci_low": 0, "ci_high": 0} == {"k": 1, "a": 1.0, "b": 0.5, "diff": -0.5, "ci_low": 0, "ci_high": 0}
    assert comparison["pass_at_k"][0]["ci_low"] == -1.0 and comparison["pass_at_k"][0]["ci_high"] == 0.0
    report = _json(run_cli("report", a["run_id"], "--compare", b["run_id"], "--db", db, "--json", "--no-bleu"))
    assert report["comparison"] == comparison  # the same seeded paired bootstrap
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT run_a, run_b FROM versus").fetchall() == [(a["run_id"], b["run_id"])]
    again = _json(run_cli(*args))  # the same command reuses both runs
    assert (again["a"]["run_id"], again["b"]["run_id"], again["pair"]) == (a["run_id"], b["run_id"], data["pair"])
    assert again["a"]["totals"]["generated_this_session"] == again["b"]["totals"]["generated_this_session"] == 0
    stored = _json(run_cli("versus", f"run:{a['run_id']}", f"samples:{samples}@0.8", "--db", db, "--json"))  # a stored side lends its settings
    assert stored["a"]["run_id"] == a["run_id"] and stored["b"]["run_id"] != b["run_id"] and stored["comparison"]["pass_at_k"] == comparison["pass_at_k"]
    human = run_cli("report", a["run_id"], "--compare", b["run_id"], "--db", db, "--no-plots")
    assert human.returncode == 0 and "-50.00 pt [-100.00, +0.00]" in human.stdout and "2 only A" in human.stdout


def test_versus_and_compare_refuse_with_one_line(tmp_path):
    db = str(tmp_path / "runs.db")
    _one_line_error(run_cli("versus", "canonical", "canonical", "-p", "0-1", "--db", db), "are the same configuration")
    _one_line_error(run_cli("versus", "canonical", "samples:", "-p", "0-1", "--db", db), "samples")
    _one_line_error(run_cli("versus", "canonical", "default@-1", "--db", db), "temperature")
    first = _json(run_cli("eval", "--backend", "canonical", "-p", "0-1", "--db", db, "--json"))
    second = _json(run_cli("eval", "--backend", "canonical", "-p", "0-2", "--db", db, "--json"))
    _one_line_error(run_cli("report", first["run_id"], "--compare", second["run_id"], "--db", db), "different problems (2 vs 3; HumanEval/2")
    _one_line_error(run_cli("versus", f"run:{first['run_id']}", f"run:{second['run_id']}", "--db", db), "different problems")


def _count(db, sql: str) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.Error:
        return 0


def test_versus_killed_then_resumed_redoes_nothing(tmp_path):
    db = str(tmp_path / "runs.db")
    samples = tmp_path / "mine.jsonl"
    write_samples(samples, range(40), 3, right={f"HumanEval/{i}" for i in range(0, 40, 2)})
    args = ["versus", "canonical", f"samples:{samples}", "-p", "0-39", "-n", "3", "-w", "1", "--db", db, "--json"]
    proc = subprocess.Popen([*pycodex_exe(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while _count(db, "SELECT COUNT(*) FROM results") < 30:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "versus made no progress"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with sqlite3.connect(db) as conn:
        before = dict(conn.execute("SELECT run_id, COUNT(*) FROM samples GROUP BY run_id").fetchall())
        verdicts = {tuple(r[:3]): r[3] for r in conn.execute("SELECT run_id, task_id, idx, created_at FROM results")}
    assert len(before) == 2 and 30 <= len(verdicts) < 240
    data = _json(run_cli(*args))
    for side in ("a", "b"):
        totals = data[side]["totals"]
        assert data[side]["status"] == "finished" and totals["executed"] == 120
        assert totals["generated_this_session"] == 120 - before[data[side]["run_id"]]
        assert totals["executed_this_session"] == 120 - sum(key[0] == data[side]["run_id"] for key in verdicts)
    with sqlite3.connect(db) as conn:
        after = {tuple(r[:3]): r[3] for r in conn.execute("SELECT run_id, task_id, idx, created_at FROM results")}
        assert conn.execute("SELECT COUNT(*) FROM versus").fetchone()[0] == 1
    assert all(after[key] == when for key, when in verdicts.items())  # first verdicts kept, not re-executed
    assert data["comparison"]["counts"] == {"both": 20, "only_a": 20, "only_b": 0, "neither": 0}


def test_versus_of_two_temperatures_of_the_real_model(tmp_path):
    """Two llama models in one process (they load one at a time: two at once crash llama.cpp)."""
    data = _json(run_cli("versus", "default@0.2", "default@0.8", "-p", "0-1", "-n", "2", "--max-tokens", "8",
                         "--db", str(tmp_path / "runs.db"), "--json"))
    for side in ("a", "b"):
        assert data[side]["status"] == "finished" and data[side]["totals"]["executed"] == 4 and data[side]["totals"]["seed"] == 0
    with Store(tmp_path / "runs.db") as store:
        configs = [store.get_run(data[side]["run_id"]).config for side in ("a", "b")]
    assert [c["params"]["temperature"] for c in configs] == [0.2, 0.8] and configs[0]["threads"] == configs[1]["threads"]
    assert sum(data["comparison"]["counts"].values()) == 2
