"""EvalPlus's releases as pycodex problem sets: humaneval-plus, humaneval-plus-mini, mbpp-plus.

The release files ship in problems/ (Apache-2.0, problems/LICENSE-EvalPlus) exactly as released,
and are checked against their sha256 at every load. Each row becomes a Problem whose `test` judges
the base inputs then the plus inputs, `base_test` and `plus_test` each alone (pycodex/problems/
plus_test.py), with the canonical solution's outputs (shipped: pycodex/problems/expected.py), the
per-input limits from its CPU times on this machine (pycodex/problems/cpu_times.py) and evalplus
0.3.1's comparison rules (pycodex/problems/plus_compare.py). A row's Problem is a PlusProblem
(plus_problem.py): its tests are built on first use, by its PlusSource, many at once by prepare().

MBPP+'s JSON cannot hold tuples, sets or complex numbers: the tasks whose functions take them are
given them as evalplus's loader converts them (its mbpp_deserialize_inputs), table-driven below.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from pycodex import locations
from pycodex.errors import UserError


@dataclass(frozen=True)
class Release:
    file: str
    sha256: str  # of the uncompressed JSONL
    version: str
    dataset: str  # "humaneval" or "mbpp": evalplus's comparison differs by dataset
    size: int
    outputs_sha256: str  # of the expected outputs' frames (pycodex/problems/expected.py)

    @property
    def outputs_file(self) -> str:
        return self.file.removesuffix(".jsonl.gz") + ".outputs.xz"


RELEASES: dict[str, Release] = {
    "humaneval-plus": Release("HumanEvalPlus-v0.1.10.jsonl.gz", "42526ec0e7d5f3ee0b06d6ced98f8c8bae3d76519151bfb3d36f79010645bd7f",
                              "evalplus-v0.1.10", "humaneval", 164,
                              "cc1e16195159b39191b7caa429125b3e8b93b7c43eedca9a56a3fbbebf7cd51c"),
    "humaneval-plus-mini": Release("HumanEvalPlus-Mini-v0.1.10.jsonl.gz", "78fbba8865b20c5a979cda6e02fd72538e1762e65980af7d1a6e93c3e87e93af",
                                   "evalplus-mini-v0.1.10", "humaneval", 164,
                                   "d71c436c66ee7481e0499b85af458c6e8121018d399ed13fa734fb5777a9a532"),
    "mbpp-plus": Release("MbppPlus-v0.1.0.jsonl.gz", "08405a4e8764a4941cfe0945d25a956355a0454f364ea902c4020a44e7057973",
                         "evalplus-v0.1.0", "mbpp", 399,
                         "03f85672149d7594f1c1c6af86d5f9b40e03ef8d8d812c15f84103e95c64860f"),
}


def _tuples(x):
    return tuple(_tuples(v) for v in x) if isinstance(x, list) else x


def _each_tuple(items):
    return [tuple(v) for v in items]


# MBPP task number -> how its JSON arguments (a list) become the function's arguments.
_ARGUMENTS = {
    **dict.fromkeys((2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740, 744, 809),
                    _each_tuple),  # every argument a tuple
    **dict.fromkeys((63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780),
                    lambda args: [_each_tuple(a) for a in args]),  # every argument a list of tuples
    **dict.fromkeys((75, 413, 444, 753), lambda args: [_each_tuple(args[0]), *args[1:]]),
    **dict.fromkeys((106, 750), lambda args: [args[0], tuple(args[1]), *args[2:]]),
    **dict.fromkeys((250, 405, 446, 617, 720, 763, 808, 307), lambda args: [tuple(args[0]), *args[1:]]),
    **dict.fromkeys((259, 401, 445), lambda args: [tuple(_each_tuple(a)) for a in args]),
    **dict.fromkeys((580, 615, 791), _tuples),  # every list, at any depth, a tuple (the arguments too)
    115: lambda args: [[set(v) if isinstance(v, list) and v else {} for v in args[0]]],
    124: lambda args: (float(args[0]), complex(args[1])),
    252: lambda args: [complex(args[0])],
    278: lambda args: [tuple(tuple(v) if isinstance(v, list) else v for v in args[0]), *args[1:]],
    722: lambda args: [{key: tuple(value) for key, value in args[0].items()}, *args[1:]],
}


def _mbpp_arguments(row: dict) -> dict:
    convert = _ARGUMENTS.get(int(row["task_id"].rsplit("/", 1)[-1]))
    if convert is not None:
        row["base_input"] = [convert(args) for args in row["base_input"]]
        row["plus_input"] = [convert(args) for args in row["plus_input"]]
    return row


def release_bytes(release: Release) -> bytes:
    """The release's JSONL, its sha256 checked."""
    path = locations.bundled_problems_dir() / release.file
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UserError(f"bundled EvalPlus file {path} is unreadable ({exc}): reinstall pycodex") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != release.sha256:
        raise UserError(f"bundled EvalPlus file {path} has sha256 {digest}, not the release's {release.sha256}: reinstall pycodex")
    return data


