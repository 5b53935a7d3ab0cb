"""The expected outputs of an EvalPlus release: each canonical solution's output on each base and
plus input, shipped precomputed beside the release (problems/<release>.outputs.xz) and checked
against its sha256 (Release.outputs_sha256) at every read.

The file: xz of one frame per task (frame(): a 4-byte length, the task id's length in 2 bytes and
the task id, then marshal's encoding of (base outputs, base digested, plus outputs, plus
digested)). Marshal, not pycodex's plain-data codec: the file is pycodex's own, as trusted as its
source once its sha256 matches, and marshal reads it in C (MBPP+'s 3 million values: 0.3 s; the
plain-data codec, in pure Python, took 1.5 s of every command). Nothing read back is executed, and
a value that is not plain data is refused where the tests are written (plus_test.literal).
"Digested" lists the indices of outputs kept as the sha256 of their repr (a repr over DIGEST_OVER
characters), and -1 - index for those over the codec's caps, which no sample can return (those
inputs are left out).

Outputs are the same on every machine (the canonical solutions are deterministic); their CPU times
are not, and are measured where they are used (pycodex/problems/cpu_times.py). `pycodex problems
verify` recomputes the outputs in the sandbox and compares them in the strict judge (every
canonical solution judged against this file). The file is made by `python -m pycodex.problems.evalplus
--ship SET` (a maintainer's step, once per release; it runs the canonical solutions in a child process
under a memory limit, as evalplus computes its ground truth: its get_groundtruth/trusted_exec).
"""

from __future__ import annotations

import copy
import gc
import hashlib
import marshal
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from pycodex import locations
from pycodex.errors import UserError

MEMORY_LIMIT = 4 << 30
DIGEST_OVER = 1_000_000  # characters of repr: a longer output is kept as the sha256 of its repr


def outputs_path(release) -> Path:
    return locations.bundled_problems_dir() / release.outputs_file


class Outputs(Mapping):
    """task_id -> (base outputs, base digested, plus outputs, plus digested): each task's frame is
    found at once (its task id read from the frame's head) and decoded when read, so that a command
    judging a few tasks does not decode a whole release (MBPP+: 1 s of CPU). Nothing decoded is
    kept (its one reader builds each task's tests once): a release's millions of values would stay
    in the pycodex process, and every full collection of the garbage collector would walk them
    (MBPP+: 0.65 s of CPU a command)."""

    def __init__(self, data: bytes, path: Path):
        self.data, self.path = data, path
        self.frames: dict[str, tuple[int, int]] = {}
        self.decoded: set[str] = set()  # the tasks read so far
        pos = 0
        while pos < len(data):
            size = int.from_bytes(data[pos:pos + 4], "big")
            start, end = pos + 4, pos + 4 + size
            head = _task_id(data, start, end) if end <= len(data) else None
            if head is None:
                raise UserError(f"bundled expected outputs {path} are malformed (frame at byte {pos}): reinstall pycodex")
            self.frames[head[0]], pos = (head[1], end), end

    def __getitem__(self, task_id: str) -> tuple:
        start, end = self.frames[task_id]
        collecting = gc.isenabled()
        gc.disable()  # (the values are acyclic: a collection in the middle of them finds nothing)
        try:
            values = marshal.loads(memoryview(self.data)[start:end])
        except (EOFError, ValueError, TypeError) as exc:
            raise UserError(f"bundled expected outputs {self.path} are malformed ({task_id}: {exc}): reinstall pycodex") from None
        finally:
            if collecting:
                gc.enable()
        if type(values) is not tuple or len(values) != 4 or not all(type(v) is list for v in values):
            raise UserError(f"bundled expected outputs {self.path} are malformed ({task_id}): reinstall pycodex")
        self.decoded.add(task_id)
        return values

    def __contains__(self, task_id) -> bool:  # (Mapping's would decode the frame)
        return task_id in self.frames

    def __iter__(self):
        return iter(self.frames)

    def __len__(self) -> int:
        return len(self.frames)


