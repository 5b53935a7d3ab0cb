"""The scripted front end: commands from standard input (not a terminal), plain output.

`pycodex repl < demo.txt`: a line starting with `/` is a command; other lines gather into a block
(a docstring or a stub) that runs at the first empty line outside a triple-quoted string, or at
the end of the input: the same rule as Enter at the prompt. Each input is echoed after the prompt,
so the output reads as the session would have on a terminal. A bad input is one line on stderr;
the script goes on and the exit status is 2 if any input was bad.
"""

from __future__ import annotations

import sys
from typing import Iterable, Iterator

from pycodex.errors import UserError
from pycodex.repl.commands import Repl, is_complete
from pycodex.repl.prompt import CONTINUATION, PROMPT


def blocks(lines: Iterable[str]) -> Iterator[str]:
    """The inputs of a script, in order (each without its final newline)."""
    pending: list[str] = []
    for raw in lines:
        pending.append(raw.rstrip("\n"))
        text = "\n".join(pending)
        if is_complete(text):
            if text.strip():
                yield text.rstrip("\n")
            pending = []
    if "\n".join(pending).strip():
        yield "\n".join(pending)


def run(repl: Repl, lines: Iterable[str]) -> int:
    bad = 0
    for text in blocks(lines):
        first, *rest = text.split("\n")
        repl.console.print(PROMPT + first, markup=False, highlight=False)
        for line in rest:
            repl.console.print(CONTINUATION + line, markup=False, highlight=False)
        try:
            if not repl.execute(text):
                break
        except UserError as exc:
            bad += 1
            sys.stdout.flush()
            print(f"error: {exc}", file=sys.stderr, flush=True)
    return 2 if bad else 0