def read_rows(release: Release) -> list[dict]:
    """The release's rows, its sha256 checked; MBPP's arguments converted as evalplus does."""
    path = locations.bundled_problems_dir() / release.file
    data = release_bytes(release)
    rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    if len(rows) != release.size:
        raise UserError(f"bundled EvalPlus file {path} has {len(rows)} tasks, not {release.size}: reinstall pycodex")
    for row in rows:  # (Mbpp/793's plus_input is {}: none)
        row["base_input"], row["plus_input"] = row["base_input"] or [], row["plus_input"] or []
    return [_mbpp_arguments(row) for row in rows] if release.dataset == "mbpp" else rows


def mbpp_prompt(row: dict) -> str:
    """MBPP's prompt: the description and the task's first test in a docstring (MBPP+ v0.2.0's
    shape), after which the sample writes the whole function."""
    quote = row["prompt"][:3]
    first_test = next((line for line in row["assertion"].splitlines() if line.strip()), "")
    return f"{row['prompt'][:-3].rstrip()}\n{first_test}\n{quote}\n"


def build_tests(row: dict, expected: tuple, slow: list, dataset: str) -> tuple:
    """(test, base_test, plus_test, cpu_limits) of a release row, from its expected outputs
    (expected.read) and its slow inputs' CPU seconds on this machine (cpu_times.measure)."""
    from pycodex.problems.cpu_times import seconds
    from pycodex.problems.plus_test import Digest, call_limits, oracle, run_limit, test_sources

    def run(name: str, inputs: list, values: list, cpu: list, digested: list[int]) -> tuple:
        """The run's inputs, outputs (Digests where digested) and limits, without the inputs whose
        outputs no sample can return (expected.py: -1 - index)."""
        marks = set(digested)
        kept = [i for i in range(len(inputs)) if -1 - i not in marks]
        limits = call_limits(cpu)
        return (name, [inputs[i] for i in kept], [Digest(values[i]) if i in marks else values[i] for i in kept],
                [limits[i] for i in kept])

    base_out, base_digested, plus_out, plus_digested = expected
    base_cpu, plus_cpu = seconds(slow, len(row["base_input"]), len(row["plus_input"]))
    base = run("_BASE", row["base_input"], base_out, base_cpu, base_digested)
    plus = run("_PLUS", row["plus_input"], plus_out, plus_cpu, plus_digested)
    atol, name, count = row["atol"], oracle(dataset, row["entry_point"]), len(plus[1])
    return (*test_sources(base, plus, atol, name, count), (run_limit(base[3]), run_limit(plus[3])))


