"""Pick the model: the bundled Gemma, another GGUF file, an inference server, or canonical replay (demos without a model);
and whether llama.cpp offloads the model's layers to a GPU (the app's n_gpu_layers setting, applied at once)."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, OptionList, Static
from textual.widgets.option_list import Option


class ModelPicker(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    ModelPicker { align: center middle; }
    ModelPicker > Vertical { width: 72; height: auto; border: thick $primary; background: $surface; padding: 0 1; }
    ModelPicker #picker-title { text-style: bold; }
    ModelPicker OptionList { height: auto; max-height: 8; margin: 1 0; }
    ModelPicker #picker-error { color: $error; height: auto; }
    ModelPicker Checkbox { border: none; padding: 0; }
    ModelPicker .hint { color: $text-muted; }
    """

    def __init__(self, current: str, gpu: bool = False) -> None:
        super().__init__()
        self.current = current
        self.gpu = gpu

    def compose(self) -> ComposeResult:
        from pycodex.generation.llama.kind import DEFAULT_MODEL
        from pycodex.generation.replay import CanonicalBackend
        from pycodex.generation.server.kind import SERVER_PREFIX
        from pycodex.generation.spec import BackendSpec

        CANONICAL_MODEL = CanonicalBackend.kind

        with Vertical():
            yield Static(f"Model — now: {BackendSpec.parse(self.current).label}", id="picker-title")
            yield OptionList(
                Option("Gemma 3 270M (bundled GGUF, llama.cpp)", id=DEFAULT_MODEL),
                Option("canonical replay: each problem's own solution (no model; for demos)", id=CANONICAL_MODEL),
                id="choices",
            )
            yield Static("…or the path of another GGUF file, then Enter:", classes="hint")
            custom = self.current if self.current not in (DEFAULT_MODEL, CANONICAL_MODEL) else ""
            server = self.current[len(SERVER_PREFIX) :] if self.current.startswith(SERVER_PREFIX) else ""
            yield Input("" if server else custom, placeholder="/path/to/model.gguf", id="gguf")
            yield Static("…or an OpenAI-compatible server (llama-server, vLLM, Ollama): URL [URL…] [model=NAME] [chat], then Enter:", classes="hint")
            yield Input(server, placeholder="http://127.0.0.1:8080/v1", id="server")
            yield Checkbox("GPU: every layer on the GPU (llama.cpp, --n-gpu-layers -1; needs a GPU build: `pycodex models`)", self.gpu, id="gpu")
            yield Static("", id="picker-error")
            yield Static("The choice is saved in your config; the model loads in the background.", classes="hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        for i in range(options.option_count):
            if options.get_option_at_index(i).id == self.current:
                options.highlighted = i
        options.focus()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self.app.set_gpu_layers(-1 if event.value else 0)  # type: ignore[attr-defined]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "server":
            self._server_submitted(event.value)
            return
        path = Path(event.value.strip()).expanduser()
        if not event.value.strip():
            return
        if not path.is_file():
            self.query_one("#picker-error", Static).update(f"no such file: {path}")
            return
        if path.suffix.lower() != ".gguf":
            self.query_one("#picker-error", Static).update("expected a .gguf file")
            return
        self.dismiss(str(path.resolve()))

    def _server_submitted(self, value: str) -> None:
        """Checked for form here (one line under the field); the connection is made when the backend loads."""
        from pycodex.errors import UserError
        from pycodex.generation.server.kind import SERVER_PREFIX
        from pycodex.generation.spec import BackendSpec

        if not value.strip():
            return
        try:
            spec = BackendSpec.parse(SERVER_PREFIX + value)
        except UserError as exc:
            self.query_one("#picker-error", Static).update(str(exc))
            return
        self.dismiss(str(spec))

    def action_cancel(self) -> None:
        self.dismiss(None)
