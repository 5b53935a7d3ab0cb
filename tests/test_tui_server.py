"""The TUI's model picker takes an inference server; a dashboard run then samples from it."""

from __future__ import annotations

import tomllib

import pytest

pytest.importorskip("textual")

from servers import FakeServer  # noqa: E402
from tui_helpers import async_test, make_app, run_done, wait_for  # noqa: E402

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


@async_test
async def test_a_server_sample_streams_into_its_card_and_a_restart_clears_it(tmp_path, monkeypatch):
    """The samples screen of a server run: a card shows partial text before its verdict, as for a
    local model. The first request stalls after a token: its sample starts again on the retry, its
    card is cleared (title "restarted"), and it ends with the retried text alone."""
    from textual.widgets import Input

    from pycodex.generation.server import backend as server_backend
    from pycodex.tui.screens.samples import SamplesScreen

    monkeypatch.setattr(server_backend, "DEFAULT_TIMEOUT", 1.0)  # the stall bound, for this test
    with FakeServer(token_delay=0.4, stall_first=1) as fake:
        app = make_app(tmp_path, model=f"server:{fake.url}")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("g")
            await wait_for(pilot, lambda: bool(app.screen.query("#n")), timeout=30, what="the generate form")
            app.screen.query_one("#n", Input).value = "2"
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, SamplesScreen)
            partial: dict[int, str] = {}

            def streaming() -> bool:
                for s in screen.samples.values():
                    if s.text and s.status == "streaming" and not s.judged:
                        partial[s.index] = s.text
                return bool(partial)

            await wait_for(pilot, streaming, timeout=60, what="partial text in a card")
            assert all(text == "    return" for text in partial.values())  # the first token, the verdict still to come
            await wait_for(pilot, lambda: any(s.restarts for s in screen.samples.values()), timeout=60, what="the restart")
            restarted = next(s for s in screen.samples.values() if s.restarts)
            card = screen.cards[restarted.index]
            assert restarted.restarts == 1 and "    return 1\n".startswith(restarted.text)  # the stalled try's text is gone
            if restarted.status == "streaming":
                assert "restarted" in str(card.border_title)
            await wait_for(pilot, lambda: run_done(screen), timeout=60, what="the run")
            assert screen.status == "finished"
            assert [s.text for s in screen.samples.values()] == ["    return 1\n"] * 2 and all(s.judged for s in screen.samples.values())
        assert fake.completions == 3  # two samples, one retried
