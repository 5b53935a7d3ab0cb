"""A sample card that shows, once the sample is generated, its line diff against the canonical
solution (`-` the canonical line, `+` the sample's), and how similar the two are."""

from __future__ import annotations

from rich.text import Text

from pycodex.runs.state import SamplePhase, SampleState
from pycodex.tui.components.sample_card import SampleCard
from pycodex.diffing import diff_rows, similarity

MARKS = {"equal": " ", "delete": "-", "insert": "+"}


def diff_text(canonical: str, completion: str, *, added: str, removed: str) -> Text:
    """A unified line diff as styled text: removed (canonical) and added (sample) lines colored."""
    text = Text()
    for row in diff_rows(canonical, completion):
        line = row.left if row.tag == "delete" else row.right
        style = {"delete": removed, "insert": added}.get(row.tag, "")
        text.append(f"{MARKS[row.tag]} {line}\n", style=style)
    text.rstrip()
    return text


class DiffCard(SampleCard):
    DEFAULT_CSS = """
    DiffCard { border: round $panel; }
    """

    def __init__(self, sample: SampleState, canonical: str) -> None:
        super().__init__(sample)
        self.canonical = canonical
        self.show_diff = True

    def _update_code(self) -> None:
        s = self.sample
        if not self.show_diff or s.status in (SamplePhase.QUEUED, SamplePhase.STREAMING):
            super()._update_code()
            return
        theme = self.app.current_theme
        added = f"{theme.success or 'green'}"
        removed = f"{theme.error or 'red'}"
        self._code.update(diff_text(self.canonical, s.text, added=added, removed=removed) if s.text.strip() else Text("(empty completion)", style="dim"))

    def _update_title(self) -> None:
        super()._update_title()
        s = self.sample
        if self.show_diff and s.status not in (SamplePhase.QUEUED, SamplePhase.STREAMING):
            sub = str(self.border_subtitle or "")
            same = f"{similarity(self.canonical, s.text, ignore_whitespace=True):.0%} like canonical"
            self.border_subtitle = f"{sub} · {same}" if sub else same
