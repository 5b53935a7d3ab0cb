"""`pycodex solve`: parsing the task, the example checks, ranking, and the CLI end to end."""

from __future__ import annotations

import json
from concurrent.futures import Future

import pytest

from conftest import run_cli
from pycodex.errors import UserError
from pycodex.execution.verdict import Verdict
from pycodex.generation.base import SampleFinished, SamplingParams, TextDelta
from pycodex.solve import SolvedSample, example_problems, parse_task, rank, solve

FIB = "Return the n-th Fibonacci number.\\n>>> fib(10)\\n55\\n>>> fib(1)\\n1"
FIB_BODY = "    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n"


def test_bare_docstring_with_literal_newlines_becomes_a_codex_prompt():
    task = parse_task(FIB)
    assert task.entry_point == "fib"
    assert task.prompt == 'def fib(n):\n    """ Return the n-th Fibonacci number.\n    >>> fib(10)\n    55\n    >>> fib(1)\n    1\n    """\n'
    assert [(e.source, e.want) for e in task.checks] == [("fib(10)", "55"), ("fib(1)", "1")]
    compile(task.prompt + FIB_BODY, "<prompt>", "exec")


def test_an_mbpp_prompt_is_a_task_its_assert_the_example():
    from pycodex.problems.evalplus import mbpp_prompt

    prompt = mbpp_prompt({"prompt": "'''\nWrite a function to find the shared elements from the given two lists.\n'''",
                          "assertion": "\nassert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)\nassert x(1) == 2\n"})
    task = parse_task(prompt)
    assert task.entry_point == "similar_elements" and len(task.examples) == 1
    assert (task.examples[0].source, task.examples[0].want) == ("similar_elements((3, 4, 5, 6),(5, 7, 4, 10))", "(4, 5)")
    problem = example_problems(task)[0]
    assert problem.prompt.startswith("def similar_elements(") and "Write a function to find the shared" in problem.prompt


def test_stub_keeps_signature_and_drops_body_after_docstring():
    stub = 'from typing import List\n\ndef total(xs: List[int]) -> int:\n    """Sum the list.\n    >>> total([1, 2])\n    3\n    """\n    pass\n'
    task = parse_task(stub)
    assert task.entry_point == "total"
    assert task.prompt.startswith("from typing import List\n\ndef total(xs: List[int]) -> int:")
    assert task.prompt.endswith('    """\n') and "pass" not in task.prompt
    assert [(e.source, e.want) for e in task.checks] == [("total([1, 2])", "3")]


def test_name_comes_from_examples_or_the_flag():
    assert parse_task("Return the square of x.", name="square").prompt.startswith("def square(*args):")
    with pytest.raises(UserError, match="cannot tell the function's name.*--name"):
        parse_task("Return the square of x.")
    assert parse_task("Add two numbers.\n>>> add(a=1, b=2)\n3").prompt.startswith("def add(a, b):")
    assert parse_task("Sort the unique items.\n>>> sorted(uniq([3, 1, 3]))\n[1, 3]").entry_point == "uniq"


@pytest.mark.parametrize(
    "text, message",
    [
        ("   ", "nothing to solve"),
        ("def f(:\n    '''x'''\n", "could not parse the stub"),
        ("def f(x):\n    return x\n", "no docstring"),
        ('def f(x):\n    """   """\n', "docstring is empty"),
        (">>> f(1)\n2", "needs a sentence"),
    ],
)
def test_bad_input_is_a_user_error(text, message):
    with pytest.raises(UserError, match=message):
        parse_task(text)


def run_check(task, problem, body: str) -> bool:
    namespace: dict = {}
    exec(task.prompt + body + "\n" + problem.test, namespace)
    try:
        namespace["check"](namespace[task.entry_point])
    except AssertionError:
        return False
    return True


def test_each_example_becomes_a_check_that_tells_right_from_wrong():
    task = parse_task(FIB)
    problems = example_problems(task)
    assert len(problems) == 2
    assert all(run_check(task, p, FIB_BODY) for p in problems)
    assert [run_check(task, p, "    return 55\n") for p in problems] == [True, False]


def test_non_literal_output_is_compared_by_repr_and_setup_lines_are_kept():
    task = parse_task("Wrap a value.\n>>> base = 2\n>>> wrap(base)\nBox(2)", name="wrap")
    (problem,) = example_problems(task)
    assert task.prompt.startswith("def wrap(x):")
    body = "    class Box:\n        def __repr__(self):\n            return f'Box({n})'\n    n = x\n    return Box()\n"
    assert run_check(task, problem, body)


def test_rank_orders_by_examples_then_mean_logprob():
    def sample(index, passed, mean):
        return SolvedSample(SampleFinished(index, "", "stop", 3, mean * 3, mean, 0.1), passed, 2)

    ranked = rank([sample(0, 1, -0.1), sample(1, 2, -0.9), sample(2, 2, -0.2), sample(3, 0, -0.01)])
    assert [s.index for s in ranked] == [2, 1, 0, 3]


