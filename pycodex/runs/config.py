"""What a run is: its RunConfig (stored with the run, so a resume continues it exactly), the
settings a resume may change, and the seed of each chunk of a problem's samples."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields, replace
from typing import Any

from pycodex.errors import UserError
from pycodex.generation.base import SamplingParams
from pycodex.runs.request import DEFAULT_KS

REPLAY_BACKENDS = ("canonical", "samples")
IMPORT_BACKEND = "import"  # runs stored from a samples file: nothing to generate, only to execute
DEFAULT_CHUNK = 16  # samples per seeded chunk (it fixes which seed a sample gets: part of a run's results)
PROGRESS_INTERVAL = 0.2  # seconds between Progress events (at most ~5/s)
# Settings that change no result: a resume may override them.
RUNTIME_FIELDS = ("workers", "n_gpu_layers", "threads", "ctx", "verbose", "servers", "server_slots", "server_timeout", "server_retries")


@dataclass
class RunConfig:
    backend: str = "llama"
    model: str | None = None
    task_ids: list[str] = field(default_factory=list)
    params: SamplingParams = field(default_factory=SamplingParams)
    timeout: float = 3.0
    memory_limit_mb: int = 4096
    judge: str = "strict"  # who runs the tests: "strict" (a trusted judge process) or "classic" (in-process)
    workers: int | None = None
    ks: list[int] = field(default_factory=lambda: list(DEFAULT_KS))
    name: str | None = None
    problems_file: str | None = None
    problem_set: str | None = None  # humaneval (None too), humaneval-plus, chains; ignored with problems_file
    problem_set_version: str | None = None  # the set's version when the run began (a resume checks it)
    samples_file: str | None = None
    n_gpu_layers: int = 0
    threads: int | None = None
    ctx: int | None = None
    verbose: bool = False
    # Samples of a problem asked of the backend in one call (batched decoding); each chunk has its
    # own seed derive_seed(run seed, task id, chunk number). A resume regenerates at most the
    # stored siblings of a half-done chunk (discarded, never stored twice).
    chunk_size: int = DEFAULT_CHUNK
    # backend "server": the endpoints (may change on resume), the model they serve, chat or raw completions
    servers: list[str] = field(default_factory=list)
    server_model: str | None = None
    chat: bool = False
    server_slots: int | None = None
    server_timeout: float | None = None
    server_retries: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["params"] = self.params.to_dict()
        d["task_ids"] = list(self.task_ids)
        d["ks"] = list(self.ks)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunConfig":
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        p = dict(data.get("params") or {})
        if "stop" in p:
            p["stop"] = tuple(p["stop"])
        p = {k: v for k, v in p.items() if k in {f.name for f in fields(SamplingParams)}}
        kwargs["params"] = SamplingParams(**p)
        kwargs["task_ids"] = list(kwargs.get("task_ids") or [])
        kwargs["ks"] = list(kwargs.get("ks") or DEFAULT_KS)
        return cls(**kwargs)

    def with_runtime(self, **runtime: Any) -> "RunConfig":
        """This config with the runtime settings given again (e.g. for a resume); None keeps the
        stored value, and 0 is a value."""
        unknown = set(runtime) - set(RUNTIME_FIELDS)
        if unknown:
            raise ValueError(f"not runtime settings: {sorted(unknown)}")
        return replace(self, **{k: v for k, v in runtime.items() if v is not None})

    def result_key(self) -> dict[str, Any]:
        """What determines a run's results (used to match an unfinished run, e.g. by sweep)."""
        d = self.to_dict()
        for k in (*RUNTIME_FIELDS, "name", "ks"):
            d.pop(k, None)
        return d


def server_options(config: RunConfig) -> dict[str, Any]:
    """The server backend's options from a config (none for the other backends)."""
    if config.backend != "server":
        return {}
    return {
        "servers": list(config.servers),
        "server_model": config.server_model,
        "chat": config.chat,
        "server_slots": config.server_slots,
        "server_timeout": config.server_timeout,
        "server_retries": config.server_retries,
    }


def derive_seed(run_seed: int, task_id: str, chunk: int) -> int:
    """The seed of one chunk of a problem's samples: a stable hash of (run seed, task id, chunk number), 31 bits."""
    digest = hashlib.sha256(f"{run_seed}\x00{task_id}\x00{chunk}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def check_problem_set_version(config: RunConfig, problem_set, resuming: bool) -> None:
    """A new run records its set's version; a resume refuses a set that has changed since."""
    if config.problems_file or problem_set.name is None:
        return
    if not resuming or config.problem_set_version is None:
        config.problem_set, config.problem_set_version = problem_set.name, problem_set.version
        return
    if config.problem_set_version != problem_set.version:
        raise UserError(
            f"this run was judged against {problem_set.name} {config.problem_set_version}, but this pycodex has "
            f"{problem_set.version}: resuming would mix two versions of the tests; start a new run"
        )
