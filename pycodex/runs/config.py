"""What a run is: its RunConfig (stored with the run, so a resume continues it exactly), the
settings a resume may change, and the seed of each chunk of a problem's samples."""

from __future__ import annotations

import hashlib
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any

from pycodex.errors import UserError
from pycodex.generation import registry
from pycodex.generation.base import SamplingParams
from pycodex.generation.spec import BackendSpec
from pycodex.runs.request import DEFAULT_KS, RunRequest, default_ks

DEFAULT_CHUNK = 16  # samples per seeded chunk (it fixes which seed a sample gets: part of a run's results)
PROGRESS_INTERVAL = 0.2  # seconds between Progress events (at most ~5/s)
RUNTIME_SETTINGS = ("workers",)  # settings of every run that change no result (a resume may give them again)


@dataclass(init=False)
class RunConfig:
    """A run's settings. `backend` is a registered kind (pycodex.generation.registry) and `options`
    that kind's Options; they may also be given flat (`RunConfig(backend="llama", threads=4)`),
    are stored flat in `to_dict()` and read by name (`config.threads`)."""

    backend: str = "llama"
    options: Any = None  # the backend kind's Options
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
    # Samples of a problem asked of the backend in one call (batched decoding); each chunk has its
    # own seed derive_seed(run seed, task id, chunk number). A resume regenerates at most the
    # stored siblings of a half-done chunk (discarded, never stored twice).
    chunk_size: int = DEFAULT_CHUNK

    def __init__(self, backend: str = "llama", *, options: Any = None, **settings: Any) -> None:
        own = {f.name: f for f in fields(RunConfig)}
        flat = {k: settings.pop(k) for k in list(settings) if k not in own}
        unknown = set(flat) - {name for k in registry.kinds().values() for name in registry.option_names(k.Options)}
        if unknown:
            raise TypeError(f"RunConfig got unknown settings {sorted(unknown)}")
        self.backend = backend
        if options is None:
            self.options = registry.options_of(backend, flat)
        else:  # (dataclasses.replace(config, threads=4) gives both)
            self.options = registry.replace_options(options, **{k: v for k, v in flat.items() if k in registry.option_names(type(options))})
        for name, f in own.items():
            if name in ("backend", "options"):
                continue
            if name in settings:
                setattr(self, name, settings[name])
            elif f.default_factory is not MISSING:
                setattr(self, name, f.default_factory())
            else:
                setattr(self, name, f.default)

    @property
    def spec(self) -> BackendSpec:
        return BackendSpec(self.backend, self.options)

    def __getattr__(self, name: str) -> Any:
        """A backend option by name (None where another kind has it and this one has not)."""
        if name.startswith("_") or name in ("backend", "options"):
            raise AttributeError(name)
        return getattr(self.spec, name)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"backend": self.backend}
        d |= {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("backend", "options")}
        d["params"] = self.params.to_dict()
        d["task_ids"] = list(self.task_ids)
        d["ks"] = list(self.ks)
        return d | registry.options_dict(self.options)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunConfig":
        known = {f.name for f in fields(cls)} - {"options"}
        kwargs = {k: v for k, v in data.items() if k in known}
        p = dict(data.get("params") or {})
        if "stop" in p:
            p["stop"] = tuple(p["stop"])
        p = {k: v for k, v in p.items() if k in {f.name for f in fields(SamplingParams)}}
        kwargs["params"] = SamplingParams(**p)
        kwargs["task_ids"] = list(kwargs.get("task_ids") or [])
        kwargs["ks"] = list(kwargs.get("ks") or DEFAULT_KS)
        kind = str(kwargs.pop("backend", None) or "llama")
        return cls(kind, options=registry.options_of(kind, data), **kwargs)

    def runtime_settings(self) -> dict[str, Any]:
        """The settings that change no result: the run's own and its backend's runtime options."""
        options = self.options
        return {"workers": self.workers} | {n: getattr(options, n) for n in registry.runtime_names(type(options))}

    def with_runtime(self, **runtime: Any) -> "RunConfig":
        """This config with the runtime settings given again (e.g. for a resume); None keeps the
        stored value, and 0 is a value. Another kind's runtime options are ignored."""
        unknown = set(runtime) - set(RUNTIME_SETTINGS) - registry.all_runtime_names()
        if unknown:
            raise ValueError(f"not runtime settings: {sorted(unknown)}")
        return self._replace_runtime({k: v for k, v in runtime.items() if v is not None})

    def with_runtime_of(self, other: "RunConfig", names: tuple[str, ...] | None = None) -> "RunConfig":
        """This config with another's runtime settings (those named, else all), None included."""
        values = other.runtime_settings()
        return self._replace_runtime({k: v for k, v in values.items() if names is None or k in names})

    def _replace_runtime(self, values: dict[str, Any]) -> "RunConfig":
        own = registry.runtime_names(type(self.options))
        options = registry.replace_options(self.options, **{k: v for k, v in values.items() if k in own})
        settings = {k: v for k, v in values.items() if k in RUNTIME_SETTINGS}
        return replace(self, options=options, **settings)

    def result_key(self) -> dict[str, Any]:
        """What determines a run's results (used to match an unfinished run, e.g. by sweep)."""
        d = self.to_dict()
        for k in (*self.runtime_settings(), "name", "ks"):
            d.pop(k, None)
        return d


def make_config(request: RunRequest, problem_set=None) -> RunConfig:
    """The RunConfig of a new run (the one place one is made: `pycodex eval`/`sweep`, the TUI,
    `runs import`). problem_set: the named set it is judged against, recorded with its version."""
    config = RunConfig(
        request.backend.kind,
        options=request.backend.options,
        task_ids=list(request.task_ids),
        params=request.params,
        timeout=request.timeout,
        memory_limit_mb=request.memory_limit_mb,
        judge=request.judge,
        workers=request.workers,
        ks=list(request.ks) if request.ks else default_ks(request.params.n),
        name=request.name,
        problems_file=request.problems_file,
        problem_set=getattr(problem_set, "name", None),
        problem_set_version=getattr(problem_set, "version", None),
    )
    if request.chunk_size is not None:
        config.chunk_size = request.chunk_size
    return config


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
