"""Pilot tests of the TUI: the real app, the real Pipeline, store and executor, headless."""

from __future__ import annotations

import tomllib

import pytest

pytest.importorskip("textual")

from tui_helpers import async_test, make_app, run_done, screen_text, wait_for, write_samples_file  # noqa: E402

SIZE = (120, 40)


def table(app):
    from pycodex.tui.components.problem_table import ProblemTable

    return app.screen.query_one(ProblemTable)


@async_test
async def test_browser_lists_every_problem_and_filters_as_you_type(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        assert table(app).row_count == 164
        await pilot.press("slash", "f", "i", "b")
        await pilot.pause()
        ids = [table(app).coordinate_to_cell_key((row, 0)).row_key.value for row in range(table(app).row_count)]
        # id, entry point and docstring all match; the exact entry point comes first.
        assert ids[0] == "HumanEval/55"
        assert {"HumanEval/39", "HumanEval/46", "HumanEval/63"} <= set(ids)
        assert "HumanEval/130" in ids  # only its docstring mentions Fibonacci
        await pilot.press("backspace", "backspace", "backspace", *"HumanEval/16")
        await pilot.pause()
        assert {table(app).coordinate_to_cell_key((r, 0)).row_key.value for r in range(table(app).row_count)} == {
            "HumanEval/16",
            *(f"HumanEval/{i}" for i in range(160, 164)),
        }
        await pilot.press("down")  # the filter hands focus to the table
        assert app.focused is table(app)
        await pilot.press("escape")  # clears the filter
        await pilot.pause()
        assert table(app).row_count == 164
        assert "164/164 problems" in screen_text(app)


@async_test
async def test_browser_docstrings_readable_at_100x30_and_80x24(tmp_path):
    from textual.widgets.data_table import ColumnKey

    for size, least in (((100, 30), 32), ((80, 24), 16)):
        app = make_app(tmp_path)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            doc = table(app).columns[ColumnKey("doc")]
            assert doc.width >= least, (size, doc.width)  # it was about 20 at 100x30
            first_line = app.problem_set.get("HumanEval/0").first_docstring_line
            assert first_line[: least - 2] in screen_text(app)


@async_test
async def test_navigation_and_sorting(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        t = table(app)
        assert t.current_task_id == "HumanEval/0"
        await pilot.press("j", "j", "down")
        assert t.current_task_id == "HumanEval/3"
        await pilot.press("k")
        assert t.current_task_id == "HumanEval/2"
        await pilot.press("pagedown")
        assert int(t.current_task_id.split("/")[1]) > 10
        await pilot.press("pageup", "home")
        assert t.current_task_id == "HumanEval/0"
        t.sort_by("asserts")  # most asserts first
        await pilot.pause()
        counts = [app.problem_set.get(t.coordinate_to_cell_key((r, 0)).row_key.value).assert_count for r in range(5)]
        assert counts == sorted(counts, reverse=True)
        t.sort_by("entry")
        await pilot.pause()
        first = app.problem_set.get(t.coordinate_to_cell_key((0, 0)).row_key.value)
        assert first.entry_point == min(p.entry_point.lower() for p in app.problem_set)
        await pilot.press("s")  # cycles to the next sortable column
        assert t.sort_key == "asserts"


@async_test
async def test_the_tui_opens_on_a_problem_given_by_the_repl(tmp_path):
    """`pycodex tui --problem 55` (the REPL's /tui): the problem's view over the browser; an unknown id is a notice."""
    from pycodex.tui.screens.problem import ProblemScreen

    app = make_app(tmp_path, problem="55")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ProblemScreen) and app.screen.problem.task_id == "HumanEval/55"
        await pilot.press("escape")
        assert table(app).current_task_id is not None
    app = make_app(tmp_path, problem="999")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not isinstance(app.screen, ProblemScreen)
        assert any("unknown task id '999'" in str(n.message) for n in app._notifications)


@async_test
async def test_open_a_problem_and_switch_tabs(tmp_path):
    from pycodex.tui.screens.problem import ProblemScreen
    from textual.widgets import TabbedContent

    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"fib", "enter")  # Enter in the filter opens the first match
        await pilot.pause()
        assert isinstance(app.screen, ProblemScreen)
        assert app.screen.problem.task_id == "HumanEval/55"
        assert "def fib(n: int):" in screen_text(app)
        await pilot.press("2")
        await pilot.pause()
        assert app.screen.query_one(TabbedContent).active == "solution"
        assert "fib(n - 1) + fib(n - 2)" in screen_text(app)
        await pilot.press("3")
        await pilot.pause()
        assert "assert candidate(10) == 55" in screen_text(app)
        await pilot.press("escape")
        assert table(app).current_task_id == "HumanEval/55"


