"""Crash safety: `kill -9` an eval mid-way, `--resume` it, and get exactly the uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import pycodex_exe, run_cli

# A model stand-in whose answer depends only on the per-sample seed, slow enough to kill mid-way.
# It logs every generation it performs, so the test can count them. The real CLI runs around it.
SLOW_BACKEND = textwrap.dedent(
    """
    import os, sys, time
    import pycodex.generation.factory as factory
    from pycodex.generation.base import SampleFinished, TextDelta
    from pycodex.problems.problem import load_humaneval

    class Slow:
        name = "slowfake"

        def __init__(self):
            self.solutions = {p.task_id: p.canonical_solution for p in load_humaneval()}

        def generate(self, prompt, params, task_id=None):
            for index in range(params.n):
                time.sleep(float(os.environ.get("SLOW_DELAY", "0.05")))
                text = self.solutions[task_id] if (params.seed + 7 * index) % 3 else "    return None\\n"
                with open(os.environ["GEN_LOG"], "a") as log:
                    log.write(f"{task_id} {params.seed} {index}\\n")
                yield TextDelta(index, text)
                yield SampleFinished(index, text, "stop", 3, -1.0 - params.seed % 5, -0.3, 0.05)

        def describe(self):
            return {"kind": "slowfake"}

        def close(self):
            pass

    factory.create_backend = lambda kind, **kw: Slow()
    from pycodex.cli.app import main
    main(sys.argv[1:])
    """
)


def _count(db, table: str) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _wait_for(db, table: str, at_least: int, proc, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while _count(db, table) < at_least:
        assert proc.poll() is None, f"eval ended before it could be killed: {proc.stderr.read() if proc.stderr else ''}"
        assert time.monotonic() < deadline, "eval made no progress"
        time.sleep(0.05)


def _rows(db, run_id):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    samples = {
        (r["task_id"], r["idx"]): dict(r)
        for r in conn.execute("SELECT * FROM samples WHERE run_id = ?", (run_id,))
    }
    results = {
        (r["task_id"], r["idx"]): dict(r)
        for r in conn.execute("SELECT * FROM results WHERE run_id = ?", (run_id,))
    }
    conn.close()
    return samples, results


def _comparable(samples, results):
    return {
        key: (s["completion"], s["seed"], s["tokens"], s["sum_logprob"], results[key]["status"], results[key]["passed"])
        for key, s in samples.items()
    }


def _single_run_id(db) -> str:
    conn = sqlite3.connect(db)
    (run_id,) = conn.execute("SELECT id FROM runs").fetchone()
    conn.close()
    return run_id


def test_kill_9_mid_generation_then_resume(tmp_path):
    script = tmp_path / "slow_eval.py"
    script.write_text(SLOW_BACKEND)
    db = str(tmp_path / "runs.db")
    log = tmp_path / "generations.log"
    env = dict(os.environ, GEN_LOG=str(log))
    # --chunk-size 1: one backend call per sample, so the generation log counts exactly
    args = ["eval", "--problems", "0-19", "--n", "3", "--seed", "42", "--workers", "2", "--chunk-size", "1", "--json"]

    proc = subprocess.Popen([sys.executable, str(script), *args, "--db", db], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(db, "samples", 15, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    run_id = _single_run_id(db)
    before_samples, before_results = _rows(db, run_id)
    generated_before = len(log.read_text().splitlines())
    assert 15 <= len(before_samples) < 60
    # at most the one sample in flight was lost
    assert generated_before - len(before_samples) <= 1

    listing = json.loads(run_cli("runs", "list", "--db", db, "--json").stdout)
    assert listing[0]["status"] == "interrupted"

    resumed = subprocess.run([sys.executable, str(script), "eval", "--resume", run_id[:4], "--db", db, "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert data["status"] == "finished" and data["run_id"] == run_id
    assert data["totals"]["generated_this_session"] == 60 - len(before_samples)

    after_samples, after_results = _rows(db, run_id)
    assert len(after_samples) == len(after_results) == 60
    # nothing stored was redone: the first session's samples and verdicts are untouched ...
    for key, row in before_samples.items():
        assert after_samples[key] == row
    for key, row in before_results.items():
        assert after_results[key] == row
    # ... and the resume generated exactly the missing samples, once each
    second_session = log.read_text().splitlines()[generated_before:]
    assert len(second_session) == 60 - len(before_samples)
    assert {s["session"] for k, s in after_samples.items() if k not in before_samples} == {2}
    # stored-but-unjudged samples of the first session were judged by the second
    assert all(after_results[k]["session"] == 2 for k in before_samples if k not in before_results)

    # the same run uninterrupted, same seed: identical samples and verdicts
    ref_db = str(tmp_path / "reference.db")
    ref = subprocess.run([sys.executable, str(script), *args, "--db", ref_db], env=dict(env, SLOW_DELAY="0"), capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    ref_data = json.loads(ref.stdout)
    assert ref_data["pass_at_k"] == data["pass_at_k"]
    assert _comparable(*_rows(ref_db, ref_data["run_id"])) == _comparable(after_samples, after_results)
    assert 0 < ref_data["pass_at_k"]["1"] < 1  # the seeds matter: some samples fail


def test_kill_9_installed_pycodex_mid_execution_then_resume(tmp_path):
    """The installed command with the canonical backend: killed while verdicts are being stored."""
    db = str(tmp_path / "runs.db")
    args = ["eval", "--backend", "canonical", "--n", "3", "--seed", "7", "--workers", "1", "--db", db, "--json"]
    proc = subprocess.Popen([*pycodex_exe(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(db, "results", 20, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    run_id = _single_run_id(db)
    before_samples, before_results = _rows(db, run_id)
    assert 20 <= len(before_results) < 492

    resumed = run_cli("eval", "--resume", run_id, "--db", db, "--json")
    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert data["status"] == "finished" and data["pass_at_k"] == {"1": 1.0}
    assert data["totals"]["executed_this_session"] == 492 - len(before_results)
    assert data["totals"]["generated_this_session"] == 492 - len(before_samples)
    after_samples, after_results = _rows(db, run_id)
    assert len(after_results) == 492
    for key, row in before_results.items():
        assert after_results[key] == row  # first verdicts kept, not re-executed


def test_ctrl_c_stops_cleanly_and_resumes(tmp_path):
    """SIGINT (Ctrl-C): exit 130, run marked cancelled with everything finished stored, resumable."""
    db = str(tmp_path / "runs.db")
    proc = subprocess.Popen(
        [*pycodex_exe(), "eval", "--backend", "canonical", "--problems", "0-59", "--n", "2", "--workers", "1", "--seed", "3", "--db", db, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for(db, "results", 10, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    data = json.loads(out)
    assert data["status"] == "cancelled" and "Traceback" not in err
    run_id = data["run_id"]
    shown = json.loads(run_cli("runs", "show", run_id, "--db", db, "--json").stdout)
    assert shown["status"] == "cancelled" and 10 <= shown["executed"] < 120
    resumed = run_cli("eval", "--resume", run_id, "--db", db, "--json")
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(resumed.stdout)
    assert final["status"] == "finished" and final["totals"]["executed"] == 120 and final["pass_at_k"] == {"1": 1.0}


# The real llama backend, each sample it finishes logged (key, index), so a test can count draws.
LOGGING_LLAMA = textwrap.dedent(
    """
    import os, sys
    from pycodex.generation.llama import backend as llama_backend

    finished = llama_backend.finished_event

    def logged(sample, finish, params):
        with open(os.environ["GEN_LOG"], "a") as log:
            log.write(f"{sample.request.key[0]} {sample.request.key[1]} {sample.index}\\n")
        return finished(sample, finish, params)

    llama_backend.finished_event = logged
    from pycodex.cli.app import main
    main(sys.argv[1:])
    """
)


@pytest.mark.model
def test_kill_9_real_model_eval_then_resume_equals_the_uninterrupted_run(tmp_path):
    """The acceptance crash test with the real default model: the resumed run batches differently
    (finished samples are skipped), yet every completion, log-prob and verdict equals the
    uninterrupted run's, and the resume draws only the missing samples."""
    script = tmp_path / "llama_eval.py"
    script.write_text(LOGGING_LLAMA)
    db = str(tmp_path / "runs.db")
    log = tmp_path / "generations.log"
    env = dict(os.environ, GEN_LOG=str(log))
    total = 4 * 6
    args = ["eval", "--problems", "0-3", "--n", "6", "--temperature", "0.8", "--max-tokens", "40", "--seed", "5", "--workers", "1", "--json"]

    proc = subprocess.Popen([sys.executable, str(script), *args, "--threads", "1", "--db", db], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(db, "samples", 6, proc, limit=240)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    run_id = _single_run_id(db)
    before_samples, _ = _rows(db, run_id)
    drawn_before = log.read_text().splitlines()
    assert 6 <= len(before_samples) < total

    resumed = subprocess.run([sys.executable, str(script), "eval", "--resume", run_id, "--db", db, "--json"], env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert data["status"] == "finished" and data["totals"]["generated_this_session"] == total - len(before_samples)
    # the resume drew exactly the missing samples, each once
    drawn_after = log.read_text().splitlines()[len(drawn_before) :]
    missing = {(t, i) for t in (f"HumanEval/{p}" for p in range(4)) for i in range(6)} - set(before_samples)
    assert sorted(drawn_after) == sorted(f"{t} 0 {i}" for t, i in missing)
    after_samples, after_results = _rows(db, run_id)
    for key, row in before_samples.items():
        assert after_samples[key] == row

    # the same run uninterrupted (another thread count, too): identical samples and verdicts
    ref_db = str(tmp_path / "reference.db")
    ref = subprocess.run([sys.executable, str(script), *args, "--threads", "2", "--db", ref_db], env=dict(env, GEN_LOG=str(tmp_path / "ref.log")), capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr
    ref_data = json.loads(ref.stdout)
    assert _comparable(*_rows(ref_db, ref_data["run_id"])) == _comparable(after_samples, after_results)
    assert ref_data["pass_at_k"] == data["pass_at_k"]