def frame(task_id: str, values: tuple) -> bytes:
    """One task's frame: its length, the task id (2-byte length, UTF-8), marshal's encoding of values."""
    name = task_id.encode()
    body = len(name).to_bytes(2, "big") + name + marshal.dumps(values, 4)
    return len(body).to_bytes(4, "big") + body


def _task_id(data: bytes, start: int, end: int) -> tuple[str, int] | None:
    """(the task id at the head of a frame, where its values start), or None."""
    size = int.from_bytes(data[start:start + 2], "big")
    if start + 2 + size > end:
        return None
    try:
        return data[start + 2:start + 2 + size].decode("utf-8"), start + 2 + size
    except UnicodeDecodeError:
        return None


def read(release) -> Outputs:
    """task_id -> (base outputs, base digested, plus outputs, plus digested), the file's sha256 checked."""
    import lzma

    path = outputs_path(release)
    try:
        data = lzma.decompress(path.read_bytes())
    except (OSError, lzma.LZMAError) as exc:
        raise UserError(f"bundled expected outputs {path} are unreadable ({exc}): reinstall pycodex") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != release.outputs_sha256:
        raise UserError(f"bundled expected outputs {path} have sha256 {digest}, not {release.outputs_sha256}: reinstall pycodex")
    return Outputs(data, path)


def _plain(value):
    from pycodex.execution.plain import as_plain_dict

    mapping = as_plain_dict(value)  # Mbpp/88 returns a Counter
    return value if mapping is None else mapping


def _run_inputs(function, inputs: list, not_none: bool) -> tuple[list, list[int]]:
    """(outputs, the indices of the outputs replaced by the sha256 of their repr, and -1 - index for
    those over the plain-data codec's caps, which no sample can return)."""
    from pycodex.execution.plain import NotPlain, encode

    outputs = [function(*copy.deepcopy(args)) for args in inputs]
    outputs = [out is not None for out in outputs] if not_none else [_plain(out) for out in outputs]
    digested: list[int] = []
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
    return outputs, digested


def compute(rows: list[dict], dataset: str) -> dict[str, tuple]:
    """task_id -> (base outputs, base digested, plus outputs, plus digested). Runs the canonical
    solutions in this process: call it in a child (build())."""
    from pycodex.problems.plus_test import NOT_NONE

    out = {}
    for row in rows:
        namespace: dict = {}
        exec(compile(row["prompt"] + row["canonical_solution"], row["task_id"], "exec"), namespace)  # noqa: S102 - the release's own solution
        function, not_none = namespace[row["entry_point"]], dataset == "mbpp" and row["entry_point"] in NOT_NONE
        out[row["task_id"]] = (*_run_inputs(function, row["base_input"], not_none), *_run_inputs(function, row["plus_input"], not_none))
    return out


def write(rows: list[dict], dataset: str, target: str) -> None:
    """In the child (python -m pycodex.problems.evalplus NAME TARGET): compute and write the frames."""
    import resource

    sys.setrecursionlimit(10_000)
    sys.set_int_max_str_digits(0)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    with open(target, "wb") as f:
        for task_id, values in compute(rows, dataset).items():
            f.write(frame(task_id, values))


def build(name: str, target: Path) -> str:
    """Compute a release's outputs in a child process and write them, xz-compressed, to target;
    returns the sha256 of the uncompressed frames (for RELEASES)."""
    import lzma

    tmp = target.with_name(f"{target.name}.{os.getpid()}.frames")
    done = subprocess.run([sys.executable, "-m", "pycodex.problems.evalplus", name, str(tmp)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        if done.returncode != 0:
            raise UserError(f"computing the expected outputs of {name} failed: {done.stderr.strip().splitlines()[-1:]}")
        data = tmp.read_bytes()
    finally:
        tmp.unlink(missing_ok=True)
    target.write_bytes(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    return hashlib.sha256(data).hexdigest()