async def _generate(pilot, app, n: int = 4, max_tokens: int | None = None, timeout: float = 60.0):
    from pycodex.tui.screens.generate_form import GenerateForm
    from pycodex.tui.screens.samples import SamplesScreen
    from textual.widgets import Input

    await pilot.press("g")
    await pilot.pause()
    assert isinstance(app.screen, GenerateForm)
    app.screen.query_one("#n", Input).value = str(n)
    if max_tokens is not None:
        app.screen.query_one("#max_tokens", Input).value = str(max_tokens)
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, SamplesScreen)
    await wait_for(pilot, lambda: run_done(app.screen), timeout=timeout, what="the run to end")
    return app.screen


@async_test
async def test_generate_with_canonical_backend_until_every_verdict(tmp_path):
    from pycodex.store.database import Store

    app = make_app(tmp_path, model="canonical")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"fib", "enter")
        screen = await _generate(pilot, app, n=4)
        assert screen.status == "finished", screen.error
        assert [s.status for s in screen.samples.values()] == ["passed"] * 4
        text = screen_text(app)
        assert "PASS" in text and "pass@1 1.000" in text and "pass@4 1.000" in text
        run_id = screen.run_id
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.pass_rates.get("HumanEval/55") == (1.0, 1.0), what="pass rates")
        assert "100%" in screen_text(app)
    with Store(tmp_path / "runs.sqlite3") as store:
        record = store.get_run(run_id)
        assert record.task_ids == ["HumanEval/55"] and record.n == 4 and record.passed == 4
        assert record.backend == "canonical"


@async_test
async def test_verdicts_fail_syntax_error_and_diff(tmp_path):
    from pycodex.tui.screens.diff import DiffScreen

    samples = write_samples_file(tmp_path / "in")
    app = make_app(tmp_path, model=f"samples:{samples}")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"fib", "enter")
        screen = await _generate(pilot, app, n=4)
        assert screen.status == "finished", screen.error
        statuses = [screen.samples[i].status for i in range(4)]
        assert statuses == ["passed", "failed", "syntax error", "failed"]
        assert "assert candidate(10) == 55" in screen.samples[1].detail
        text = screen_text(app)
        assert "FAIL" in text and "SYNTAX" in text and "PASS" in text
        assert "AssertionError" in text and "ValueError: nope" in text
        # pass@k over the 4 judged samples, 1 passed: pass@1 = 0.25, pass@4 = 1.
        assert "pass@1 0.250" in text and "pass@4 1.000" in text

        await pilot.press("o", "o")  # sort by verdict: the pass first
        assert screen.sort == "verdict"
        cards = screen._ordered_cards()
        assert cards[0].sample.status == "passed"

        cards[1].focus()
        failing = cards[1].sample
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DiffScreen)
        text = screen_text(app)
        assert f"sample #{failing.index}" in text
        assert "unified" in text
        assert "+ " + failing.text.splitlines()[0] in text
        assert "-     return fib(n - 1) + fib(n - 2)" in text
        await pilot.press("s")
        await pilot.pause()
        text = screen_text(app)
        assert "side-by-side" in text and "canonical solution" in text
        await pilot.press("w")
        await pilot.pause()
        assert "whitespace: ignored" in screen_text(app)
        await pilot.press("escape")
        assert app.screen is screen


def test_diff_rows_whitespace_insensitive():
    from pycodex.diffing import diff_rows

    a = "    x = 1\n    return x\n"
    b = "    x  =  1\n\n    return x\n"
    assert [r.tag for r in diff_rows(a, b, ignore_whitespace=True)] == ["equal", "equal"]
    assert {"delete", "insert"} <= {r.tag for r in diff_rows(a, b)}
    side = diff_rows("a\nb\n", "a\nc\n", side_by_side=True)
    assert [(r.tag, r.left, r.right) for r in side] == [("equal", "a", "a"), ("replace", "b", "c")]


