"""`pycodex solve`: write a function from its docstring, the paper's way.

Sample many completions of a Codex-style prompt, run the docstring's own `>>>` examples
against each in the sandbox (the paper's filtering by stated examples, section 3.5), and
rank by (examples passed, mean token log-probability) (Figure 7's best heuristic).

Headless: the CLI renders the callbacks; nothing here prints.
"""

from __future__ import annotations

import ast
import builtins
import doctest
import re
import textwrap
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from pycodex.errors import UserError
from pycodex.generation.base import Backend, SampleFinished, SamplingParams, sample_field
from pycodex.problems.problem import Problem

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FALLBACK_ARGS = ("x", "y", "z")
EXAMPLE_TIMEOUT = 3.0  # seconds per example run, as the paper's harness allows per program


@dataclass(frozen=True)
class DocExample:
    source: str  # the `>>>` code (an expression, or a statement that sets up later examples)
    want: str  # the expected output as written ('' for a statement)


@dataclass(frozen=True)
class SolveTask:
    prompt: str  # signature + docstring, ending with a newline: what the model continues
    entry_point: str
    docstring: str
    examples: tuple[DocExample, ...]

    @property
    def checks(self) -> list[DocExample]:
        """The examples with an expected value (statements only set up the others)."""
        return [e for e in self.examples if e.want.strip()]


@dataclass
class SolvedSample:
    """A sample and how it did on the examples; the backend's record's fields read through (s.index, s.completion…)."""

    sample: SampleFinished
    examples_passed: int = 0
    examples_total: int = 0
    failures: list[str] = field(default_factory=list)  # one line per failed example

    def __getattr__(self, name: str) -> Any:
        return sample_field(self, name)

    def to_dict(self) -> dict:
        fields = {k: v for k, v in self.sample.to_dict().items() if k != "raw"}
        return fields | {"examples_passed": self.examples_passed, "examples_total": self.examples_total, "failures": list(self.failures)}


@dataclass
class SolveResult:
    task: SolveTask
    samples: list[SolvedSample]  # ranked, best first
    params: SamplingParams
    seconds: float
    backend: dict
    judge: str = "strict"  # which judge ran the examples
    stopped: bool = False  # stopped before every sample was judged: `samples` holds those that were

    @property
    def best(self) -> SolvedSample:
        return self.samples[0]

    def to_dict(self) -> dict:
        return {
            "entry_point": self.task.entry_point,
            "prompt": self.task.prompt,
            "examples": [asdict(e) for e in self.task.checks],
            "best": {**self.best.to_dict(), "code": self.task.prompt + self.best.completion},
            "samples": [s.to_dict() for s in self.samples],
            "params": self.params.to_dict(),
            "seconds": round(self.seconds, 3),
            "backend": self.backend,
            "judge": self.judge,
        }


# --- turning the user's text into a prompt ----------------------------------------------------------


def parse_examples(docstring: str) -> tuple[DocExample, ...]:
    try:
        found = doctest.DocTestParser().get_examples(docstring)
    except ValueError as exc:
        raise UserError(f"bad >>> example in the docstring: {exc}") from None
    return tuple(DocExample(e.source.strip(), e.want.strip()) for e in found)


def _looks_like_stub(text: str) -> bool:
    return re.search(r"^\s*(async\s+)?def\s", text, re.M) is not None


def parse_task(text: str, name: str | None = None) -> SolveTask:
    """A full stub (def + docstring) or a bare docstring with `>>>` examples -> a SolveTask."""
    if not text.strip():
        raise UserError("nothing to solve: give a docstring (with >>> examples) or a function stub")
    if name is not None and not IDENTIFIER.fullmatch(name):
        raise UserError(f"--name must be a Python identifier (got {name!r})")
    return _parse_stub(text, name) if _looks_like_stub(text) else _parse_docstring(text, name)


