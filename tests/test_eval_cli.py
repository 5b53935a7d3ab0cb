"""`pycodex eval`, `sweep`, `runs ...` as a user types them (the installed command, a subprocess)."""

from __future__ import annotations

import json
import sqlite3

import pytest


def _json(result):
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def _one_line_error(result, needle: str):
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and needle in lines[0], lines[0]
    assert "Traceback" not in result.stderr


def test_canonical_backend_all_164_pass_at_1(cli, tmp_path):
    db = str(tmp_path / "runs.db")
    data = _json(cli("eval", "--backend", "canonical", "--db", db, "--seed", "5", "--json"))
    assert data["status"] == "finished"
    assert data["pass_at_k"] == {"1": 1.0}
    totals = data["totals"]
    assert totals["problems"] == 164 and totals["generated"] == 164 and totals["executed"] == 164 and totals["passed"] == 164
    assert "generated_tokens" in totals and "generation_seconds" in totals
    runs = _json(cli("runs", "list", "--db", db, "--json"))
    assert [r["id"] for r in runs] == [data["run_id"]] and runs[0]["status"] == "finished" and runs[0]["pass_rate"] == 1.0
    shown = _json(cli("runs", "show", data["run_id"][:4], "--db", db, "--json"))
    assert shown["config"]["backend"] == "canonical" and shown["stats"]["passed"] == 164 and shown["pass_at_k"] == {"1": 1.0}
    assert shown["versions"]["pycodex"]


def test_human_output_and_preset(cli, tmp_path):
    db = str(tmp_path / "runs.db")
    result = cli("eval", "--backend", "canonical", "--problems", "HumanEval/3,7", "--preset", "pass@10", "--db", db, "--name", "demo")
    assert result.returncode == 0, result.stderr
    assert "pass@10 100.00%" in result.stdout and "finished" in result.stdout
    shown = _json(cli("runs", "show", "demo", "--db", db, "--json"))
    assert shown["n"] == 20 and shown["config"]["ks"] == [10] and shown["config"]["params"]["temperature"] == 0.6 and shown["task_ids"] == ["HumanEval/3", "HumanEval/7"]
    listing = cli("runs", "list", "--db", db)
    assert listing.returncode == 0 and "demo" in listing.stdout and "finished" in listing.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--problems", "5-2"), "bad problem range"),
        (("--problems", "HumanEval/999"), "unknown task id"),
        (("--n", "2", "--k", "1,10"), "needs at least 10 samples"),
        (("--preset", "pass@7"), "unknown --preset"),
        (("--top-p", "0"), "--top-p"),
        (("--backend", "samples"), "--samples-file"),
        (("--backend", "gpt5"), "unknown backend"),
        (("--resume", "feedbeef"), "unknown run"),
    ],
)
def test_bad_eval_input_is_one_line_exit_2(cli, tmp_path, args, needle):
    db = tmp_path / "runs.db"
    result = cli("eval", "--backend", "canonical", "--db", str(db), *args) if "--backend" not in args else cli("eval", "--db", str(db), *args)
    _one_line_error(result, needle)


@pytest.mark.parametrize(
    "args, needle",
    [
        (("eval", "--n", "abc"), "Invalid value for '--n'"),
        (("eval", "--ctx", "3"), "'--ctx'"),
        (("runs", "show"), "Missing argument"),
        (("problems", "list", "--bad"), "No such option: --bad"),
        (("nosuch",), "No such command"),
    ],
)
def test_usage_errors_are_one_line_exit_2(cli, args, needle):
    """Flags the parser itself refuses (not a number, out of range, unknown) read like our own errors."""
    result = cli(*args)
    _one_line_error(result, needle)
    assert "--help" in result.stderr


def test_unknown_run_in_every_command(cli, tmp_path):
    db = str(tmp_path / "runs.db")
    _json(cli("eval", "--backend", "canonical", "--problems", "0", "--db", db, "--json"))
    for args in (("report", "nope"), ("runs", "show", "nope"), ("runs", "export", "nope"), ("runs", "delete", "nope", "--yes"), ("report", "last", "--compare", "nope")):
        _one_line_error(cli(*args, "--db", db), "unknown run")
    assert len(_json(cli("runs", "list", "--db", db, "--json"))) == 1