@async_test
async def test_escape_cancels_a_run_cleanly(tmp_path):
    from pycodex.store.database import Store
    from pycodex.tui.screens.generate_form import GenerateForm
    from pycodex.tui.screens.samples import SamplesScreen

    app = make_app(tmp_path, model="slow")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        assert isinstance(app.screen, GenerateForm)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, SamplesScreen)
        await wait_for(pilot, lambda: screen.samples[0].text.count("return") >= 3, what="tokens to stream")
        assert screen.samples[0].status == "streaming"
        assert "streaming" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: run_done(screen), timeout=10, what="the cancel")
        assert screen.status == "cancelled"
        assert not any(s.judged for s in screen.samples.values())
        assert "cancelled" in screen_text(app)
        await pilot.press("escape")  # a second Esc goes back
        assert not isinstance(app.screen, SamplesScreen)
    with Store(tmp_path / "runs.sqlite3") as store:
        assert store.list_runs()[0].effective_status == "cancelled"


@async_test
async def test_theme_switch_from_command_palette_persists(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "codex-dark"
        assert {"codex-dark", "projector", "solarized-dusk"} <= set(app.theme_specs)
        assert app.code_style == "monokai"
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"theme")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)
        await pilot.press(*"projector")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.theme == "projector", timeout=5, what="the theme")
        assert app.code_style == "friendly"
        await pilot.pause(0.1)
    saved = tomllib.loads((tmp_path / "config" / "config.toml").read_text())
    assert saved["theme"] == "projector"
    again = make_app(tmp_path)
    async with again.run_test(size=SIZE):
        assert again.theme == "projector"


@async_test
async def test_broken_theme_files_notify_and_do_not_crash(tmp_path):
    user = tmp_path / "user-themes"
    user.mkdir()
    (user / "broken.toml").write_text("name = 'broken\n[colors\n")
    (user / "badcolor.toml").write_text('name = "badcolor"\n[colors]\nprimary = "not-a-color"\n')
    (user / "nostyle.toml").write_text('name = "nostyle"\npygments_style = "no-such-style"\n[colors]\nprimary = "#112233"\n')
    (user / "mine.toml").write_text('name = "mine"\ndark = false\npygments_style = "vs"\n[colors]\nprimary = "#884400"\n')
    app = make_app(tmp_path, user_themes=user)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        messages = " ".join(n.message for n in app._notifications)
        assert "broken.toml" in messages and "badcolor.toml" in messages and "nostyle.toml" in messages
        assert "mine" in app.available_themes and "badcolor" not in app.available_themes
        app.theme = "mine"
        await pilot.pause()
        assert app.code_style == "vs"
        assert table(app).row_count == 164


@async_test
async def test_help_lists_key_bindings(tmp_path):
    from pycodex.tui.screens.help import HelpScreen

    app = make_app(tmp_path)
    async with app.run_test(size=(120, 120)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for needle in ("Problem browser", "Generate", "Side-by-side", "Run dashboard", "Ctrl+P", "pass@k"):
            assert needle in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@async_test
async def test_model_picker_persists_choice(tmp_path):
    from pycodex.tui.screens.model_picker import ModelPicker

    app = make_app(tmp_path, model="slow")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, ModelPicker)
        await pilot.press("down", "enter")  # the second option: canonical replay
        config_file = tmp_path / "config" / "config.toml"
        await wait_for(pilot, config_file.exists, timeout=20, what="the saved choice")
        assert app.model == "canonical" and app.backend_state == "ready"
        assert tomllib.loads(config_file.read_text())["model"] == "canonical"
        # A model that cannot load is reported and not kept.
        bad = tmp_path / "broken.gguf"
        bad.write_bytes(b"not a model")
        app.set_model(str(bad))
        await wait_for(pilot, lambda: app.model == "canonical", timeout=60, what="the fallback")
        assert any("failed" in (n.title or "") for n in app._notifications)
    assert tomllib.loads(config_file.read_text())["model"] == "canonical"