class PlusSource:
    """One loaded release: its rows, and the tests of its tasks built so far (thread-safe)."""

    def __init__(self, name: str, release: Release, rows: list[dict]):
        self.name, self.release = name, release
        self.rows = {row["task_id"]: row for row in rows}
        self._outputs: Mapping[str, tuple] | None = None  # (expected.Outputs: decoded task by task)
        self._built: dict[str, tuple] = {}
        self._slow: dict[str, list] = {}  # task_id -> its slow inputs' CPU seconds (cpu_times)
        self._lock = threading.Lock()

    def tests(self, task_id: str) -> tuple:
        self.prepare([task_id])
        return self._built[task_id]

    def canonical_seconds(self, task_id: str) -> float:
        """The canonical solution's CPU seconds on the task's slow inputs here (measured if need be)."""
        self.prepare([task_id], build=False)
        return round(sum(seconds for _, seconds in self._slow[task_id]), 3)

    def prepare(self, task_ids, workers: int | None = None, build: bool = True) -> None:
        """Measure these tasks' CPU times where not yet cached (many at once), and build their tests
        (build=False: each is built when first read; a command that judges many samples then starts
        judging the first while it builds the others' tests)."""
        from pycodex.problems import cpu_times, expected

        with self._lock:
            wanted = list(dict.fromkeys(task_ids))
            unmeasured = [self.rows[t] for t in wanted if t not in self._slow]
            if unmeasured:
                self._slow.update(cpu_times.measure(self.name, self.release.sha256, unmeasured, workers))
            rows = [self.rows[t] for t in wanted if t not in self._built] if build else []
            if not rows:
                return
            if self._outputs is None:
                self._outputs = expected.read(self.release)
            slow = self._slow
            for row in rows:
                task_id = row["task_id"]
                if task_id not in self._outputs:
                    raise UserError(f"the bundled expected outputs of {self.name} lack {task_id}: reinstall pycodex")
                self._built[task_id] = build_tests(row, self._outputs[task_id], slow[task_id], self.release.dataset)

    def test_view(self, task_id: str) -> str:
        """The base inputs as calls, for a reader (no outputs needed)."""
        from pycodex.problems.plus_test import literal

        row = self.rows[task_id]
        calls = "".join(f"{row['entry_point']}({', '.join(literal(a) for a in args)})\n" for args in row["base_input"])
        return (f"# EvalPlus ({self.release.version}): each output is compared with the canonical solution's, as evalplus 0.3.1 does\n"
                f"# {len(row['base_input'])} base inputs:\n{calls}"
                f"# and {len(row['plus_input'])} plus inputs (`pycodex problems export` writes the whole test)\n")


def prepare(problems, workers: int | None = None, build: bool = True) -> None:
    """Measure the CPU times of the EvalPlus problems among these, many at once, and build their tests
    (build=False: when first read); others are left as they are."""
    by_source: dict = {}
    for problem in problems:
        source = getattr(problem, "_source", None)
        if isinstance(source, PlusSource):
            by_source.setdefault(source, []).append(problem.task_id)
    for source, task_ids in by_source.items():
        source.prepare(task_ids, workers, build)


def load(name: str):
    """The named EvalPlus set; its tests are built on first use (plus_problem.py)."""
    from pycodex.problems.plus_problem import PlusProblem
    from pycodex.problems.problem import ProblemSet

    release = RELEASES[name]
    rows = read_rows(release)
    source = PlusSource(name, release, rows)
    mbpp = release.dataset == "mbpp"
    problems = [PlusProblem.of(row, mbpp_prompt(row) if mbpp else row["prompt"], source) for row in rows]
    return ProblemSet(problems, source=locations.bundled_problems_dir() / release.file, name=name, version=release.version)


if __name__ == "__main__":  # --ship SET: (re)make its shipped outputs; SET TARGET: expected.build()'s child
    import sys

    from pycodex.problems import expected

    if sys.argv[1] == "--ship":
        chosen = RELEASES[sys.argv[2]]
        print(f"{expected.outputs_path(chosen)}: sha256 {expected.build(sys.argv[2], expected.outputs_path(chosen))}")
    else:
        chosen = RELEASES[sys.argv[1]]
        expected.write(read_rows(chosen), chosen.dataset, sys.argv[2])
