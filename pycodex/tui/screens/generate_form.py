"""The small sampling form behind `g` (one problem) and the dashboard's new eval (many)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass, replace

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from pycodex.generation.base import DEFAULT_MAX_TOKENS, DEFAULT_TOP_P, SamplingParams
from pycodex.runs.request import PRESETS, SamplingRequest
from pycodex.tui.screens.request_form import RequestForm

if TYPE_CHECKING:
    from textual import getters

    from pycodex.tui.app import PycodexApp


@dataclass(frozen=True)
class GenerateRequest:
    params: SamplingParams
    problems: str = "all"  # eval mode only: a selection like all, 0-19, 3,7
    ks: tuple[int, ...] | None = None  # None: the defaults for n
    preset: str | None = None  # the preset whose k is reported (kept while its n allows it)


DEFAULT_SINGLE = SamplingParams(n=4, temperature=0.8, top_p=DEFAULT_TOP_P, max_tokens=DEFAULT_MAX_TOKENS)
DEFAULT_EVAL = SamplingParams(n=1, temperature=PRESETS["pass@1"].temperature, top_p=DEFAULT_TOP_P, max_tokens=DEFAULT_MAX_TOKENS)


class GenerateForm(RequestForm[GenerateRequest]):
    if TYPE_CHECKING:
        app = getters.app(PycodexApp)

    BINDINGS = [
        Binding("f1", "preset('pass@1')", "pass@1 preset"),
        Binding("f2", "preset('pass@10')", "pass@10 preset"),
        Binding("f3", "preset('pass@100')", "pass@100 preset"),
    ]

    DEFAULT_CSS = """
    GenerateForm { align: center middle; }
    GenerateForm > Vertical {
        width: 68; height: auto; max-height: 100%; border: thick $primary; background: $surface; padding: 0 1;
    }
    GenerateForm #form-title { text-style: bold; padding: 0 0 1 0; }
    GenerateForm Grid { grid-size: 2; grid-columns: 14 1fr; grid-rows: 1; grid-gutter: 1 0; height: auto; margin: 1 0; }
    GenerateForm Input { border: none; height: 1; padding: 0 1; background: $boost; }
    GenerateForm Input:focus { border: none; background: $primary 30%; }
    GenerateForm #presets, GenerateForm #actions { height: 1; align-horizontal: center; margin: 1 0 0 0; }
    GenerateForm Button { margin: 0 1; min-width: 10; }
    GenerateForm #form-error { color: $error; height: auto; }
    GenerateForm .hint { color: $text-muted; }
    """

    def __init__(self, title: str, initial: GenerateRequest, *, eval_mode: bool = False, model_label: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.initial = initial
        self.eval_mode = eval_mode
        self.model_label = model_label
        self.preset = initial.preset

    def compose(self) -> ComposeResult:
        p = self.initial.params
        with Vertical():
            yield Static(self.title_text, id="form-title")
            yield Static(f"model: {self.model_label}", classes="hint")
            with Grid():
                if self.eval_mode:
                    yield Label("problems")
                    yield Input(self.initial.problems, id="problems", placeholder="all, 0-19, 3,7", compact=True)
                yield Label("n samples")
                yield Input(str(p.n), id="n", type="integer", compact=True)
                yield Label("temperature")
                yield Input(str(p.temperature), id="temperature", type="number", compact=True)
                yield Label("top_p")
                yield Input(str(p.top_p), id="top_p", type="number", compact=True)
                yield Label("max tokens")
                yield Input(str(p.max_tokens), id="max_tokens", type="integer", compact=True)
                yield Label("seed")
                yield Input("" if p.seed is None else str(p.seed), id="seed", placeholder="random", type="integer", compact=True)
            with Horizontal(id="presets"):
                yield Button("pass@1 F1", id="preset-1", compact=True)
                yield Button("pass@10 F2", id="preset-10", compact=True)
                yield Button("pass@100 F3", id="preset-100", compact=True)
            yield Static("Paper: nucleus top_p 0.95; T 0.2 best for pass@1, T 0.8 for pass@100. Enter starts.", classes="hint")
            yield Static("", id="form-error")
            with Horizontal(id="actions"):
                yield Button("Start", id="start", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#problems" if self.eval_mode else "#n", Input).focus()

    def action_preset(self, name: str) -> None:
        preset = PRESETS[name]
        self.preset = name
        self.query_one("#n", Input).value = str(preset.n)
        self.query_one("#temperature", Input).value = str(preset.temperature)
        self.query_one("#top_p", Input).value = str(DEFAULT_TOP_P)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """A preset's button; Start and Cancel are RequestForm's (Textual calls its handler next)."""
        button_id = event.button.id or ""
        if button_id.startswith("preset-"):
            event.stop()
            event.prevent_default()
            self.action_preset("pass@" + button_id[len("preset-") :])

    def read_request(self) -> GenerateRequest:
        from pycodex.errors import UserError

        try:
            n = int(self._value("n"))
            temperature = float(self._value("temperature"))
            top_p = float(self._value("top_p"))
            max_tokens = int(self._value("max_tokens"))
            seed_text = self._value("seed")
            seed = int(seed_text) if seed_text else None
        except ValueError:
            raise UserError("every field needs a number (seed may be empty)") from None
        preset = self.preset if self.preset and n >= PRESETS[self.preset].k else None
        request = SamplingRequest(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed, preset=preset)
        params, ks = request.resolve()
        params = replace(self.initial.params, **{f: getattr(params, f) for f in ("n", "temperature", "top_p", "max_tokens", "seed")})
        problems = self._value("problems") if self.eval_mode else self.initial.problems
        if self.eval_mode:
            self.app.problem_set.select(problems)  # raises UserError on a bad selection
        return GenerateRequest(params=params, problems=problems or "all", ks=tuple(ks), preset=preset)
