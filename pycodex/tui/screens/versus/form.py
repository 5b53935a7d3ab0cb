"""The versus form: A and B (a model and its temperature, or a stored run) and what they share."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from pycodex.tui.screens.request_form import RequestForm
from pycodex.tui.screens.versus.session import VersusRequest

MODEL_HINT = "default · FILE.gguf · canonical · samples:FILE · server:URL · run:ID (stored)"


class VersusForm(RequestForm[VersusRequest]):
    DEFAULT_CSS = """
    VersusForm { align: center middle; }
    VersusForm > Vertical { width: 76; max-width: 100%; height: auto; max-height: 100%; border: thick $primary; background: $surface; padding: 0 1; }
    VersusForm #versus-title { text-style: bold; }
    VersusForm Grid { grid-size: 2; grid-columns: 15 1fr; grid-rows: 1; grid-gutter: 0 0; height: auto; margin: 1 0 0 0; }
    VersusForm Input { border: none; height: 1; padding: 0 1; background: $boost; }
    VersusForm Input:focus { border: none; background: $primary 30%; }
    VersusForm #actions { height: 1; align-horizontal: center; margin: 1 0 0 0; }
    VersusForm Button { margin: 0 1; min-width: 10; }
    VersusForm #form-error { color: $error; height: auto; }
    VersusForm .hint { color: $text-muted; }
    """

    def __init__(self, initial: VersusRequest, *, problem_set, a_text: str, b_text: str, temperatures: tuple[str, str] = ("0.2", "0.8")) -> None:
        super().__init__()
        self.initial = initial
        self.problem_set = problem_set
        self.texts = (a_text, b_text)
        self.temperatures = temperatures

    def compose(self) -> ComposeResult:
        r = self.initial
        with Vertical():
            yield Static("Versus: A and B on the same problems with the same seeds", id="versus-title")
            yield Static(f"model: {MODEL_HINT}", classes="hint")
            with Grid():
                for side, text, temperature in zip("ab", self.texts, self.temperatures):
                    yield Label(f"{side.upper()} model")
                    yield Input(text, id=f"{side}-model", compact=True)
                    yield Label(f"{side.upper()} temperature")
                    yield Input(temperature, id=f"{side}-temperature", type="number", placeholder="the run's (run:ID)", compact=True)
                yield Label("problems")
                yield Input(r.problems, id="problems", placeholder="all, 0-19, 3,7", compact=True)
                yield Label("n samples")
                yield Input(str(r.n), id="n", type="integer", compact=True)
                yield Label("max tokens")
                yield Input(str(r.max_tokens), id="max_tokens", type="integer", compact=True)
                yield Label("seed")
                yield Input(str(r.seed), id="seed", type="integer", compact=True)
            yield Static("Same model, T 0.2 vs 0.8: the paper's pass@1 vs pass@100 settings. Enter starts.", classes="hint")
            yield Static("", id="form-error")
            with Horizontal(id="actions"):
                yield Button("Start", id="start", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#a-model", Input).focus()

    def _side(self, side: str):
        from pycodex.errors import UserError
        from pycodex.generation.spec import BackendSpec
        from pycodex.runs.versus import STORED_PREFIX, Side

        text, temperature = self._value(f"{side}-model"), self._value(f"{side}-temperature")
        if not text:
            raise UserError(f"{side.upper()} needs a model ({MODEL_HINT})")
        if text.startswith(STORED_PREFIX):
            return Side.parse(text)
        try:
            value = float(temperature) if temperature else None
        except ValueError:
            raise UserError(f"{side.upper()} temperature must be a number") from None
        if value is not None and value < 0:
            raise UserError(f"{side.upper()} temperature must be >= 0")
        return Side(BackendSpec.parse(text), value)

    def read_request(self) -> VersusRequest:
        from pycodex.errors import UserError

        try:
            n, max_tokens, seed = int(self._value("n")), int(self._value("max_tokens")), int(self._value("seed"))
        except ValueError:
            raise UserError("n, max tokens and seed need whole numbers") from None
        if n < 1 or max_tokens < 1:
            raise UserError("n and max tokens must be at least 1")
        problems = self._value("problems") or "all"
        self.problem_set.select(problems)  # raises UserError on a bad selection
        return VersusRequest(self._side("a"), self._side("b"), problems=problems, n=n, top_p=self.initial.top_p, max_tokens=max_tokens, seed=seed)
