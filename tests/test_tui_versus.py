"""Pilot tests of the TUI's versus: two replays, and the real model against a replay. Both columns
fill, verdicts and the matrix are right, and the paired difference with its interval is the one
`report --compare --json` prints for the same two runs."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("textual")

from conftest import run_cli  # noqa: E402
from tui_helpers import async_test, make_app, screen_text, wait_for  # noqa: E402

SIZE = (100, 30)


def write_versus_samples(directory, n: int = 2):
    """HumanEval/0-2 for side B: 0 wrong, 1 right, 2 one right and one wrong (n = 2)."""
    from pycodex.problems.sets import load

    humaneval = load(None, None)
    right = {t: humaneval.get(t).canonical_solution for t in ("HumanEval/1", "HumanEval/2")}
    rows = [("HumanEval/0", "    return None\n")] * n + [("HumanEval/1", right["HumanEval/1"])] * n
    rows += [("HumanEval/2", right["HumanEval/2"]), ("HumanEval/2", "    return -1\n")]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "b.jsonl"
    path.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in rows))
    return path


async def start_versus(pilot, a: str, a_t: str, b: str, b_t: str, problems: str = "0-2", n: str = "2", max_tokens: str = "256") -> None:
    from textual.widgets import Input

    await pilot.press("V")
    await wait_for(pilot, lambda: pilot.app.screen.query("#a-model"), what="the versus form")
    form = pilot.app.screen
    for field, value in (("a-model", a), ("a-temperature", a_t), ("b-model", b), ("b-temperature", b_t), ("problems", problems),
                         ("n", n), ("max_tokens", max_tokens)):
        form.query_one(f"#{field}", Input).value = value
    await pilot.press("enter")


def versus_screen(app):
    from pycodex.tui.screens.versus import VersusScreen

    return next(s for s in app.screen_stack if isinstance(s, VersusScreen))


def assert_matches_report(tmp_path, screen) -> None:
    """The dashboard's numbers are report --compare --json's for the same two runs."""
    a, b = (side.run_id for side in screen.state.sides)
    shown = screen.state.comparison()  # every k, as the report
    report = run_cli("report", a, "--compare", b, "--db", str(tmp_path / "runs.sqlite3"), "--json", "--no-bleu")
    assert report.returncode == 0, report.stderr
    comparison = json.loads(report.stdout)["comparison"]
    assert shown["pass_at_k"] == comparison["pass_at_k"] and shown["matrix"] == comparison["matrix"]
    assert screen.comparison["pass_at_k"][0] == comparison["pass_at_k"][0]  # what the screen drew


@async_test
async def test_versus_of_two_replays(tmp_path):
    samples = write_versus_samples(tmp_path / "in")
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await start_versus(pilot, "canonical", "", f"samples:{samples}", "")
        screen = versus_screen(app)
        await wait_for(pilot, lambda: screen.status == "finished", what="the versus")
        await pilot.pause(0.2)
        assert screen.comparison["matrix"] == {"both": ["HumanEval/1", "HumanEval/2"], "only_a": ["HumanEval/0"], "only_b": [], "neither": []}
        one = screen.comparison["pass_at_k"][0]
        assert (one["a"], one["b"], one["diff"]) == (1.0, pytest.approx(0.5), pytest.approx(-0.5))
        text = screen_text(app)
        assert "-50.0 pt" in text and "only A 1" in text and "both 2" in text
        assert_matches_report(tmp_path, screen)

        await pilot.press("tab")  # B's grid
        assert app.focused is screen.query_one("#grid-b")
        await pilot.press("right", "right")  # the grids move together
        await pilot.pause()
        assert [grid.cursor for grid in screen.query("PassGrid")] == [2, 2, 2] and "HumanEval/2" in screen_text(app)
        await pilot.press("enter")  # HumanEval/2
        await wait_for(pilot, lambda: type(app.screen).__name__ == "VersusProblemScreen", what="the problem screen")
        problem = app.screen
        await pilot.pause(0.3)
        statuses = {key: card.sample.status for key, card in problem.cards.items()}
        assert statuses == {(0, 0): "passed", (0, 1): "passed", (1, 0): "passed", (1, 1): "failed"}
        text = screen_text(app)
        assert "A canonical replay" in text and "B samples b.jsonl" in text and "1/2 passed" in text
        assert "+     return -1" in text and "like canonical" in text  # B's wrong sample, diffed
        await pilot.press("d")
        await pilot.pause()
        assert "+     return -1" not in screen_text(app)

        await pilot.press("escape", "n", "enter")  # the same versus again: both runs stored, nothing redone
        await wait_for(pilot, lambda: screen.status == "finished" and screen.finished and screen.finished[0].totals.get("session") == 2,
                       what="the second versus")
        assert [f.totals["generated_this_session"] for f in screen.finished] == [0, 0]
        assert [f.run_id for f in screen.finished] == [side.run_id for side in screen.state.sides]
        assert screen.state.sample(1, "HumanEval/2", 1).status == "failed"  # the stored samples, loaded
        assert_matches_report(tmp_path, screen)


@async_test
async def test_versus_real_model_against_a_replay(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await start_versus(pilot, "default", "0.8", "canonical", "", problems="0-1", n="2", max_tokens="24")
        screen = versus_screen(app)
        await wait_for(pilot, lambda: screen.status in ("finished", "failed"), timeout=240, what="the versus")
        assert screen.status == "finished", screen_text(app)
        a, b = screen.state.sides
        assert a.totals["judged"] == b.totals["judged"] == 4 and b.totals["passed"] == 4
        assert a.config["backend"] == "llama" and a.config["params"]["temperature"] == 0.8 and a.config["params"]["seed"] == 0
        cells = screen.comparison["matrix"]
        assert not cells["only_a"] and not cells["neither"] and len(cells["both"]) + len(cells["only_b"]) == 2
        assert_matches_report(tmp_path, screen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "VersusProblemScreen", what="the problem screen")
        await pilot.pause(0.3)
        cards = app.screen.cards
        assert all(card.sample.judged and card.sample.text for card in cards.values())
        assert cards[(0, 0)].sample.tokens > 0 and cards[(1, 0)].sample.passed


@pytest.mark.parametrize("size", [(100, 30), (80, 24)], ids=["100x30", "80x24"])
@pytest.mark.parametrize("screen", ["dashboard", "problem"])
def test_versus_snapshots(snap_compare, tmp_path, size, screen):
    pytest.importorskip("pytest_textual_snapshot")
    samples = write_versus_samples(tmp_path / "in")

    async def run_before(pilot):
        await start_versus(pilot, "canonical", "", f"samples:{samples}", "")
        await wait_for(pilot, lambda: versus_screen(pilot.app).status == "finished", what="the versus")
        if screen == "problem":
            await pilot.press("right", "right", "enter")
        await pilot.pause(0.3)

    assert snap_compare(make_app(tmp_path), run_before=run_before, terminal_size=size)