def _parse_stub(text: str, name: str | None) -> SolveTask:
    text = textwrap.dedent(text.expandtabs(4))
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise UserError(f"could not parse the stub: {exc.msg} (line {exc.lineno})") from None
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if name:
        functions = [f for f in functions if f.name == name]
        if not functions:
            raise UserError(f"the stub has no function named {name!r}")
    documented = [f for f in functions if ast.get_docstring(f) is not None]
    if not documented:
        raise UserError("the stub's function has no docstring: write what it should do in a docstring")
    function = documented[-1]
    docstring = ast.get_docstring(function) or ""
    if not docstring.strip():
        raise UserError("the stub's docstring is empty: write what the function should do")
    lines = text.splitlines()
    doc_node = function.body[0]
    # The prompt is everything up to the end of the function's docstring (a body after it is dropped).
    prompt = "\n".join(lines[: doc_node.end_lineno]) + "\n"
    return SolveTask(prompt=prompt, entry_point=function.name, docstring=docstring, examples=parse_examples(docstring))


_ASSERT_EQUAL = re.compile(r"^(\s*)assert\s+(.+?)\s*==\s*(.+?)\s*$", re.M)


def _parse_docstring(text: str, name: str | None) -> SolveTask:
    if "\n" not in text and "\\n" in text:
        text = text.replace("\\n", "\n")  # a one-line shell argument with literal \n
    if text.strip()[:3] in ("'''", '"""'):  # MBPP's prompt, quotes and all
        text = text.strip()[3:-3]
    text = _ASSERT_EQUAL.sub(r"\1>>> \2\n\1\3", text)  # MBPP's `assert f(x) == y`: the example f(x) -> y
    docstring = textwrap.dedent(text).strip().replace('"""', '\\"\\"\\"')
    if not docstring or docstring.startswith(">>>"):
        raise UserError('the docstring needs a sentence saying what the function does, e.g. "Return the n-th Fibonacci number."')
    examples = parse_examples(docstring)
    calls = [_first_call(e.source) for e in examples]
    called = [c.func.id for c in calls if c is not None and isinstance(c.func, ast.Name)]
    entry_point = name or (called[0] if called else None)
    if entry_point is None:
        raise UserError(
            "cannot tell the function's name: add an example such as `>>> fib(10)` then its result on the next line, or pass --name NAME"
        )
    own_calls = [c for c in calls if c is not None and isinstance(c.func, ast.Name) and c.func.id == entry_point]
    signature = _signature(own_calls[0] if own_calls else None, docstring)
    body = "\n".join(("    " + line).rstrip() for line in docstring.splitlines())
    prompt = f'def {entry_point}({signature}):\n    """ {body.lstrip()}\n    """\n'
    return SolveTask(prompt=prompt, entry_point=entry_point, docstring=docstring, examples=examples)


def _first_call(source: str) -> ast.Call | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not hasattr(builtins, node.func.id):
            return node  # the first call of a non-builtin: `sorted(f(x))` calls f
    return None


def _signature(call: ast.Call | None, docstring: str) -> str:
    """Parameter names for a bare docstring: keywords from the example, else single-letter names it mentions."""
    if call is None:
        return "*args"
    mentioned = _mentioned_variables(docstring.split(">>>")[0])
    names: list[str] = []
    for position in range(len(call.args)):
        pool = [m for m in mentioned if m not in names] or [a for a in _FALLBACK_ARGS if a not in names]
        names.append(pool[0] if pool else f"arg{position}")
    names += [kw.arg for kw in call.keywords if kw.arg]
    return ", ".join(names)


def _mentioned_variables(sentence: str) -> list[str]:
    """Single lowercase letters the text uses as names ("the sum of a and b" -> a, b; "a list" -> none)."""
    names = []
    for match in re.finditer(r"(?<![\w'-])([a-z])(?![\w'])", sentence):
        letter = match.group(1)
        following = sentence[match.end() :].lstrip()
        if letter == "a" and not (following[:1] in ("", ",", ".", ")", ";", ":") or re.match(r"(and|or|is|are|to|by|with|plus|minus|times)\b", following)):
            continue  # the article
        if letter not in names:
            names.append(letter)
    return names


# --- checking samples against the examples ---------------------------------------------------------


def example_problems(task: SolveTask) -> list[Problem]:
    """One synthetic Problem per checked example: its test's check(candidate) asserts that one result."""
    problems: list[Problem] = []
    setup: list[str] = []
    for example in task.examples:
        if not example.want.strip():
            setup.append(example.source)
            continue
        problems.append(
            Problem(
                task_id=f"solve/{len(problems)}",
                prompt=task.prompt,
                entry_point=task.entry_point,
                canonical_solution="",
                test=_check_source(task.entry_point, setup, example),
            )
        )
    return problems


