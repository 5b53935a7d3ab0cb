"""One sample as a card: tokens stream in, then *running*, then the verdict."""

from __future__ import annotations

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from pycodex.tui.components.rates import verdict_label, verdict_style
from pycodex.execution.verdict import FAILED, OUT_OF_MEMORY, PASSED, TIMED_OUT
from pycodex.runs.state import SamplePhase, SampleState

MAX_DETAIL_LINES = 6
DEFAULT_DETAILS: dict[str, str] = {
    TIMED_OUT: "no result within the time limit (an endless loop, or far too slow)",
    OUT_OF_MEMORY: "went over the memory limit",
}


class SampleCard(Vertical, can_focus=True):
    DEFAULT_CSS = """
    SampleCard { height: auto; border: round $panel; padding: 0 1; margin: 0 0 0 0; }
    SampleCard:focus { border: round $accent; background: $boost; }
    SampleCard.passed { border: round $success 60%; }
    SampleCard.passed:focus { border: round $accent; }
    SampleCard.failed { border: round $error 60%; }
    SampleCard.failed:focus { border: round $accent; }
    SampleCard > .code { height: auto; }
    SampleCard > .detail { height: auto; color: $text-muted; }
    """

    def __init__(self, sample: SampleState) -> None:
        super().__init__(classes="sample")
        self.sample = sample
        self._code = Static("", classes="code")
        self._detail = Static("", classes="detail")

    def compose(self) -> ComposeResult:
        yield self._code
        yield self._detail

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh_all())
        self.refresh_all()

    # -- updates -------------------------------------------------------------------------
    def append_text(self, text: str) -> None:
        if self.sample.judged or self.sample.status == SamplePhase.RUNNING:
            return
        self.sample.text += text
        self.sample.status = SamplePhase.STREAMING
        self._update_title()
        self._code.update(Text(self.sample.text.rstrip("\n") or " "))

    def restart_text(self) -> None:
        """A server retried the sample: what was shown of it is void, its text starts again."""
        if self.sample.judged or self.sample.status == SamplePhase.RUNNING:
            return
        self.sample.text = ""
        self.sample.restarts += 1
        self.sample.status = SamplePhase.STREAMING
        self._update_title()
        self._code.update(Text("…", style="dim"))

    def refresh_all(self) -> None:
        self._update_title()
        self._update_code()
        self._update_detail()
        self.set_class(self.sample.status == PASSED, "passed")
        self.set_class(self.sample.judged and self.sample.status != PASSED, "failed")

    def _update_title(self) -> None:
        s = self.sample
        title = Text()
        title.append(f" #{s.index} ", style="bold")
        if s.status == SamplePhase.QUEUED:
            title.append("queued", style="dim")
        elif s.status == SamplePhase.STREAMING:
            title.append("streaming…", style=verdict_style(self.app, SamplePhase.STREAMING))
            if s.restarts:
                title.append(f" restarted ×{s.restarts}" if s.restarts > 1 else " restarted", style="dim")
        elif s.status == SamplePhase.RUNNING:
            title.append("running…", style=verdict_style(self.app, SamplePhase.RUNNING))
        else:
            title.append(f" {verdict_label(s.status)} ", style=verdict_style(self.app, s.status) + " reverse")
            if s.base_passed is not None:  # humaneval-plus: HumanEval's own tests beside the plus verdict
                title.append(f" base {'passed' if s.base_passed else 'failed'} ", style=verdict_style(self.app, PASSED if s.base_passed else FAILED))
        self.border_title = title
        sub = []
        if s.tokens:
            sub.append(f"{s.tokens} tok")
        if s.mean_logprob is not None and s.tokens:
            sub.append(f"mean logp {s.mean_logprob:.3f}")
        if s.finish_reason:
            sub.append(s.finish_reason)
        self.border_subtitle = " · ".join(sub)

    def _update_code(self) -> None:
        s = self.sample
        if not s.text and s.status in (SamplePhase.QUEUED, SamplePhase.STREAMING):
            self._code.update(Text("…", style="dim"))
        elif s.status in (SamplePhase.QUEUED, SamplePhase.STREAMING):
            self._code.update(Text(s.text.rstrip("\n")))
        else:
            code = s.text.rstrip() or "(empty completion)"
            self._code.update(Syntax(code, "python", theme=getattr(self.app, "code_style", "monokai"), word_wrap=True))

    def _update_detail(self) -> None:
        s = self.sample
        detail = s.detail or DEFAULT_DETAILS.get(s.status, "")
        if not s.judged or s.status == PASSED or not detail:
            self._detail.display = False
            return
        lines = [line for line in detail.strip().splitlines() if line.strip()]
        if len(lines) > MAX_DETAIL_LINES:
            lines = lines[:2] + ["…"] + lines[-(MAX_DETAIL_LINES - 3) :]
        self._detail.display = True
        self._detail.update(Text("\n".join(lines), style=verdict_style(self.app, s.status).replace("bold ", "")))
