"""The one progress reducer: events folded live give the state the store gives afterwards; the
dashboard draws at a bounded rate however fast events come."""

from __future__ import annotations

import time

from pycodex.runs.state import RunState, SampleState
from tui_helpers import async_test, make_app, wait_for


def _run_canonical(tmp_path, task_ids, n=2):
    from pycodex.generation.base import SamplingParams
    from pycodex.runs.pipeline import Pipeline, RunConfig
    from pycodex.store.database import Store

    events = []
    store = Store(tmp_path / "runs.sqlite3")
    config = RunConfig(backend="canonical", task_ids=task_ids, params=SamplingParams(n=n, temperature=0.2), workers=2, ks=[1, n])
    finished = Pipeline(config, store=store, on_event=events.append).run()
    return store, finished, events


def test_live_state_equals_the_stored_state(tmp_path):
    from pycodex.runs.events import SampleGenerated, SampleJudged

    store, finished, events = _run_canonical(tmp_path, ["HumanEval/0", "HumanEval/1", "HumanEval/2"])
    live = RunState()
    samples: dict[tuple[str, int], SampleState] = {}
    for event in events:
        live.apply(event)
        if isinstance(event, (SampleGenerated, SampleJudged)):
            samples.setdefault((event.task_id, event.index), SampleState(event.task_id, event.index)).apply(event)
    stored = RunState.from_store(store, finished.run_id)
    assert live.run_id == stored.run_id == finished.run_id
    assert live.status == stored.status == "finished"
    assert live.tallies == stored.tallies and live.totals == {"expected": 6, "generated": 6, "judged": 6, "passed": 6}
    assert live.pass_at_k() == stored.pass_at_k() == ({1: 1.0, 2: 1.0}, 3)
    assert live.statuses == {"passed": 6}
    for record in store.samples(finished.run_id, "HumanEval/1"):
        from_store = SampleState.from_record(record)
        from_events = samples[("HumanEval/1", record.index)]
        assert (from_events.text, from_events.status, from_events.passed, from_events.tokens) == (
            from_store.text, from_store.status, from_store.passed, from_store.tokens)
    store.close()


@async_test
async def test_dashboard_redraws_at_a_bounded_rate_during_a_full_replay_run(tmp_path):
    from textual.widgets import Input

    from pycodex.tui.screens.dashboard import REDRAW_HZ, DashboardScreen
    from pycodex.tui.screens.generate_form import GenerateForm

    app = make_app(tmp_path, model="canonical")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("E")
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        await pilot.press("n")
        assert isinstance(app.screen, GenerateForm)
        app.screen.query_one("#n", Input).value = "1"
        before, events_before = dash.redraws, dash.events_applied
        started = time.monotonic()
        await pilot.press("enter")
        await wait_for(pilot, lambda: dash.state.status in ("finished", "failed", "cancelled"), timeout=120, what="the run")
        elapsed = time.monotonic() - started
        redraws, events = dash.redraws - before, dash.events_applied - events_before
        print(f"{events} events, {redraws} redraws in {elapsed:.2f} s ({redraws / elapsed:.1f}/s)")
    assert dash.state.totals["judged"] == 164 and dash.state.totals["passed"] == 164
    assert events > 3 * 164  # started, generated, judged per sample, plus progress
    # the timer's ticks, plus the redraws that are not event-driven (start, end)
    assert redraws <= elapsed * REDRAW_HZ + 5, (redraws, elapsed)
    assert redraws < events / 3
