"""The TUI's model picker takes an inference server; a dashboard run then samples from it."""

from __future__ import annotations

import tomllib

import pytest

pytest.importorskip("textual")

from servers import FakeServer  # noqa: E402
from tui_helpers import async_test, make_app, wait_for  # noqa: E402

SIZE = (120, 40)


@async_test
async def test_model_picker_takes_a_server_and_a_run_samples_from_it(tmp_path):
    from textual.widgets import Input

    from pycodex.store.database import Store
    from pycodex.tui.screens.dashboard import DashboardScreen
    from pycodex.tui.screens.generate_form import GenerateForm
    from pycodex.tui.screens.model_picker import ModelPicker

    with FakeServer() as fake:
        app = make_app(tmp_path, model="canonical")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("m")
            await pilot.pause()
            assert isinstance(app.screen, ModelPicker)
            field = app.screen.query_one("#server", Input)
            field.value = "not a url"
            field.focus()
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, ModelPicker)  # refused in place, one line under the field
            assert "bad --server" in str(app.screen.query_one("#picker-error").render())
            field.value = f"{fake.url} model=fake-model"
            await pilot.press("enter")
            wanted = f"server:{fake.url} model=fake-model"
            await wait_for(pilot, lambda: app.model == wanted and app.backend_state == "ready", timeout=30, what="the server backend")
            assert tomllib.loads((tmp_path / "config" / "config.toml").read_text())["model"] == wanted
            assert "server 127.0.0.1" in app.sub_title

            await pilot.press("E")
            dash = app.screen
            assert isinstance(dash, DashboardScreen)
            await pilot.press("n")
            assert isinstance(app.screen, GenerateForm)
            app.screen.query_one("#problems", Input).value = "0-2"
            app.screen.query_one("#n", Input).value = "2"
            await pilot.press("enter")
            await wait_for(pilot, lambda: dash.state.status in ("finished", "failed", "cancelled"), timeout=60, what="the eval")
            assert dash.state.status == "finished"
            assert dash.state.totals["generated"] == 6 and dash.state.totals["judged"] == 6
        assert fake.completions == 6
    with Store(tmp_path / "runs.sqlite3") as store:
        (run,) = store.list_runs()
        assert run.backend == "server" and run.config["servers"] == [fake.url] and run.config["server_model"] == "fake-model"
        assert all(s.mean_logprob == pytest.approx(-0.375) for s in store.samples(run.id))
