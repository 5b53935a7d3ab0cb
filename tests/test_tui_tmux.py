"""The real program in a real terminal (tmux): a versus of the default model with itself at T 0.2
and T 0.8 on three problems, keys typed as a user types them, then `q`: a clean exit, no traceback."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time

import pytest

from conftest import pycodex_exe

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """One tmux server of our own (its own socket: no other session is touched)."""

    def __init__(self, name: str, width: int, height: int):
        self.base = ["tmux", "-L", name, "-f", "/dev/null"]
        self.size = (width, height)

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=30, check=True).stdout

    def start(self, command: str) -> None:
        self("new-session", "-d", "-s", "t", "-x", str(self.size[0]), "-y", str(self.size[1]), command)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self("send-keys", "-t", "t", key)
            time.sleep(0.15)

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "t")

    def wait_for(self, text: str, timeout: float = 60, exit_file=None) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if exit_file is not None and exit_file.exists():
                raise AssertionError(f"the program ended (exit status {exit_file.read_text().strip()}) before {text!r}:\n{self.screen()}")
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.25)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{self.screen()}")

    def kill(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, timeout=30)


def test_versus_of_two_temperatures_in_tmux_quits_clean(tmp_path):
    tmux = Tmux(f"pycodex-test-{os.getpid()}", 80, 24)  # a projector's size
    exit_file = tmp_path / "exit"
    env = " ".join(f"{k}={shlex.quote(os.environ[k])}" for k in ("PYCODEX_DATA_DIR", "PYCODEX_CONFIG_DIR", "PATH") if k in os.environ)
    program = " ".join(shlex.quote(part) for part in pycodex_exe())
    tmux.start(f"env {env} TERM=xterm-256color {program}; echo $? > {exit_file}; sleep 600")
    try:
        tmux.wait_for("Filter")
        tmux.keys("V")
        tmux.wait_for("A temperature")
        # The form starts with the app's model (the bundled default) at T 0.2 and T 0.8 on 0-2.
        tmux.keys("Tab", "Tab", "Tab", "Tab", "Tab", "C-u", "2", "Tab", "C-u", "24", "Enter")
        screen = tmux.wait_for("[finished]", timeout=400, exit_file=exit_file)
        assert "6/6 judged" in screen and "B - A [95% paired]" in screen and "pass@2" in screen
        assert "A T=0.2 Gemma 3 270M" in screen and "B T=0.8 Gemma 3 270M" in screen, screen
        tmux.keys("Enter")  # HumanEval/0: A's and B's samples
        screen = tmux.wait_for("+ sample line")
        assert "HumanEval/0 has_close_elements()" in screen and screen.count("#0") == 2 and screen.count("passed  pass@1") == 2
        tmux.keys("Escape", "Escape", "q")
        deadline = time.monotonic() + 60
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert exit_file.exists(), tmux.screen()
        assert exit_file.read_text().strip() == "0"
        assert "Traceback" not in tmux("capture-pane", "-p", "-S", "-2000", "-t", "t")  # (textual draws on stderr: what it left)
    finally:
        tmux.kill()
