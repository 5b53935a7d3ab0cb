"""Python source, syntax-highlighted with the current theme's pygments style."""

from __future__ import annotations

from rich.syntax import Syntax
from textual.widgets import Static


class CodeView(Static):
    DEFAULT_CSS = """
    CodeView { width: 1fr; height: auto; padding: 0 1; }
    """

    def __init__(self, code: str = "", *, line_numbers: bool = True, start_line: int = 1, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.code = code
        self.line_numbers = line_numbers
        self.start_line = start_line

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._render_code())
        self._render_code()

    def _render_code(self) -> None:
        style = getattr(self.app, "code_style", "monokai")
        self.update(
            Syntax(
                self.code.rstrip("\n") or " ",
                "python",
                theme=style,
                line_numbers=self.line_numbers,
                start_line=self.start_line,
                word_wrap=True,
                indent_guides=False,
            )
        )
