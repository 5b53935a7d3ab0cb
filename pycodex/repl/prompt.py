"""The terminal front end: a prompt_toolkit prompt over a Repl (history, multi-line input,
highlighting, completion, a bottom toolbar). Thin: every decision is in commands.py and session.py."""

from __future__ import annotations

import sys
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.lexers import PygmentsLexer
from pygments.lexers.python import PythonLexer

from pycodex.errors import UserError
from pycodex.repl.commands import COMMANDS, COMMANDS_BY_NAME, Repl, is_complete
from pycodex.repl.settings import FIELDS

PROMPT = "pycodex> "
CONTINUATION = "...      "


class ReplCompleter(Completer):
    """Command names after `/`; problem numbers, ids and entry points after /open; setting names after /set."""

    def __init__(self, repl: Repl):
        self.repl = repl

    def get_completions(self, document, complete_event):
        text = document.text_before_cursor
        if "\n" in text or not text.startswith("/"):
            return
        if " " not in text:
            for name in sorted(COMMANDS_BY_NAME):
                if name.startswith(text[1:]):
                    yield Completion("/" + name, start_position=-len(text))
            return
        command, _, rest = text[1:].partition(" ")
        word = rest.rsplit(" ", 1)[-1]
        for candidate in self._arguments(command.lower(), rest):
            if candidate.lower().startswith(word.lower()):
                yield Completion(candidate, start_position=-len(word))

    def _arguments(self, command: str, rest: str) -> list[str]:
        if command in ("open", "problem") and " " not in rest:
            problems = self.repl.session.problem_set
            return [p.task_id for p in problems] + sorted({p.entry_point for p in problems})
        if command == "set" and " " not in rest:
            return list(FIELDS)
        if command == "diff":
            return ["side"]
        return []


def _key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("enter")
    def _(event) -> None:
        buffer = event.current_buffer
        if buffer.complete_state is not None and buffer.complete_state.current_completion is not None:
            buffer.apply_completion(buffer.complete_state.current_completion)
            return
        if is_complete(buffer.text) and buffer.document.is_cursor_at_the_end:
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    @bindings.add("escape", "enter")
    def _(event) -> None:  # Alt-Enter / Esc Enter: run the block as it is
        event.current_buffer.validate_and_handle()

    return bindings


def _toolbar(repl: Repl) -> str:
    session = repl.session
    subject = getattr(session.subject, "task_id", None) or getattr(session.subject, "entry_point", None) or "no problem open"
    state = "" if session.backend_ready else f" ({session.backend_state})"
    return f" {session.spec.label}{state} │ {session.settings.line()} │ {subject} │ /help"


def run(repl: Repl, history_file: Path) -> int:
    """Prompt until Ctrl-D or /quit; every error is one line and the prompt comes back."""
    history_file.parent.mkdir(parents=True, exist_ok=True)
    prompt: PromptSession = PromptSession(
        history=FileHistory(str(history_file)),
        multiline=True,
        key_bindings=_key_bindings(),
        lexer=PygmentsLexer(PythonLexer),
        completer=ReplCompleter(repl),
        complete_while_typing=False,
        bottom_toolbar=lambda: _toolbar(repl),
        prompt_continuation=lambda width, line_number, wrap_count: CONTINUATION,
    )
    repl.console.print(f"pycodex repl · {len(COMMANDS)} commands, /help lists them · a docstring with >>> examples is solved · Ctrl-D quits")
    while True:
        try:
            text = prompt.prompt(PROMPT)
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt clears the line
        except EOFError:
            return 0
        try:
            if not repl.execute(text):
                return 0
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr, flush=True)
