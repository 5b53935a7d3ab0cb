"""EvalPlus's releases as pycodex problem sets: humaneval-plus, humaneval-plus-mini, mbpp-plus.

The release files ship in problems/ (Apache-2.0, problems/LICENSE-EvalPlus) exactly as released,
and are checked against their sha256 at every load. Each row becomes a Problem whose `test` judges
the base inputs then the plus inputs, `base_test` and `plus_test` each alone (pycodex/problems/
plus_test.py), with the canonical solution's outputs (pycodex/problems/expected.py) and evalplus
0.3.1's comparison rules (pycodex/problems/plus_compare.py).

MBPP+'s JSON cannot hold tuples, sets or complex numbers: the tasks whose functions take them are
given them as evalplus's loader converts them (its mbpp_deserialize_inputs), table-driven below.
"""

from __future__ import annotations

import gzip
import hashlib
import json
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


RELEASES = {
    "humaneval-plus": Release("HumanEvalPlus-v0.1.10.jsonl.gz", "42526ec0e7d5f3ee0b06d6ced98f8c8bae3d76519151bfb3d36f79010645bd7f",
                              "evalplus-v0.1.10", "humaneval", 164),
    "humaneval-plus-mini": Release("HumanEvalPlus-Mini-v0.1.10.jsonl.gz", "78fbba8865b20c5a979cda6e02fd72538e1762e65980af7d1a6e93c3e87e93af",
                                   "evalplus-mini-v0.1.10", "humaneval", 164),
    "mbpp-plus": Release("MbppPlus-v0.1.0.jsonl.gz", "08405a4e8764a4941cfe0945d25a956355a0454f364ea902c4020a44e7057973",
                         "evalplus-v0.1.0", "mbpp", 399),
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
    return [_mbpp_arguments(row) for row in rows] if release.dataset == "mbpp" else rows


def mbpp_prompt(row: dict) -> str:
    """MBPP's prompt: the description and the task's first test in a docstring (MBPP+ v0.2.0's
    shape), after which the sample writes the whole function."""
    quote = row["prompt"][:3]
    first_test = next((line for line in row["assertion"].splitlines() if line.strip()), "")
    return f"{row['prompt'][:-3].rstrip()}\n{first_test}\n{quote}\n"


def problem(row: dict, expected: tuple, dataset: str):
    """A Problem from a release row and its expected outputs (pycodex/problems/expected.py)."""
    from pycodex.problems.plus_test import Digest, call_limits, oracle, run_limit, test_source
    from pycodex.problems.problem import Problem

    def run(name: str, inputs: list, values: list, seconds: list, digested: list[int]) -> tuple:
        """The run's inputs, outputs (Digests where digested) and limits, without the inputs whose
        outputs no sample can return (expected.py: -1 - index)."""
        marks = set(digested)
        kept = [i for i in range(len(inputs)) if -1 - i not in marks]
        limits = call_limits(seconds)
        return (name, [inputs[i] for i in kept], [Digest(values[i]) if i in marks else values[i] for i in kept],
                [limits[i] for i in kept])

    base_out, base_cpu, base_digested, plus_out, plus_cpu, plus_digested = expected
    base = run("_BASE", row["base_input"], base_out, base_cpu, base_digested)
    plus = run("_PLUS", row["plus_input"], plus_out, plus_cpu, plus_digested)
    atol, name, count = row["atol"], oracle(dataset, row["entry_point"]), len(plus[1])
    return Problem(task_id=row["task_id"], prompt=mbpp_prompt(row) if dataset == "mbpp" else row["prompt"], entry_point=row["entry_point"],
                   canonical_solution=row["canonical_solution"], test=test_source([base, plus], atol, name, count),
                   base_test=test_source([base], atol, name, 0), plus_test=test_source([plus], atol, name, count),
                   cpu_limits=(run_limit(base[3]), run_limit(plus[3])))


def load(name: str):
    """The named EvalPlus set, its expected outputs from the cache (computed the first time)."""
    from pycodex.problems.expected import outputs
    from pycodex.problems.problem import ProblemSet

    release = RELEASES[name]
    rows = read_rows(release)
    table = outputs(name, release.sha256)
    missing = [row["task_id"] for row in rows if row["task_id"] not in table]
    if missing:
        raise UserError(f"the cached expected outputs of {name} lack {missing[0]}: delete {locations.cache_dir() / 'evalplus'}")
    problems = [problem(row, table[row["task_id"]], release.dataset) for row in rows]
    return ProblemSet(problems, source=locations.bundled_problems_dir() / release.file, name=name, version=release.version)


if __name__ == "__main__":  # the child of expected.outputs(): the canonical solutions run here
    import sys

    from pycodex.problems.expected import write

    chosen = RELEASES[sys.argv[1]]
    write(read_rows(chosen), chosen.dataset, sys.argv[2])