@async_test
async def test_dashboard_runs_an_eval_and_jumps_to_samples(tmp_path):
    from pycodex.tui.screens.dashboard import DashboardScreen
    from pycodex.tui.screens.generate_form import GenerateForm
    from pycodex.tui.screens.runs import RunsScreen
    from pycodex.tui.screens.samples import SamplesScreen
    from textual.widgets import Input

    app = make_app(tmp_path, model="canonical")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("E")
        assert isinstance(app.screen, DashboardScreen)
        dash = app.screen
        assert len(dash.state.task_ids) == 164
        await pilot.press("n")
        assert isinstance(app.screen, GenerateForm)
        app.screen.query_one("#problems", Input).value = "0-5"
        app.screen.query_one("#n", Input).value = "2"
        await pilot.press("enter")
        await wait_for(pilot, lambda: dash.state.status in ("finished", "failed", "cancelled"), timeout=60, what="the eval")
        assert dash.state.status == "finished"
        assert dash.state.totals == {"expected": 12, "generated": 12, "judged": 12, "passed": 12}
        text = screen_text(app)
        assert "pass@1 100.00%" in text and "pass@2 100.00%" in text and "over 6 finished problems" in text
        await pilot.press("right", "enter")
        await pilot.pause()
        assert isinstance(app.screen, SamplesScreen)
        await wait_for(pilot, lambda: len(app.screen.samples) == 2, what="stored samples")
        assert app.screen.problem.task_id == "HumanEval/1"
        assert all(s.status == "passed" for s in app.screen.samples.values())
        await pilot.press("escape", "escape")
        await pilot.press("R")
        assert isinstance(app.screen, RunsScreen)
        await wait_for(pilot, lambda: app.screen.query_one("RunsTable").row_count == 1, what="the run list")
        await pilot.press("enter")
        assert isinstance(app.screen, DashboardScreen)
        await wait_for(pilot, lambda: app.screen.state.status == "finished", what="the stored run")
        assert app.screen.state.totals["passed"] == 12


@pytest.mark.model
@async_test
async def test_generate_with_the_real_model(tmp_path):
    app = make_app(tmp_path, model="default")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"fib", "enter")
        screen = await _generate(pilot, app, n=2, max_tokens=24, timeout=300)
        assert screen.status == "finished", screen.error
        assert all(s.judged for s in screen.samples.values())
        assert all(s.tokens > 0 and s.mean_logprob is not None for s in screen.samples.values())
        await pilot.press("o")  # mean log-prob order, as in the paper's Figure 7
        cards = screen._ordered_cards()
        assert cards[0].sample.mean_logprob >= cards[1].sample.mean_logprob


@async_test
async def test_quit_during_a_run_stops_the_pipeline_before_closing_the_model(tmp_path):
    from pycodex.tui.screens.samples import SamplesScreen

    app = make_app(tmp_path, model="slow")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g", "enter")
        screen = app.screen
        assert isinstance(screen, SamplesScreen)
        await wait_for(pilot, lambda: screen.samples[0].text, what="tokens to stream")
        backend = app._backend
        session = screen.session
        await pilot.press("q")
        await pilot.pause(0.2)
    assert session.finished.is_set()  # the pipeline thread let go of the model first
    assert backend.closed


@async_test
async def test_a_corrupt_run_store_is_a_notification_not_a_crash(tmp_path):
    (tmp_path / "runs.sqlite3").write_bytes(b"this is not a database" * 100)
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app._notifications, timeout=10, what="a notification")
        assert "run store" in " ".join(n.message for n in app._notifications)
        assert table(app).row_count == 164


