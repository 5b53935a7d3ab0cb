import gzip
import json

import pytest

from pycodex.errors import UserError
from pycodex.problems.problem import load_humaneval, load_problems


def test_bundled_humaneval_is_complete():
    problems = load_humaneval()
    assert len(problems) == 164
    assert len(set(problems.task_ids)) == 164
    first = problems.get("0")
    assert first.task_id == "HumanEval/0"
    assert first.entry_point == "has_close_elements"
    assert first.assert_count == 7
    assert first.first_docstring_line.startswith("Check if in given list of numbers")


def test_resolve_ids_and_ranges():
    problems = load_humaneval()
    assert problems.resolve_id("HumanEval/12") == "HumanEval/12"
    assert problems.resolve_id("12") == "HumanEval/12"
    assert problems.resolve_id("humaneval/12") == "HumanEval/12"
    assert [p.task_id for p in problems.select("3-5")] == ["HumanEval/3", "HumanEval/4", "HumanEval/5"]
    assert [p.task_id for p in problems.select("HumanEval/7,3")] == ["HumanEval/3", "HumanEval/7"]
    assert len(problems.select("all")) == 164
    with pytest.raises(UserError, match="HumanEval/0 .. HumanEval/163"):
        problems.resolve_id("164")
    with pytest.raises(UserError, match="5 > 3"):
        problems.select("5-3")


def _write(path, rows):
    path.write_text("\n".join(rows) + "\n")
    return path


def test_loader_names_the_bad_line(tmp_path):
    good = json.dumps({"task_id": "T/0", "prompt": "def f():\n", "entry_point": "f", "canonical_solution": "    return 1\n", "test": "def check(c):\n    assert c() == 1\n"})
    with pytest.raises(UserError, match="line 2 is not valid JSON"):
        load_problems(_write(tmp_path / "bad.jsonl", [good, "{oops"]))
    with pytest.raises(UserError, match="line 1 lacks field"):
        load_problems(_write(tmp_path / "missing.jsonl", ['{"task_id": "T/1"}']))
    with pytest.raises(UserError, match="repeats task id T/0"):
        load_problems(_write(tmp_path / "dup.jsonl", [good, good]))
    with pytest.raises(UserError, match="not found"):
        load_problems(tmp_path / "nope.jsonl")
    (tmp_path / "corrupt.jsonl.gz").write_bytes(b"not gzip at all")
    with pytest.raises(UserError, match="corrupt"):
        load_problems(tmp_path / "corrupt.jsonl.gz")
    subset = load_problems(_write(tmp_path / "one.jsonl", [good]))
    assert subset.task_ids == ["T/0"] and subset.get("0").entry_point == "f"


def test_gzipped_subset_loads(tmp_path):
    rows = [json.dumps(p.to_dict()) for p in load_humaneval().select("0-2")]
    path = tmp_path / "sub.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(rows) + "\n")
    assert load_problems(path).task_ids == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]


def test_cli_problems_list_and_show(cli):
    listed = cli("problems", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 164 and rows[55]["entry_point"] == "fib"
    shown = cli("problems", "show", "55", "--json")
    assert shown.returncode == 0
    assert json.loads(shown.stdout)["task_id"] == "HumanEval/55"
    table = cli("problems", "show", "HumanEval/55")
    assert "def fib(n: int)" in table.stdout and "canonical solution" in table.stdout


def test_cli_unknown_id_is_one_line(cli):
    result = cli("problems", "show", "999")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "HumanEval/0 .. HumanEval/163" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_bad_problems_file(cli, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "x"}\nnot json\n')
    result = cli("problems", "list", "--problems-file", str(bad))
    assert result.returncode == 2 and "line 1 lacks field" in result.stderr and "Traceback" not in result.stderr


def test_cli_version(cli):
    result = cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("pycodex ")


def test_cli_usage_errors_exit_2_without_traceback(cli):
    for args in (("problems", "show", "--bogus"), ("problems", "list", "--json", "extra"), ("no-such-command",)):
        result = cli(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr
