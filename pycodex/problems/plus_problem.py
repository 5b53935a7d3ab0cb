"""An EvalPlus task as a Problem whose tests are built on first use.

Building a task's tests needs its expected outputs (shipped, pycodex/problems/expected.py) and its
inputs' CPU times on this machine (measured once in the sandbox, pycodex/problems/cpu_times.py):
commands that only show problems (`problems list`, `problems show`, the TUI's browser) never pay
for them. `test`, `base_test`, `plus_test` and `cpu_limits` are built when first read, by the
set's source (evalplus.PlusSource), which builds many at once in `prepare()`; everything else a
Problem has (prompt, entry point, canonical solution, input counts) is known at load.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pycodex.problems.problem import Problem


class PlusProblem(Problem):
    """A Problem of an EvalPlus set; dataclasses.replace() on it gives a plain Problem with its tests."""

    _source: Any  # evalplus.PlusSource: builds the tests
    _counts: tuple[int, int]  # the release's base and plus inputs

    def __new__(cls, *args, **kwargs):
        if args or kwargs:  # every field given (dataclasses.replace): an ordinary Problem
            return Problem(*args, **kwargs)
        return super().__new__(cls)

    def __init__(self, *args, **kwargs) -> None:  # (of() sets the fields)
        pass

    @classmethod
    def of(cls, row: dict, prompt: str, source) -> "PlusProblem":
        self = cls()
        for name, value in (("task_id", row["task_id"]), ("prompt", prompt), ("entry_point", row["entry_point"]),
                            ("canonical_solution", row["canonical_solution"]), ("_source", source),
                            ("_counts", (len(row["base_input"]), len(row["plus_input"])))):
            object.__setattr__(self, name, value)
        return self

    def __repr__(self) -> str:
        return f"PlusProblem(task_id={self.task_id!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, PlusProblem) and (other._source, other.task_id) == (self._source, self.task_id)

    def __hash__(self) -> int:
        return hash(("PlusProblem", self.task_id))

    @cached_property
    def _tests(self) -> tuple:
        return self._source.tests(self.task_id)

    @cached_property
    def test(self) -> str:
        return self._tests[0]

    @cached_property
    def base_test(self) -> str:
        return self._tests[1]

    @cached_property
    def plus_test(self) -> str:
        return self._tests[2]

    @cached_property
    def cpu_limits(self) -> tuple[float, float]:
        return self._tests[3]

    @cached_property
    def canonical_seconds(self) -> float:
        """CPU seconds the canonical solution spends on its slow inputs here: what judging a
        passing sample costs, about (the executor's callers start the costliest first)."""
        return self._source.canonical_seconds(self.task_id)

    @property
    def assert_count(self) -> int:
        """The base inputs (HumanEval's own checks, MBPP's tests)."""
        return self._counts[0]

    @property
    def extra_inputs(self) -> int:
        """The release's plus inputs."""
        return self._counts[1]

    @property
    def has_base_test(self) -> bool:
        return True

    @property
    def test_view(self) -> str:
        return self._source.test_view(self.task_id)

    def view_row(self) -> dict:
        return {"task_id": self.task_id, "prompt": self.prompt, "entry_point": self.entry_point,
                "canonical_solution": self.canonical_solution, "test": self.test_view, "extra_inputs": self.extra_inputs}