@async_test
async def test_an_unfinished_stored_run_resumes_from_the_dashboard(tmp_path):
    """A run cancelled half-way (here by its own event handler) is opened from the history and
    finished with r: the stored samples are kept, only the missing ones are generated."""
    from pycodex.generation.base import SamplingParams
    from pycodex.runs.pipeline import Pipeline, RunConfig
    from pycodex.store.database import Store
    from pycodex.runs.events import SampleGenerated
    from pycodex.tui.screens.dashboard import DashboardScreen
    from pycodex.tui.screens.runs import RunsScreen

    db = tmp_path / "runs.sqlite3"
    config = RunConfig(backend="canonical", task_ids=[f"HumanEval/{i}" for i in range(4)],
                       params=SamplingParams(n=2, temperature=0.8, seed=5), ks=[1, 2], workers=1)
    with Store(db) as store:
        generated = []

        def stop_after_three(event):
            if isinstance(event, SampleGenerated):
                generated.append(event)
                if len(generated) == 3:
                    pipeline.cancel()

        pipeline = Pipeline(config, store=store, on_event=stop_after_three)
        first = pipeline.run()
        assert first.status == "cancelled"
        before = {(s.task_id, s.index): s.completion for s in store.samples(first.run_id)}
    assert 3 <= len(before) < 8

    app = make_app(tmp_path, model="slow")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("R")
        assert isinstance(app.screen, RunsScreen)
        await wait_for(pilot, lambda: app.screen.query_one("RunsTable").row_count == 1, what="the run list")
        await pilot.press("enter")
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        await wait_for(pilot, lambda: dash.state.resumable, what="the stored run")
        assert "press r to resume" in screen_text(app)
        await pilot.press("r")  # the app's model is not the run's: refused, nothing started
        await pilot.pause()
        assert dash.session is None and any("pick that model" in n.message for n in app._notifications)
        app.model = "canonical"
        await pilot.press("r")
        await wait_for(pilot, lambda: dash.state.status in ("finished", "failed", "cancelled"), timeout=60, what="the resumed run")
        assert dash.state.status == "finished" and not dash.state.resumable
        assert dash.state.totals == {"expected": 8, "generated": 8, "judged": 8, "passed": 8}
    with Store(db) as store:
        after = store.samples(first.run_id)
        assert len(after) == 8 and store.get_run(first.run_id).status == "finished"
        assert all(before[key] == s.completion for s in after if (key := (s.task_id, s.index)) in before)
        assert sorted({s.session for s in after}) == [1, 2]


@async_test
async def test_model_state_reaches_the_open_samples_screen(tmp_path):
    """The app publishes each model state change on its backend signal; a live samples screen
    waiting for the model says so (and the app's own subtitle follows)."""
    from pycodex.tui.messages import BackendChanged
    from pycodex.tui.screens.generate_form import GenerateForm
    from pycodex.tui.screens.samples import SamplesScreen

    app = make_app(tmp_path, model="slow")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        assert isinstance(app.screen, GenerateForm)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, SamplesScreen)
        await pilot.press("escape")  # stop the stream first: its tokens would say "generating"
        await wait_for(pilot, lambda: run_done(screen), timeout=10, what="the cancel")
        screen.status = "starting"  # as if the model had not answered yet
        app.post_message(BackendChanged("a big model", "loading"))
        await wait_for(pilot, lambda: screen.status == "loading model", timeout=5, what="the loading state")
        assert "loading" in app.sub_title


@async_test
async def test_problem_set_chooser_switches_the_browser_and_runs_record_the_set(tmp_path):
    from pycodex.store.database import Store
    from pycodex.tui.screens.problem_set_picker import ProblemSetPicker

    app = make_app(tmp_path, model="canonical")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("P")
        await pilot.pause()
        assert isinstance(app.screen, ProblemSetPicker)
        await pilot.press("down", "down", "enter")  # the third: humaneval-plus-mini
        await wait_for(pilot, lambda: app.problem_set.name == "humaneval-plus-mini", what="the switch")
        assert table(app).row_count == 164 and "extra inputs" in screen_text(app)
        assert tomllib.loads((tmp_path / "config" / "config.toml").read_text())["problem_set"] == "humaneval-plus-mini"
        await pilot.press("slash", *"HumanEval/24", "enter")
        screen = await _generate(pilot, app, n=1)
        assert screen.status == "finished", screen.error
        assert [s.base_passed for s in screen.samples.values()] == [True]
        assert "base passed" in screen_text(app)
        run_id = screen.run_id
        await pilot.press("escape", "escape")  # the samples, the problem, back to the browser
        await pilot.press("P")
        await pilot.pause()
        await pilot.press("down", "enter")  # the picker opens on the current set; the next: mbpp-plus
        await wait_for(pilot, lambda: app.problem_set.name == "mbpp-plus", what="the switch to mbpp-plus")
        assert table(app).row_count == 399
        await pilot.press("P")
        await pilot.pause()
        await pilot.press("down", "enter")  # the next: chains
        await wait_for(pilot, lambda: app.problem_set.name == "chains", what="the switch to chains")
        assert table(app).row_count == 130
    with Store(tmp_path / "runs.sqlite3") as store:
        record = store.get_run(run_id)
        assert (record.problem_set, record.problem_set_version) == ("humaneval-plus-mini", "evalplus-mini-v0.1.10")
        assert record.config.get("problems_file") is None
