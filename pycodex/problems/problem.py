"""Problem sets in HumanEval's format: loading, validating and looking problems up.

The named sets (humaneval, humaneval-plus, chains) are in pycodex/problems/sets.py.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Iterable

from pycodex import locations
from pycodex.errors import UserError

REQUIRED_FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "test")
HUMANEVAL_SIZE = 164


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    entry_point: str
    canonical_solution: str
    test: str
    # EvalPlus sets: the base inputs alone (`test` runs them, then the extra inputs); None elsewhere
    base_test: str | None = None
    # EvalPlus sets: the extra inputs alone, and the CPU seconds a sample may use on the base and
    # on the extra inputs (evalplus: min(60, the sum of the inputs' limits) + 1 each)
    plus_test: str | None = None
    cpu_limits: tuple[float, float] | None = None
    # chains: the block numbers (1-13) the docstring chains, in order; None elsewhere
    chain: tuple[int, ...] | None = None

    @property
    def number(self) -> int | None:
        tail = self.task_id.rsplit("/", 1)[-1]
        return int(tail) if tail.isdigit() else None

    @cached_property
    def assert_count(self) -> int:
        return sum(1 for line in self.test.splitlines() if line.strip().startswith("assert"))

    @property
    def cpu_limit(self) -> float | None:
        """The CPU seconds a sample of this test may use (None: the executor's own limit)."""
        return None if self.cpu_limits is None else sum(self.cpu_limits)

    @cached_property
    def extra_inputs(self) -> int:
        """EvalPlus sets: how many inputs the test adds to the base inputs (0 elsewhere)."""
        match = re.search(r"^_PLUS_COUNT = (\d+)$", self.test, re.M)
        return int(match.group(1)) if match else 0

    @cached_property
    def docstring(self) -> str:
        """The prompt's docstring of the entry point (the text a user reads), or ''."""
        match = re.search(r'("""|\'\'\')(.*?)(\1|$)', self.prompt.split(f"def {self.entry_point}", 1)[-1], re.S)
        return match.group(2).strip() if match else ""

    @property
    def has_base_test(self) -> bool:
        """EvalPlus sets (and files exported from them): the base inputs are judged alone too."""
        return self.base_test is not None

    @property
    def test_view(self) -> str:
        """The test as shown to a reader (an EvalPlus task: its base inputs, without the outputs)."""
        return self.test

    @property
    def first_docstring_line(self) -> str:
        for line in self.docstring.splitlines():
            if line.strip():
                return line.strip()
        return ""

    def to_dict(self) -> dict[str, str]:
        return {field: getattr(self, field) for field in REQUIRED_FIELDS}

    def to_row(self) -> dict:
        """The problem as a line of HumanEval's JSONL, with the extra fields its set has."""
        row: dict = self.to_dict()
        if self.base_test is not None:
            row["base_test"] = self.base_test
        if self.chain is not None:
            row["chain"] = list(self.chain)
        return row

    def view_row(self) -> dict:
        """The row as shown to a reader (`problems show --json`): to_row(), or for an EvalPlus task its
        fields with test_view for the test."""
        return self.to_row()

    def base_problem(self) -> "Problem | None":
        """The same problem judged by its base inputs only (None when it has no other test)."""
        if self.base_test is None:
            return None
        limits = None if self.cpu_limits is None else (self.cpu_limits[0], 0.0)
        return replace(self, test=self.base_test, base_test=None, plus_test=None, cpu_limits=limits)

    def plus_problem(self) -> "Problem | None":
        """EvalPlus sets: the same problem judged by its extra inputs only (None elsewhere)."""
        if self.plus_test is None:
            return None
        limits = None if self.cpu_limits is None else (0.0, self.cpu_limits[1])
        return replace(self, test=self.plus_test, base_test=None, plus_test=None, cpu_limits=limits)


class ProblemSet:
    """An ordered, validated set of problems with lookup by id or number."""

    def __init__(self, problems: Iterable[Problem], source: Path | None = None, name: str | None = None, version: str | None = None):
        self.problems = list(problems)
        self.source = source
        self.name = name  # humaneval, humaneval-plus, chains; None for a user's --problems-file
        self.version = version
        self._by_id = {p.task_id: p for p in self.problems}

    def __len__(self) -> int:
        return len(self.problems)

    def __iter__(self):
        return iter(self.problems)

    def __contains__(self, task_id: str) -> bool:
        return task_id in self._by_id

    @property
    def task_ids(self) -> list[str]:
        return [p.task_id for p in self.problems]

    def valid_range(self) -> str:
        if not self.problems:
            return "no problems"
        return f"{self.problems[0].task_id} .. {self.problems[-1].task_id}"

    def resolve_id(self, ident: str) -> str:
        """`HumanEval/12`, `12` or `humaneval/12` -> the canonical task id; unknown -> UserError."""
        ident = ident.strip()
        if ident in self._by_id:
            return ident
        if ident.isdigit():
            for p in self.problems:
                if p.number == int(ident):
                    return p.task_id
        for task_id in self._by_id:
            if task_id.lower() == ident.lower():
                return task_id
        raise UserError(f"unknown task id {ident!r}: valid ids are {self.valid_range()} ({len(self)} problems)")

    def get(self, ident: str) -> Problem:
        return self._by_id[self.resolve_id(ident)]

    def select(self, spec: str | None) -> list[Problem]:
        """`all`, `0-19`, `HumanEval/3,7`, `3,10-12` -> problems in file order (no duplicates)."""
        if spec is None or spec.strip().lower() in ("", "all"):
            return list(self.problems)
        wanted: set[str] = set()
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            range_match = re.fullmatch(r"(?:[\w-]+/)?(\d+)\s*-\s*(?:[\w-]+/)?(\d+)", part)
            if range_match:
                lo, hi = int(range_match.group(1)), int(range_match.group(2))
                if lo > hi:
                    raise UserError(f"bad problem range {part!r}: {lo} > {hi}")
                for number in range(lo, hi + 1):
                    wanted.add(self.resolve_id(str(number)))
            else:
                wanted.add(self.resolve_id(part))
        if not wanted:
            raise UserError(f"bad problem selection {spec!r}: use all, 0-19 or HumanEval/3,7")
        return [p for p in self.problems if p.task_id in wanted]


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _extra_fields(row: dict, path: Path, lineno: int) -> dict:
    """The optional base_test and chain fields of a row, checked."""
    extra: dict = {}
    if row.get("base_test") is not None:
        if not isinstance(row["base_test"], str):
            raise UserError(f"{path}: line {lineno} has a base_test that is not a string")
        extra["base_test"] = row["base_test"]
    if row.get("chain") is not None:
        chain = row["chain"]
        if not isinstance(chain, list) or not all(type(b) is int for b in chain):
            raise UserError(f"{path}: line {lineno} has a chain that is not a list of block numbers")
        extra["chain"] = tuple(chain)
    return extra


def load_problems(path: str | Path | None = None) -> ProblemSet:
    """Load and validate a problems file (JSONL, optionally gzipped). Errors are one line."""
    path = Path(path) if path else locations.problems_file()
    if not path.exists():
        raise UserError(f"problems file not found: {path}")
    problems: list[Problem] = []
    seen: set[str] = set()
    try:
        with _open_text(path) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(f"{path}: line {lineno} is not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise UserError(f"{path}: line {lineno} is not a JSON object")
                missing = [f for f in REQUIRED_FIELDS if not isinstance(row.get(f), str)]
                if missing:
                    raise UserError(f"{path}: line {lineno} lacks field(s) {', '.join(missing)}")
                if row["task_id"] in seen:
                    raise UserError(f"{path}: line {lineno} repeats task id {row['task_id']}")
                seen.add(row["task_id"])
                problems.append(Problem(**{f: row[f] for f in REQUIRED_FIELDS}, **_extra_fields(row, path, lineno)))
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise UserError(f"problems file {path} is unreadable or corrupt: {exc}") from None
    if not problems:
        raise UserError(f"problems file {path} holds no problems")
    return ProblemSet(problems, source=path)


def load_humaneval() -> ProblemSet:
    """The bundled HumanEval set, checked to be all 164 problems."""
    problem_set = load_problems(locations.problems_file())
    problem_set.name, problem_set.version = "humaneval", "1.0.3"
    if len(problem_set) != HUMANEVAL_SIZE:
        raise UserError(
            f"bundled HumanEval file {problem_set.source} has {len(problem_set)} problems, expected {HUMANEVAL_SIZE}: reinstall pycodex"
        )
    return problem_set


def load(path: str | Path | None = None) -> ProblemSet:
    """The user's --problems-file when given, else the bundled HumanEval (other sets:
    pycodex.problems.sets.load)."""
    return load_problems(path) if path else load_humaneval()
