"""Choose the problem set the browser shows and runs evaluate: humaneval, EvalPlus's sets or chains."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class ProblemSetPicker(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    ProblemSetPicker { align: center middle; }
    ProblemSetPicker > Vertical { width: 80; height: auto; border: thick $primary; background: $surface; padding: 0 1; }
    ProblemSetPicker #set-title { text-style: bold; }
    ProblemSetPicker OptionList { height: auto; margin: 1 0; }
    ProblemSetPicker .hint { color: $text-muted; }
    """

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        from pycodex.problems.sets import INTROS, NAMES

        with Vertical():
            yield Static(f"Problem set — now: {self.current or 'your own file'}", id="set-title")
            yield OptionList(*(Option(INTROS[name], id=name) for name in NAMES), id="sets")
            yield Static("The choice is saved in your config; runs record the set and its version.", classes="hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        for i in range(options.option_count):
            if options.get_option_at_index(i).id == self.current:
                options.highlighted = i
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