class ScriptedBackend:
    """Replays fixed completions with fixed log-probs (the model's part is tested elsewhere)."""

    name = "scripted"

    def __init__(self, completions):
        self.completions = completions

    def generate(self, prompt, params, task_id=None):
        for index, (text, mean) in enumerate(self.completions[: params.n]):
            yield TextDelta(index, text)
            yield SampleFinished(index, text, "stop", 4, mean * 4, mean, 0.01)

    def describe(self):
        return {"kind": self.name}

    def close(self):
        pass


class InProcessExecutor:
    """Trusted completions only: runs check() in this process."""

    def submit(self, problem, completion):
        namespace: dict = {}
        future: Future = Future()
        try:
            exec(problem.prompt + completion + "\n" + problem.test, namespace)
            namespace["check"](namespace[problem.entry_point])
            future.set_result(Verdict("passed"))
        except Exception as exc:
            future.set_result(Verdict("failed", f"{type(exc).__name__}: {exc}"))
        return future

    def close(self):
        pass


def test_solve_judges_every_sample_and_ranks_the_correct_one_first():
    backend = ScriptedBackend([("    return n\n", -0.1), (FIB_BODY, -0.5), ("    return 55\n", -0.05)])
    events = []
    result = solve(parse_task(FIB), backend, SamplingParams(n=3), executor=InProcessExecutor(), on_event=events.append)
    assert [s.index for s in result.samples] == [1, 2, 0]
    assert result.best.examples_passed == 2 and result.best.examples_total == 2
    assert result.samples[1].examples_passed == 1 and result.samples[1].failures
    assert sum(isinstance(e, SampleFinished) for e in events) == 3
    data = result.to_dict()
    assert data["best"]["code"] == result.task.prompt + FIB_BODY
    json.dumps(data)


# --- the CLI -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["solve", ""], "nothing to solve"),
        (["solve", FIB, "--n", "0"], "--n must be at least 1"),
        (["solve", FIB, "--temperature", "-1"], "--temperature must be >= 0"),
        (["solve", "Return the square."], "cannot tell the function's name"),
        (["solve", FIB, "--model", "/nonexistent/model.gguf"], "model file not found"),
        (["solve"], "nothing to solve"),
    ],
)
def test_solve_cli_errors_are_one_line_exit_2(args, message):
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_solve_cli_rejects_a_corrupt_gguf_in_one_line(tmp_path):
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 4096)
    result = run_cli("solve", FIB, "--model", str(corrupt))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "llama.cpp could not load" in result.stderr and "--model" in result.stderr


@pytest.mark.model
def test_solve_cli_samples_checks_and_ranks_with_the_real_model():
    result = run_cli("solve", "Return the sum of a and b.\\n>>> add(2, 3)\\n5", "--n", "4", "--max-tokens", "32", "--seed", "3", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    samples = data["samples"]
    assert sorted(s["index"] for s in samples) == [0, 1, 2, 3]
    keys = [(-s["examples_passed"], -s["mean_logprob"]) for s in samples]
    assert keys == sorted(keys)
    assert all(s["examples_total"] == 1 for s in samples)
    assert data["best"]["code"].startswith("def add(a, b):")
    for s in samples:
        assert s["tokens"] == 0 or abs(s["mean_logprob"] - s["sum_logprob"] / s["tokens"]) < 1e-9


@pytest.mark.model
def test_solve_cli_greedy_from_a_file_and_stdin_is_deterministic(tmp_path):
    stub = tmp_path / "stub.py"
    stub.write_text('def double(x):\n    """Return x times two.\n    >>> double(4)\n    8\n    """\n')
    from_file = run_cli("solve", "--file", str(stub), "--greedy", "--max-tokens", "24", "--json")
    from_stdin = run_cli("solve", "-", "--greedy", "--max-tokens", "24", "--json", input=stub.read_text())
    assert from_file.returncode == 0 and from_stdin.returncode == 0, from_file.stderr + from_stdin.stderr
    assert from_file.stderr == ""  # llama.cpp's log stays quiet without --verbose
    a, b = json.loads(from_file.stdout), json.loads(from_stdin.stdout)
    assert len(a["samples"]) == 1 and a["params"]["temperature"] == 0
    assert a["best"]["completion"] == b["best"]["completion"]
    table = run_cli("solve", "--file", str(stub), "--greedy", "--max-tokens", "24")
    assert table.returncode == 0
    assert "best of 1" in table.stdout and "def double(x):" in table.stdout


def test_solve_stops_when_asked_and_keeps_the_samples_judged():
    """The REPL's Ctrl-C: once `stop` is set, no more events are read and what was judged is ranked."""
    import threading

    stop = threading.Event()
    backend = ScriptedBackend([(FIB_BODY, -0.5), ("    return n\n", -0.1), ("    return 55\n", -0.05)])
    seen = []

    def on_event(event):
        seen.append(event)
        if isinstance(event, SampleFinished) and event.index == 1:
            stop.set()

    result = solve(parse_task(FIB), backend, SamplingParams(n=3), executor=InProcessExecutor(), on_event=on_event, stop=stop)
    assert result.stopped and sorted(s.index for s in result.samples) == [0, 1]
    assert not any(getattr(e, "index", None) == 2 for e in seen)
    assert result.best.index == 0 and result.best.examples_passed == result.best.examples_total > 0
