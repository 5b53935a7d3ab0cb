"""The REPL's headless parts: input blocks, settings, and the commands against a Session on the
replay backends (canonical solutions, a file of real Gemma samples) with the real sandbox.
The terminal itself, with the real model, is tests/test_repl_terminal.py."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from pycodex.errors import UserError
from pycodex.problems.sets import load
from pycodex.repl.commands import Repl
from pycodex.repl.script import blocks
from pycodex.repl.session import Options, Session
from pycodex.repl.settings import Settings

GEMMA_SAMPLES = Path(__file__).parent / "data" / "gemma_samples.jsonl"


def test_blocks_split_commands_and_docstrings_as_enter_does():
    script = [
        "/open 3",
        "Return the sum of a and b.",
        ">>> add(1, 2)",
        "3",
        "",
        "def f(x):",
        '    """Double x.',
        "",  # an empty line inside the docstring does not end the block
        "    >>> f(2)",
        "    4",
        '    """',
        "",
        "/gen 2",
        "Return x.",
        ">>> g(1)",  # the end of the input ends the last block
        "1",
    ]
    assert list(blocks(line + "\n" for line in script)) == [
        "/open 3",
        "Return the sum of a and b.\n>>> add(1, 2)\n3",
        'def f(x):\n    """Double x.\n\n    >>> f(2)\n    4\n    """',
        "/gen 2",
        "Return x.\n>>> g(1)\n1",
    ]


def test_settings_take_names_aliases_and_refuse_bad_values_in_one_line():
    settings = Settings().with_value("t", "0.2").with_value("max-tokens", "64").with_value("seed", "7")
    assert (settings.temperature, settings.max_tokens, settings.seed) == (0.2, 64, 7)
    assert settings.with_value("seed", "none").seed is None
    assert settings.params().max_tokens == 64
    for name, value, message in [
        ("n", "0", "n must be at least 1 (got 0)"),
        ("top_p", "1.5", "top_p must be in (0, 1] (got 1.5)"),
        ("t", "hot", "temperature must be a number (got 'hot')"),
        ("beam", "2", "unknown setting 'beam'"),
    ]:
        with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
            settings.with_value(name, value)


@pytest.fixture
def repl():
    made: list[Session] = []

    def make(model: str) -> tuple[Repl, io.StringIO]:
        session = Session(load(), Options(model=model), Settings(n=3))
        made.append(session)
        out = io.StringIO()
        return Repl(session, Console(file=out, width=120, no_color=True, highlight=False), live=False), out

    yield make
    for session in made:
        session.close()


def test_canonical_samples_pass_and_diff_empty(repl):
    shell, out = repl("canonical")
    shell.execute("/open 2")
    assert "def truncate_number(number: float) -> float:" in out.getvalue()
    shell.execute("/gen")
    assert "3/3 passed · pass@1 1.000  pass@2 1.000  pass@3 1.000" in out.getvalue()
    shell.execute("/diff 1")
    assert "sample 1 is the canonical solution, line for line" in out.getvalue()
    shell.execute("/tests")
    assert "def check(candidate):" in out.getvalue()


def test_failing_samples_show_their_assert_diff_and_save_as_human_eval(repl, tmp_path):
    shell, out = repl(f"samples:{GEMMA_SAMPLES}")
    shell.execute("/open has_close_elements")  # by entry point
    shell.execute("/gen")
    assert "0/3 passed · pass@1 0.000" in out.getvalue()
    shell.execute("/fail")
    assert "sample 0: failed: AssertionError" in out.getvalue()
    shell.execute("/diff 0 side")
    assert "canonical" in out.getvalue() and "for idx, elem in enumerate(numbers):" in out.getvalue()
    shell.execute("/diff 0")
    assert "--- canonical" in out.getvalue() and "+++ sample 0" in out.getvalue()
    saved = tmp_path / "samples.jsonl"
    shell.execute(f"/save {saved}")
    rows = [json.loads(line) for line in saved.read_text().splitlines()]
    assert [(r["task_id"], r["passed"]) for r in rows] == [("HumanEval/0", False)] * 3
    assert rows[0]["result"].startswith("failed: AssertionError")
    from pycodex.evaluate import read_samples

    assert len(read_samples(saved)) == 3  # human-eval's format, as `pycodex evaluate` reads it


def test_bad_input_is_one_line_and_nothing_is_lost(repl):
    shell, out = repl("canonical")
    shell.execute("/open 2")
    shell.execute("/gen")
    kept = shell.session.last
    for text, message in [
        ("/bogus", "unknown command /bogus: /help lists the commands"),
        ("/open 999", "unknown task id '999': valid ids are HumanEval/0 .. HumanEval/163"),
        ("Return the answer.\n>>> 1 + 1\n2", "cannot tell the function's name"),
        ("/show 7", "no sample 7 of HumanEval/2: the samples are 0..2"),
        ("/set n 0", "n must be at least 1"),
        ("/eval 5-2", "bad problem range '5-2'"),
    ]:
        with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
            shell.execute(text)
        assert "\n" not in str(caught.value)
    assert shell.session.last is kept and shell.session.settings.n == 3
    shell.execute("/show 2")
    assert "HumanEval/2 · sample 2 · passed" in out.getvalue()


def test_eval_reports_progress_and_pass_at_k(repl):
    shell, out = repl("canonical")
    shell.execute("/set n 2")
    shell.execute("/eval 3-4")
    text = out.getvalue()
    assert "[1/2] HumanEval/3: 2/2 passed" in text and "[2/2] HumanEval/4: 2/2 passed" in text
    assert "2 problem(s) in" in text and "pass@1 1.000  pass@2 1.000" in text
    assert len(shell.session.generations) == 2


def test_help_lists_every_command(repl):
    shell, out = repl("canonical")
    shell.execute("/help")
    for name in ("open", "prompt", "canonical", "tests", "gen", "show", "fail", "diff", "set", "model", "eval", "save", "tui", "help", "quit"):
        assert f"/{name}" in out.getvalue()
    assert shell.execute("/quit") is False


def test_model_switches_and_a_bad_one_keeps_the_old(repl, tmp_path):
    shell, out = repl("canonical")
    shell.execute("/open 2")
    shell.execute("/gen 1")
    first = shell.session.backend()
    with pytest.raises(UserError, match="no model file"):
        shell.execute(f"/model {tmp_path / 'missing.gguf'}")
    assert shell.session.backend() is first and shell.session.spec.label == "canonical replay"
    shell.execute(f"/model samples:{GEMMA_SAMPLES}")
    assert "model: samples gemma_samples.jsonl" in out.getvalue()
    shell.execute("/open 0")
    shell.execute("/gen 1")
    assert "0/1 passed" in out.getvalue()  # the new backend's (failing) sample


def test_completion_offers_commands_problem_ids_entry_points_and_settings(repl):
    from prompt_toolkit.document import Document

    from pycodex.repl.prompt import ReplCompleter, _toolbar

    shell, _ = repl("canonical")
    completer = ReplCompleter(shell)

    def complete(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), None)]

    assert complete("/ge") == ["/gen"]
    assert "HumanEval/55" in complete("/open HumanEval/5") and complete("/open has_cl") == ["has_close_elements"]
    assert complete("/set max") == ["max_tokens"]
    assert complete("Return x") == []
    shell.execute("/open 55")
    assert _toolbar(shell) == " canonical replay (not loaded) │ n=3 T=0.8 top_p=0.95 max_tokens=192 seed=random │ HumanEval/55 │ /help"
    shell.execute("/gen 1")
    assert _toolbar(shell).startswith(" canonical replay │ n=1 ")
