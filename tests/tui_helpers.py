"""Helpers shared by the TUI tests: an injectable app, a slow fake backend, waiting for state."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from pycodex import locations
from pycodex.generation.base import FINISH_EOS, SampleFinished, TextDelta
from pycodex.tui.app import PycodexApp

# fib (HumanEval/55): one right, one wrong, one that does not parse, one that raises.
FIB_SAMPLES = [
    "    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "    return n\n",
    "    return fib(n-1) +\n",
    "    raise ValueError('nope')\n",
]


def write_samples_file(directory: Path, task_id: str = "HumanEval/55", completions=FIB_SAMPLES) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "fib_samples.jsonl"
    path.write_text("".join(json.dumps({"task_id": task_id, "completion": c}) + "\n" for c in completions))
    return path


class SlowBackend:
    """Streams a canonical-looking answer a token at a time, slowly (for cancel tests)."""

    name = "slow"

    def __init__(self, delay: float = 0.05):
        self.delay = delay
        self.closed = False

    def generate(self, prompt, params, task_id=None):
        for index in range(params.n):
            started = time.perf_counter()
            text = ""
            for token in ["    return", " n", "\n"] * 200:
                time.sleep(self.delay)
                text += token
                yield TextDelta(index, token)
            yield SampleFinished(index, text, FINISH_EOS, 600, -60.0, -0.1, time.perf_counter() - started)

    def describe(self):
        return {"kind": "slow"}

    def close(self):
        self.closed = True


class PilotApp(PycodexApp):
    """The real app with one more model kind, `slow`, for tests only."""

    def _create_backend(self, model: str):
        if model == "slow":
            return SlowBackend()
        return super()._create_backend(model)


def make_app(tmp_path: Path, model: str = "canonical", user_themes: Path | None = None, **kwargs) -> PilotApp:
    themes = [locations.builtin_themes_dir()]
    if user_themes is not None:
        themes.append(user_themes)
    kwargs.setdefault("executor_options", {"timeout": 3.0, "workers": 2})
    return PilotApp(
        db_path=tmp_path / "runs.sqlite3",
        config_path=tmp_path / "config" / "config.toml",
        theme_dirs=themes,
        model=model,
        **kwargs,
    )


def async_test(fn):
    """Run an async test function with asyncio (no pytest-asyncio needed)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


async def wait_for(pilot, condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.05)
    await pilot.pause()


def run_done(screen) -> bool:
    return getattr(screen, "status", None) in ("finished", "failed", "cancelled")


def screen_text(app) -> str:
    """What the terminal shows now (the current screen, as plain text lines)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)


__all__ = ["async_test", "make_app", "wait_for", "run_done", "screen_text", "write_samples_file", "SlowBackend", "PilotApp"]