def test_unwritable_corrupt_and_locked_db(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _one_line_error(cli("eval", "--backend", "canonical", "--problems", "0", "--db", str(blocker / "runs.db")), "cannot create")

    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"garbage" * 1000)
    _one_line_error(cli("runs", "list", "--db", str(corrupt)), "corrupt")
    assert corrupt.read_bytes() == b"garbage" * 1000

    db = tmp_path / "runs.db"
    first = _json(cli("eval", "--backend", "canonical", "--problems", "0-1", "--db", str(db), "--json"))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = cli("eval", "--backend", "canonical", "--problems", "0", "--db", str(db), env={"PYCODEX_DB_TIMEOUT": "0.5"})
        _one_line_error(result, "locked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    runs = _json(cli("runs", "list", "--db", str(db), "--json"))
    assert [r["id"] for r in runs] == [first["run_id"]] and runs[0]["passed"] == 2  # nothing lost


def test_export_import_evaluate_delete(cli, tmp_path):
    db = str(tmp_path / "runs.db")
    run = _json(cli("eval", "--backend", "canonical", "--problems", "0-4", "--n", "2", "--db", db, "--json"))
    out = tmp_path / "out" / "samples.jsonl"
    exported = _json(cli("runs", "export", run["run_id"], "-o", str(out), "--db", db, "--json"))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 10 and {"task_id", "completion"} <= set(rows[0])
    results = [json.loads(line) for line in open(exported["results"])]
    assert exported["results"] == str(out) + "_results.jsonl"
    assert len(results) == 10 and all(r["passed"] is True and r["result"] == "passed" for r in results)
    assert run["judge"] == "strict" and {r["judge"] for r in results} == {"strict"}  # each verdict names its judge

    # one wrong answer, then import it (judged on import)
    rows[0]["completion"] = "    return None\n"
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(json.dumps(r) + "\n" for r in rows))
    imported = _json(cli("runs", "import", str(mixed), "--db", db, "--name", "mixed", "--json"))
    assert imported["status"] == "finished" and imported["totals"]["executed"] == 10 and imported["totals"]["passed"] == 9
    assert imported["pass_at_k"]["1"] == pytest.approx(0.9)
    classic_db = str(tmp_path / "classic.db")
    classic = _json(cli("runs", "import", str(mixed), "--db", classic_db, "--judge", "classic", "--json"))
    assert classic["judge"] == "classic" and classic["totals"]["passed"] == 9
    classic_out = tmp_path / "classic.jsonl"
    exported = _json(cli("runs", "export", classic["run_id"], "-o", str(classic_out), "--db", classic_db, "--json"))
    assert {json.loads(line)["judge"] for line in open(exported["results"])} == {"classic"}

    # --no-eval stores only; `runs evaluate` judges later
    stored = _json(cli("runs", "import", str(mixed), "--db", db, "--no-eval", "--json"))
    assert stored["status"] == "imported" and stored["samples"] == 10
    judged = _json(cli("runs", "evaluate", stored["run_id"], "--db", db, "--json"))
    assert judged["totals"]["executed"] == 10 and judged["totals"]["passed"] == 9
    # ... or `eval --resume` does (an imported run has nothing to generate)
    stored2 = _json(cli("runs", "import", str(mixed), "--db", db, "--no-eval", "--json"))
    resumed = _json(cli("eval", "--resume", stored2["run_id"], "--db", db, "--json"))
    assert resumed["status"] == "finished" and resumed["totals"]["executed"] == 10 and resumed["totals"]["generated_this_session"] == 0

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "HumanEval/0"}\n')
    result = cli("runs", "import", str(bad), "--db", db)
    assert result.returncode == 2 and "Traceback" not in result.stderr

    # delete needs --yes when not interactive; nothing is lost without it
    _one_line_error(cli("runs", "delete", "mixed", "--db", db), "--yes")
    assert len(_json(cli("runs", "list", "--db", db, "--json"))) == 4
    assert cli("runs", "delete", "mixed", "--db", db, "--yes").returncode == 0
    ids = [r["id"] for r in _json(cli("runs", "list", "--db", db, "--json"))]
    assert imported["run_id"] not in ids and len(ids) == 3


