"""`pycodex problems verify`: every canonical solution passes in the sandbox."""

from __future__ import annotations

import json

from pycodex.problems.problem import load_humaneval


def test_all_164_canonical_solutions_pass(cli):
    proc = cli("problems", "verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "164/164 canonical solutions pass" in proc.stdout


def test_verify_json_and_failures_exit_1(tmp_path, cli):
    problems = load_humaneval()
    rows = [problems.get("0").to_dict(), problems.get("1").to_dict()]
    rows[1]["canonical_solution"] = "    return []\n"
    path = tmp_path / "two.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = cli("problems", "verify", "--problems-file", str(path), "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["problems"] == 2 and report["passed"] == 1
    assert report["failures"][0]["task_id"] == "HumanEval/1" and report["failures"][0]["status"] == "failed"
    table = cli("problems", "verify", "--problems-file", str(path))
    assert table.returncode == 1 and "HumanEval/1" in table.stdout and "1/2" in table.stdout


def test_verify_bad_flag(cli):
    proc = cli("problems", "verify", "--workers", "0")
    assert proc.returncode == 2 and proc.stderr.startswith("error: bad --workers")
