"""The pycodex Textual app: a thin skin over the core's Workbench (pycodex.runs.workbench: the
model and its backend, the run store, the problem set, the runs in progress), which it makes and
hands down to its screens; screens post messages up. The app keeps the UI's own state: settings,
themes, notifications.

Everything heavy (the model, llama_cpp, numpy, the store, the pipeline) is imported lazily in
thread workers, so the first frame comes fast. Tests inject paths and the backend through the
constructor (or PYCODEX_DB / PYCODEX_DATA_DIR / PYCODEX_CONFIG_DIR).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal

from pycodex import config as user_config
from pycodex import locations
from pycodex.generation.llama.kind import DEFAULT_MODEL
from pycodex.generation.spec import BackendSpec
from pycodex.runs.workbench import BackendState, Workbench
from pycodex.tui.messages import BackendChanged


class PycodexApp(App):
    """`pycodex` with no arguments."""

    TITLE = "pycodex"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("m", "pick_model", "Model"),
        Binding("R", "runs", "Runs", show=False),
        Binding("E", "dashboard", "Eval", show=False),
        Binding("V", "versus", "Versus", show=False),
        Binding("f12", "save_svg", "Save SVG", show=False, key_display="F12"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        *,
        db_path: str | Path | None = None,
        config_path: str | Path | None = None,
        theme_dirs: list[Path] | None = None,
        model: str | None = None,
        problem_set: Any = None,
        exit_after_first_frame: bool = False,
        executor_options: dict | None = None,
        problem: str | None = None,
    ) -> None:
        """problem: a task id whose problem view opens over the browser (`pycodex tui --problem`)."""
        super().__init__()
        self.initial_problem = problem
        self.config_path = Path(config_path) if config_path else locations.config_file()
        self.theme_dirs = theme_dirs
        self.settings: dict[str, Any] = user_config.load(self.config_path)
        wanted_set = self.settings.get("problem_set")
        self.workbench = Workbench(
            db_path=Path(db_path) if db_path else locations.default_db_path(),
            model=model or str(self.settings.get("model") or DEFAULT_MODEL),
            problem_set=problem_set,
            problem_set_name=wanted_set if isinstance(wanted_set, str) else None,
            executor_options=executor_options,
            create_backend=self._create_backend,
            on_backend=self._post_backend_changed,
            n_gpu_layers=layers if isinstance(layers := self.settings.get("n_gpu_layers"), int) and layers >= -1 else 0,
        )
        self.exit_after_first_frame = exit_after_first_frame
        self.theme_specs: dict[str, Any] = {}
        self.theme_errors: list[str] = []
        self.pass_rates: dict[str, tuple[float | None, float | None]] = {}
        # Screens that care about the model's state subscribe; the app publishes every change.
        self.backend_signal: Signal[BackendChanged] = Signal(self, "backend")
        self.last_single_params: Any = None  # the generate form's last values (one problem)
        self.last_eval_request: Any = None  # and for a new eval on the dashboard
        self.last_svg: Path | None = None  # the last screen saved by F12
        self._load_themes()

    # -- the workbench's state, read by name ---------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.workbench.db_path

    @property
    def executor_options(self) -> dict:
        return self.workbench.executor_options

    @property
    def model(self) -> str:
        return self.workbench.model

    @model.setter
    def model(self, model: str) -> None:
        self.workbench.model = model

    @property
    def backend_state(self) -> BackendState:
        return self.workbench.backend_state

    @property
    def _backend(self) -> Any:
        return self.workbench.backend

    @property
    def problem_set(self):
        return self.workbench.problem_set

    # -- problems, themes, config ------------------------------------------------------
    def set_problem_set(self, name: str) -> bool:
        """Switch the browsed and evaluated set (saved in the config); refused while a run is going."""
        if self.running_sessions():
            self.notify("a run is going: switch the problem set when it is done", severity="warning")
            return False
        problem_set = self.workbench.switch_problem_set(name)
        self.save_setting(problem_set=name)
        self.notify(f"problem set: {name} ({len(problem_set)} problems, version {problem_set.version})")
        return True

    def _load_themes(self) -> None:
        from pycodex.tui.themes import DEFAULT_THEME, load_themes

        specs, errors = load_themes(self.theme_dirs)
        self.theme_errors = errors
        for spec in specs:
            try:
                self.register_theme(spec.to_textual())
            except Exception as exc:
                self.theme_errors.append(f"theme {spec.name}: {exc}")
                continue
            self.theme_specs[spec.name] = spec
        wanted = self.settings.get("theme")
        if isinstance(wanted, str) and wanted in self.available_themes:
            self.theme = wanted
        elif DEFAULT_THEME in self.available_themes:
            self.theme = DEFAULT_THEME

    @property
    def code_style(self) -> str:
        spec = self.theme_specs.get(self.theme)
        if spec is not None:
            return spec.pygments_style
        return "monokai" if self.current_theme.dark else "friendly"

    def save_setting(self, **changes: Any) -> None:
        self.settings.update(changes)
        try:
            values = user_config.load(self.config_path)
            values.update(changes)
            user_config.save(values, self.config_path)
        except OSError as exc:
            self.notify(f"could not save settings to {self.config_path}: {exc}", severity="warning")

    def _on_theme_changed(self, theme) -> None:
        if self.settings.get("theme") != theme.name:
            self.save_setting(theme=theme.name)

    # -- lifecycle ---------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        from pycodex.tui.screens.browser import BrowserScreen

        return BrowserScreen()

    def on_mount(self) -> None:
        self._update_subtitle()
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)
        for message in self.theme_errors:
            self.notify(message, title="Theme skipped", severity="warning", timeout=8)
        if self.exit_after_first_frame:
            self.call_after_refresh(self.exit)
            return
        self.refresh_pass_rates()
        self._warm_imports()
        if self.initial_problem is not None:
            self._open_initial_problem(self.initial_problem)

    def _open_initial_problem(self, ident: str) -> None:
        from pycodex.errors import UserError
        from pycodex.tui.screens.problem import ProblemScreen

        try:
            problem = self.problem_set.get(ident)
        except UserError as exc:
            self.notify(str(exc), title="No such problem", severity="warning", timeout=8)
            return
        self.push_screen(ProblemScreen(problem))

    @work(thread=True, group="warm", exit_on_error=False)
    def _warm_imports(self) -> None:
        # numpy (pass@k) and difflib are used on the UI thread later; pay their import cost now, off it.
        import difflib  # noqa: F401

        import pycodex.metrics  # noqa: F401

    @work(thread=True, group="rates", exclusive=True, exit_on_error=False)
    def refresh_pass_rates(self) -> None:
        from pycodex.tui import data

        try:
            rates = data.pass_rates(self.db_path)
        except Exception as exc:
            self.call_from_thread(self.notify, f"run store unreadable: {exc}", severity="warning")
            return
        self.call_from_thread(self._set_pass_rates, rates)

    def _set_pass_rates(self, rates) -> None:
        if rates == self.pass_rates:
            return
        self.pass_rates = rates
        for screen in self.screen_stack:
            handler = getattr(screen, "pass_rates_changed", None)
            if handler:
                handler()

    # -- model / backend ---------------------------------------------------------------
    @property
    def model_label(self) -> str:
        return self.workbench.model_label

    def running_sessions(self) -> list:
        return self.workbench.running_sessions()

    def set_model(self, model: str) -> None:
        """Switch model; loading starts at once in a worker (input never blocks). The choice is
        saved in the config once the model has loaded; a model that fails to load is not kept."""
        if model != self.model and self.running_sessions():
            self.notify("a run is using the model: cancel it (Esc) before switching", severity="warning")
            return
        previous, self.model = self.model, model
        self._update_subtitle()
        self.preload_backend(model, previous)

    @work(thread=True, group="backend", exclusive=False, exit_on_error=False)
    def preload_backend(self, model: str, previous: str) -> None:
        try:
            self.workbench.acquire_backend()
        except Exception:
            # the workbench reported it; go back to the model that worked.
            if self.model == model and previous != model:
                self.call_from_thread(self._revert_model, previous)
            return
        if self.model == model:
            self.call_from_thread(self.save_setting, model=model)

    def set_gpu_layers(self, layers: int) -> None:
        """A llama model's GPU offload (-1: every layer, 0: CPU), saved in the config (n_gpu_layers);
        a llama model loads again with it (in a worker)."""
        if layers == self.workbench.n_gpu_layers:
            return
        if self.running_sessions():
            self.notify("a run is using the model: cancel it (Esc) before changing the GPU offload", severity="warning")
            return
        self.workbench.n_gpu_layers = layers
        self.save_setting(n_gpu_layers=layers)
        self._update_subtitle()
        if BackendSpec.parse(self.model).kind == "llama":
            self.preload_backend(self.model, self.model)

    def _revert_model(self, model: str) -> None:
        self.model = model
        self._update_subtitle("previous model kept")

    def _create_backend(self, model: str):
        """The backend of a model string (a test's app adds kinds of its own here)."""
        return self.workbench.spec_of(model).create(problem_set=self.problem_set)

    def _post_backend_changed(self, label: str, state: BackendState, error: str | None) -> None:
        """The workbench's news of the backend (from any thread), as a message."""
        self.post_message(BackendChanged(label, state, error=error))

    def _update_subtitle(self, state: str = "") -> None:
        gpu = " · GPU" if self.workbench.n_gpu_layers and BackendSpec.parse(self.model).kind == "llama" else ""
        self.sub_title = f"model: {self.model_label}{gpu}" + (f" ({state})" if state else "")

    def on_backend_changed(self, message: BackendChanged) -> None:
        self._update_subtitle({BackendState.LOADING: "loading…", BackendState.FAILED: "failed to load"}.get(message.state, ""))
        quiet = BackendSpec.parse(self.model).is_replay
        if quiet and message.state != BackendState.FAILED:
            pass  # replay backends load instantly: no noise
        elif message.state == BackendState.LOADING:
            self.notify(f"loading {message.label}…", title="Model", timeout=3)
        elif message.state == BackendState.READY:
            self.notify(f"{message.label} ready", title="Model", timeout=3)
            for warning in getattr(self._backend, "warnings", ()):  # a server without log-probs, an endpoint down
                self.notify(warning, title="Server", severity="warning", timeout=10)
        else:
            self.notify(f"{message.label}: {message.error}", title="Model failed", severity="error", timeout=10)
        self.backend_signal.publish(message)

    # -- actions -----------------------------------------------------------------------
    async def action_quit(self) -> None:
        """Cancel running pipelines and wait for their threads to let go of the model (it is
        native code: closing it under a running generation would crash), then exit."""
        import asyncio
        import time

        sessions = self.running_sessions()
        for session in sessions:
            session.cancel()
        deadline = time.monotonic() + 10.0
        while any(not s.finished.is_set() for s in sessions) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        self.exit()

    def action_help(self) -> None:
        from pycodex.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_pick_model(self) -> None:
        from pycodex.tui.screens.model_picker import ModelPicker

        def chosen(model: str | None) -> None:
            if model:
                self.set_model(model)

        self.push_screen(ModelPicker(self.model, gpu=self.workbench.n_gpu_layers != 0), chosen)

    def action_pick_problem_set(self) -> None:
        from pycodex.tui.screens.problem_set_picker import ProblemSetPicker

        def chosen(name: str | None) -> None:
            if name and name != self.problem_set.name and self.set_problem_set(name):
                from pycodex.tui.screens.browser import BrowserScreen

                for screen in self.screen_stack:
                    if isinstance(screen, BrowserScreen):
                        screen.problem_set_changed()

        self.push_screen(ProblemSetPicker(self.problem_set.name or ""), chosen)

    def action_runs(self) -> None:
        from pycodex.tui.screens.runs import RunsScreen

        self.push_screen(RunsScreen(workbench=self.workbench))

    def action_dashboard(self) -> None:
        from pycodex.tui.screens.dashboard import DashboardScreen

        self.push_screen(DashboardScreen(workbench=self.workbench))

    def action_save_svg(self) -> None:
        """The current screen as an SVG file in the data folder's screenshots/ (a demo's handout)."""
        import time

        folder = locations.screenshots_dir()
        name = f"pycodex-{type(self.screen).__name__.removesuffix('Screen').lower()}-{time.strftime('%Y%m%d-%H%M%S')}-{int(time.time() * 1000) % 1000:03d}.svg"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = self.save_screenshot(filename=name, path=str(folder))
        except OSError as exc:
            self.notify(f"could not save the screen: {exc}", severity="error")
            return
        self.last_svg = Path(path)
        self.notify(f"screen saved as {path}", title="SVG")

    def action_versus(self) -> None:
        from pycodex.tui.screens.versus import VersusScreen

        self.push_screen(VersusScreen(self.workbench))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Pick model", "Bundled Gemma, another GGUF file, or canonical replay", self.action_pick_model)
        yield SystemCommand("Problem set", "HumanEval, EvalPlus's HumanEval+ and MBPP+, or the paper's chains", self.action_pick_problem_set)
        yield SystemCommand("Run dashboard", "Start a full HumanEval eval and watch it fill in", self.action_dashboard)
        yield SystemCommand("Versus", "Two models, or two temperatures, on the same problems side by side (V)", self.action_versus)
        yield SystemCommand("Run history", "Open a stored run", self.action_runs)
        yield SystemCommand("Key bindings", "Show every key binding", self.action_help)
        yield SystemCommand("Save screen as SVG", "The current screen as an SVG file (F12), to share a demo", self.action_save_svg)

    def on_unmount(self) -> None:
        self.workbench.close()


def _log_path() -> Path:
    try:
        directory = locations.cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        return directory / "tui.log"
    except OSError:
        import tempfile

        return Path(tempfile.gettempdir()) / "pycodex-tui.log"


def run_app(**kwargs: Any) -> None:
    """Open the app. Native libraries (llama.cpp, ggml) log to fd 2, where Textual draws: while
    the app runs, fd 2 goes to a log file and Textual draws on a duplicate of the terminal."""
    import logging

    from pycodex.generation.llama.native import load_llama_first

    load_llama_first()  # llama.cpp's libraries before numpy's: the model loads in a worker later
    exit_now = os.environ.get("PYCODEX_TUI_EXIT_AFTER_FIRST_FRAME") == "1"
    app = PycodexApp(exit_after_first_frame=exit_now, **kwargs)
    if not sys.stderr.isatty() or exit_now:
        app.run()
        return
    log_path = _log_path()
    saved_fd = os.dup(2)
    saved_streams = (sys.__stderr__, sys.stderr)
    log = open(log_path, "a", encoding="utf-8")
    # The server backend's notes (an endpoint dropped or back) go to the log file, not over the screen.
    logging.getLogger("pycodex").addHandler(logging.StreamHandler(log))
    terminal = os.fdopen(os.dup(saved_fd), "w", encoding="utf-8", errors="replace", buffering=1)
    try:
        sys.__stderr__ = terminal  # type: ignore[misc]
        sys.stderr = terminal
        os.dup2(log.fileno(), 2)
        app.run()
    finally:
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        sys.__stderr__, sys.stderr = saved_streams  # type: ignore[misc]
        terminal.close()
        log.close()
    if app.return_code not in (0, None):
        print(f"pycodex: the TUI stopped with an error; native library output is in {log_path}", file=sys.stderr)
        sys.exit(app.return_code or 1)
