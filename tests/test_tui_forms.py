"""The request forms (tui/screens/request_form.py): Start and Enter submit, a bad value is one line
in the form (which stays), Cancel and Escape dismiss it; the generate form's preset buttons only
fill fields."""

from __future__ import annotations

import pytest

pytest.importorskip("textual")

from tui_helpers import async_test, make_app, wait_for  # noqa: E402


@async_test
async def test_the_forms_buttons_submit_cancel_and_fill_presets(tmp_path):
    from textual.widgets import Input, Static

    from pycodex.tui.screens.generate_form import GenerateForm
    from pycodex.tui.screens.versus.form import VersusForm

    app = make_app(tmp_path, model="canonical")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(app.screen, GenerateForm), what="the generate form")
        form = app.screen
        await pilot.click("#preset-10")
        assert app.screen is form and form.query_one("#n", Input).value == "20" and form.preset == "pass@10"
        form.query_one("#n", Input).value = "many"
        await pilot.click("#start")
        assert app.screen is form and "needs a number" in str(form.query_one("#form-error", Static).render())
        await pilot.click("#cancel")
        await wait_for(pilot, lambda: not isinstance(app.screen, GenerateForm), what="the form's cancel")

        await pilot.press("V")
        await wait_for(pilot, lambda: isinstance(app.screen, VersusForm), what="the versus form")
        versus = app.screen
        versus.query_one("#n", Input).value = "0"
        await pilot.press("ctrl+s")
        assert app.screen is versus and "at least 1" in str(versus.query_one("#form-error", Static).render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, VersusForm), what="the versus form's escape")