def test_report_json_and_compare(cli, tmp_path):
    db = str(tmp_path / "runs.db")
    a = _json(cli("eval", "--backend", "canonical", "--problems", "0-5", "--n", "3", "--db", db, "--json"))
    rows = [{"task_id": f"HumanEval/{i}", "completion": "    return None\n"} for i in range(6)]
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text("".join(json.dumps(r) + "\n" for r in rows * 3))
    b = _json(cli("runs", "import", str(wrong), "--db", db, "--json"))
    report = _json(cli("report", a["run_id"], "--db", db, "--json", "--bootstrap", "200"))
    assert [r["k"] for r in report["pass_at_k"]] == [1, 2, 3]
    assert all(r["value"] == 1.0 and r["ci_low"] == 1.0 for r in report["pass_at_k"])
    assert report["ranking"]["oracle"] == [1.0, 1.0, 1.0]
    assert report["bleu"]["correct"]["count"] == 18 and report["bleu"]["correct"]["mean"] == pytest.approx(100.0)
    assert len(report["per_problem"]) == 6 and report["per_problem"][0] == {"task_id": "HumanEval/0", "passed": 3, "n": 3, "rate": 1.0}
    both = _json(cli("report", a["run_id"], "--compare", b["run_id"], "--db", db, "--json", "--no-bleu"))
    assert both["comparison"]["pass_at_k"][0] == {"k": 1, "a": 1.0, "b": 0.0, "diff": -1.0, "ci_low": -1.0, "ci_high": -1.0}
    assert len(both["comparison"]["matrix"]["only_a"]) == 6
    human = cli("report", a["run_id"], "--compare", b["run_id"], "--db", db)
    assert human.returncode == 0 and "pass@1" in human.stdout
    text = cli("report", a["run_id"], "--db", db)
    assert text.returncode == 0 and "Figure 7" in text.stdout and "Figure 8" in text.stdout and "pass@3" not in text.stderr


def test_sweep_runs_one_per_temperature_and_reuses(cli, tmp_path):
    db = str(tmp_path / "runs.db")
    args = ("sweep", "--backend", "canonical", "--temperatures", "0.2,0.8", "--problems", "0-2", "--n", "2", "--k", "1,2", "--db", db, "--json")
    first = _json(cli(*args))
    assert [r["temperature"] for r in first["runs"]] == [0.2, 0.8]
    assert [r["action"] for r in first["runs"]] == ["created", "created"]
    assert all(r["pass_at_k"] == {"1": 1.0, "2": 1.0} for r in first["runs"])
    assert set(first["best_temperature"]) == {"1", "2"}
    again = _json(cli(*args))
    assert [r["action"] for r in again["runs"]] == ["reused", "reused"]
    assert [r["run_id"] for r in again["runs"]] == [r["run_id"] for r in first["runs"]]
    text = cli(*args[:-1])
    assert text.returncode == 0 and "Figure 5" in text.stdout and "best temperature" in text.stdout
    assert len(_json(cli("runs", "list", "--db", db, "--json"))) == 2


@pytest.mark.model
def test_eval_with_the_default_model(cli, tmp_path):
    db = str(tmp_path / "runs.db")
    data = _json(cli("eval", "--problems", "0-1", "--n", "2", "--max-tokens", "16", "--seed", "1", "--db", db, "--json", timeout=900))
    assert data["status"] == "finished"
    totals = data["totals"]
    assert totals["generated"] == 4 and totals["executed"] == 4
    assert totals["generated_tokens"] > 0 and totals["generation_seconds"] > 0
    shown = _json(cli("runs", "show", data["run_id"], "--db", db, "--json", "--samples"))
    assert shown["model_sha256"] and all(s["tokens"] <= 16 for s in shown["samples"])
    assert all(s["mean_logprob"] <= 0 for s in shown["samples"]) and any(s["sum_logprob"] < 0 for s in shown["samples"])
    assert "pass_at_k" in _json(cli("report", data["run_id"], "--db", db, "--json"))
