"""The expected outputs of an EvalPlus release: each canonical solution run on its base and plus
inputs, once per release file, cached by the file's sha256.

As evalplus computes them (its get_groundtruth/trusted_exec): prompt + canonical solution executed,
each input deep-copied, the outputs kept ("not None" for the MBPP tasks whose outputs are
objects), and beside each output the time it took, here CPU time (time.process_time), from which
the per-input limits come (plus_test.call_limits). They run in a child process (the canonical
solutions are the release's trusted code, but they run nowhere near pycodex's own state) under a
memory limit, and cross back in pycodex's plain-data codec: nothing the child writes is executed.
The cache is `CACHE_DIR/evalplus/<sha256>.plain` (a 4-byte length and a plain message per task); `pycodex problems verify` judges every canonical
solution against it.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from pathlib import Path

from pycodex import locations
from pycodex.errors import UserError

MEMORY_LIMIT = 4 << 30
DIGEST_OVER = 1_000_000  # characters of repr: a longer output is kept as the sha256 of its repr


def cache_file(sha256: str) -> Path:
    return locations.cache_dir() / "evalplus" / f"{sha256}.plain"


def _plain(value):
    from pycodex.execution.plain import as_plain_dict

    mapping = as_plain_dict(value)  # Mbpp/88 returns a Counter
    return value if mapping is None else mapping


def _run_inputs(function, inputs: list, not_none: bool) -> tuple[list, list[float], list[int]]:
    """(outputs, CPU seconds, the indices of the outputs replaced by the sha256 of their repr, and
    -1 - index for those over the plain-data codec's caps, which no sample can return)."""
    import hashlib

    from pycodex.execution.plain import NotPlain, encode

    outputs: list = []
    seconds: list[float] = []
    digested: list[int] = []
    for args in inputs:
        args = copy.deepcopy(args)
        start = time.process_time()
        outputs.append(function(*args))
        seconds.append(time.process_time() - start)
    outputs = [out is not None for out in outputs] if not_none else [_plain(out) for out in outputs]
    for index, out in enumerate(outputs):
        text = repr(out)
        if len(text) <= DIGEST_OVER:
            continue
        try:
            encode(out)
        except NotPlain:  # no sample could return it to the judge: the input is left out (-1 - index)
            outputs[index], digested = None, digested + [-1 - index]
            continue
        outputs[index], digested = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), digested + [index]
    return outputs, seconds, digested


def compute(rows: list[dict], dataset: str) -> dict[str, tuple]:
    """task_id -> (base outputs, base CPU seconds, base digested, plus outputs, plus CPU seconds,
    plus digested). Runs the canonical solutions in this process: call it in a child (outputs())."""
    from pycodex.problems.plus_test import NOT_NONE

    out = {}
    for row in rows:
        namespace: dict = {}
        exec(compile(row["prompt"] + row["canonical_solution"], row["task_id"], "exec"), namespace)  # noqa: S102 - the release's own solution
        function, not_none = namespace[row["entry_point"]], dataset == "mbpp" and row["entry_point"] in NOT_NONE
        out[row["task_id"]] = (*_run_inputs(function, row["base_input"], not_none), *_run_inputs(function, row["plus_input"], not_none))
    return out


def outputs(name: str, sha256: str) -> dict[str, tuple]:
    """The release's expected outputs, from the cache or computed now (once: a minute or so)."""
    from pycodex.execution.plain import NotPlain, decode

    path = cache_file(sha256)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"pycodex: computing the expected outputs of {name} (once, cached in {path})", file=sys.stderr)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        done = subprocess.run([sys.executable, "-m", "pycodex.problems.evalplus", name, str(tmp)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise UserError(f"computing the expected outputs of {name} failed: {done.stderr.strip().splitlines()[-1:]}")
        tmp.replace(path)
    try:
        data, table, pos = path.read_bytes(), {}, 0
        while pos < len(data):
            size = int.from_bytes(data[pos:pos + 4], "big")
            task_id, *values = decode(data[pos + 4:pos + 4 + size])
            table[task_id], pos = tuple(values), pos + 4 + size
    except (OSError, NotPlain, ValueError) as exc:
        path.unlink(missing_ok=True)
        raise UserError(f"the cached expected outputs {path} were unreadable ({exc}): removed, run again") from None
    return table


def write(rows: list[dict], dataset: str, target: str) -> None:
    """In the child (python -m pycodex.problems.evalplus NAME TARGET): compute and write the table."""
    import resource

    from pycodex.execution.plain import encode

    sys.setrecursionlimit(10_000)
    sys.set_int_max_str_digits(0)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    with open(target, "wb") as f:
        for task_id, values in compute(rows, dataset).items():
            data = encode((task_id, *values))  # one task a frame: a release is over the codec's 16 MiB
            f.write(len(data).to_bytes(4, "big") + data)
