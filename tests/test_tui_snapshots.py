"""Snapshot tests (pytest-textual-snapshot) of the main screens, with deterministic data.

Regenerate the baselines after an intended UI change:
    pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest

pytest.importorskip("pytest_textual_snapshot")

from tui_helpers import make_app, run_done, wait_for, write_samples_file  # noqa: E402

SIZE = (100, 30)


def test_browser(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=SIZE)


def test_browser_filtered(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), press=["slash", *"fib", "down", "j"], terminal_size=SIZE)


def test_problem_view(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), press=["slash", *"fib", "enter"], terminal_size=SIZE)


def test_problem_view_tests_tab(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), press=["slash", *"fib", "enter", "3"], terminal_size=SIZE)


def test_generate_form(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), press=["slash", *"fib", "down", "g", "f1"], terminal_size=SIZE)


async def _samples_with_verdicts(pilot):
    await pilot.press("slash", *"fib", "down", "g", "enter")
    await wait_for(pilot, lambda: run_done(pilot.app.screen), what="the run")
    samples = pilot.app.screen.samples
    assert [(samples[i].status, samples[i].detail) for i in range(4)] == [
        ("passed", ""),
        ("failed", "AssertionError (line 20: assert candidate(10) == 55)"),
        ("syntax error", "SyntaxError: invalid syntax (line 12)"),
        ("failed", "ValueError: nope (line 20: assert candidate(10) == 55)"),
    ]
    await pilot.press("j")  # focus the first card
    await pilot.pause()


def test_samples_with_verdicts(snap_compare, tmp_path):
    samples = write_samples_file(tmp_path / "in")
    app = make_app(tmp_path, model=f"samples:{samples}")
    assert snap_compare(app, run_before=_samples_with_verdicts, terminal_size=(100, 50))


async def _diff(pilot, side_by_side=False):
    await _samples_with_verdicts(pilot)
    await pilot.press("j", "d")
    if side_by_side:
        await pilot.press("s")


def test_diff_unified(snap_compare, tmp_path):
    samples = write_samples_file(tmp_path / "in")
    app = make_app(tmp_path, model=f"samples:{samples}")
    assert snap_compare(app, run_before=_diff, terminal_size=SIZE)


def test_diff_side_by_side(snap_compare, tmp_path):
    samples = write_samples_file(tmp_path / "in")
    app = make_app(tmp_path, model=f"samples:{samples}")

    async def run_before(pilot):
        await _diff(pilot, side_by_side=True)

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def _dashboard_state():
    from pycodex.problems.problem import load_humaneval
    from pycodex.runs.state import RunState

    state = RunState(run_id="3f2a9c1e", status="running", model="gemma-3-270m-it-Q4_K_M.gguf")
    task_ids = load_humaneval().task_ids
    state.reset(task_ids, 10)
    state.config = {"params": {"n": 10, "temperature": 0.2, "top_p": 0.95, "seed": 1234}}
    for i, task_id in enumerate(task_ids[:120]):
        tally = state.tallies[task_id]
        tally.generated = 10 if i < 118 else 6
        tally.judged = 10 if i < 117 else 4
        tally.passed = min(tally.judged, (i * 7) % 11)
    state.tokens = 183_400
    state.tokens_per_second = 42.5
    state.eta_seconds = 754
    state.current_task = task_ids[119]
    return state


def test_dashboard(snap_compare, tmp_path):
    from pycodex.tui.screens.dashboard import DashboardScreen

    async def run_before(pilot):
        await pilot.app.push_screen(DashboardScreen(state=_dashboard_state()))
        await pilot.press("right", "right", "down")

    assert snap_compare(make_app(tmp_path), run_before=run_before, terminal_size=SIZE)


def test_dashboard_wide(snap_compare, tmp_path):
    from pycodex.tui.screens.dashboard import DashboardScreen

    async def run_before(pilot):
        await pilot.app.push_screen(DashboardScreen(state=_dashboard_state()))

    assert snap_compare(make_app(tmp_path), run_before=run_before, terminal_size=(200, 50))


def test_help(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), press=["question_mark"], terminal_size=SIZE)


def test_projector_theme(snap_compare, tmp_path):
    async def run_before(pilot):
        pilot.app.theme = "projector"
        await pilot.press("slash", *"fib", "enter", "2")

    assert snap_compare(make_app(tmp_path), run_before=run_before, terminal_size=SIZE)


def test_browser_with_pass_rates(snap_compare, tmp_path):
    async def run_before(pilot):
        await pilot.app.workers.wait_for_complete()
        rates = {f"HumanEval/{i}": ((i % 5) / 4, min(1.0, (i % 5) / 4 + 0.25)) for i in range(0, 40, 3)}
        pilot.app._set_pass_rates(rates)
        table = pilot.app.screen.query_one("ProblemTable")
        table.sort_by("best")
        await pilot.pause()
        await pilot.pause()
        table.move_cursor(row=2)
        await pilot.pause()

    assert snap_compare(make_app(tmp_path), run_before=run_before, terminal_size=SIZE)
