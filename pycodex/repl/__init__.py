"""`pycodex repl`: one prompt to ask, generate, judge and explore, with the model kept warm.

Layout: settings.py (what /set changes), work.py (the long jobs: a problem's samples judged, a small
eval), session.py (the warm backend and executor, the problem in hand, the samples), commands.py
(one input in, rich output out), render.py (the renderables), live.py (the live view), prompt.py
(the prompt_toolkit front end), script.py (commands from a pipe). See docs/repl.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pycodex.problems.problem import ProblemSet
from pycodex.repl.session import Options
from pycodex.repl.settings import Settings

HISTORY_FILE = "repl_history"


def history_path() -> Path:
    from pycodex import locations

    return locations.data_dir() / HISTORY_FILE


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def run(problem_set: ProblemSet, options: Options = Options(), settings: Settings = Settings()) -> int:
    """The REPL on this process's terminal (or on a script from stdin); its exit status."""
    from rich.console import Console

    from pycodex.repl.commands import Repl
    from pycodex.repl.session import Session

    session = Session(problem_set, options, settings)
    terminal = interactive()
    console = Console(highlight=False) if terminal else Console(highlight=False, no_color=True, width=100)
    repl = Repl(session, console, live=terminal, open_tui=_open_tui if terminal else None)
    try:
        if terminal:
            from pycodex.repl import prompt

            session.warm_up()
            return prompt.run(repl, history_path())
        from pycodex.repl import script

        return script.run(repl, sys.stdin)
    finally:
        session.close()


def _open_tui(task_id: str) -> None:
    """The TUI in its own process on this terminal (textual stays out of the REPL's)."""
    subprocess.run([sys.executable, "-m", "pycodex", "tui", "--problem", task_id], env=os.environ.copy(), check=False)


__all__ = ["Options", "Settings", "run", "history_path"]