def _check_source(entry_point: str, setup: list[str], example: DocExample) -> str:
    lines = ["def check(candidate):", f"    {entry_point} = candidate"]
    lines += [textwrap.indent(s, "    ") for s in setup]
    message = f"{example.source} should give {example.want}"
    try:
        ast.literal_eval(example.want)
        comparison = f"({example.source}) == ({example.want})"
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        comparison = f"repr({example.source}) == {example.want!r}"
    lines.append(f"    assert {comparison}, {message!r}")
    return "\n".join(lines) + "\n"


# --- running it all ----------------------------------------------------------------------------------

SolveListener = Callable[[object], None]


@dataclass(frozen=True)
class ExampleChecked:
    """An event for live displays: one sample's examples are all judged."""

    index: int
    passed: int
    total: int


def rank(samples: list[SolvedSample]) -> list[SolvedSample]:
    """Most examples passed first, then highest mean log-probability, then sample order."""
    return sorted(samples, key=lambda s: (-s.examples_passed, -s.mean_logprob, s.index))


def solve(
    task: SolveTask,
    backend: Backend,
    params: SamplingParams,
    *,
    executor=None,
    on_event: SolveListener | None = None,
    judge: str = "strict",
    stop: threading.Event | None = None,
) -> SolveResult:
    """Generate params.n samples, judge each against every example (as they finish), rank them.

    on_event receives the backend's TextDelta/SampleFinished events and ExampleChecked.
    stop: once set (from another thread), generation ends and the samples already judged are
    ranked; the others are dropped (`SolveResult.stopped`).
    """
    params.validate()
    started = time.perf_counter()
    problems = example_problems(task)
    own_executor = executor is None and bool(problems)
    if own_executor:
        from pycodex.execution import Executor

        executor = Executor(timeout=EXAMPLE_TIMEOUT, judge=judge)
    notify = on_event or (lambda event: None)
    samples: dict[int, SolvedSample] = {}
    futures: dict[int, list] = {}
    try:
        stream = backend.generate(task.prompt, params, task_id=None)
        for event in stream:
            if stop is not None and stop.is_set():
                break
            notify(event)
            if isinstance(event, SampleFinished):
                samples[event.index] = SolvedSample(event, examples_total=len(problems))
                futures[event.index] = [executor.submit(p, event.completion) for p in problems]
                _collect_ready(samples, futures, notify)
        if stop is not None and stop.is_set():
            close_stream = getattr(stream, "close", None)
            if close_stream is not None:
                close_stream()
            _collect_ready(samples, futures, notify)
            for index, pending in list(futures.items()):  # generated but not judged: dropped
                for future in pending:
                    future.cancel()
                del futures[index], samples[index]
        else:
            _collect_ready(samples, futures, notify, wait=True)
    finally:
        if own_executor:
            executor.close()
    stopped = stop is not None and stop.is_set()
    missing = [i for i in range(params.n) if i not in samples]
    if missing and not stopped:
        raise RuntimeError(f"the backend finished without samples {missing}")
    return SolveResult(
        task=task,
        samples=rank(list(samples.values())),
        params=params,
        seconds=time.perf_counter() - started,
        backend=_describe(backend),
        judge=getattr(executor, "judge", judge),
        stopped=stopped,
    )


def _collect_ready(samples: dict[int, SolvedSample], futures: dict[int, list], notify: SolveListener, wait: bool = False) -> None:
    for index in list(futures):
        pending = futures[index]
        if not wait and not all(f.done() for f in pending):
            continue
        sample = samples[index]
        for future in pending:
            verdict = future.result()
            if verdict.passed:
                sample.examples_passed += 1
            else:
                sample.failures.append(verdict.detail or verdict.status)
        del futures[index]
        notify(ExampleChecked(index, sample.examples_passed, sample.examples_total))


def _describe(backend: Backend) -> dict:
    try:
        return backend.describe()
    except Exception:  # describing is best effort: a missing checksum must not lose the answer
        return {"kind": getattr(backend, "name", "?")}
