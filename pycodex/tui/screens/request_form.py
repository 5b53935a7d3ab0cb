"""A modal form that reads one request from its inputs (the generate form, the versus form):
Enter in a field, ctrl+s or Start submits it (a bad value shows as one line in #form-error, the
form stays), Escape or Cancel dismisses it with None."""

from __future__ import annotations

from typing import TypeVar

from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

R = TypeVar("R")


class RequestForm(ModalScreen[R | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "submit", "Start")]

    def read_request(self) -> R:
        """The request the fields make; UserError (one line) for a bad value."""
        raise NotImplementedError

    def _value(self, field: str) -> str:
        return self.query_one(f"#{field}", Input).value.strip()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "start":
            self.action_submit()
        else:
            self.action_cancel()

    def action_submit(self) -> None:
        from pycodex.errors import UserError

        try:
            request = self.read_request()
        except UserError as exc:
            self.query_one("#form-error", Static).update(str(exc))
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)
