"""What a user asks for, turned into validated run settings: the one place for presets, the
temperature by k, default k values and the limits of every flag. The CLI and the TUI form both
build a `SamplingRequest` and call `resolve()`, so the same request gives the same run; a
`RunRequest` (backend, problems, sampling, limits) becomes a RunConfig in one function,
`pycodex.runs.config.make_config`, used by `pycodex eval`/`sweep`, the TUI and `runs import`."""

from __future__ import annotations

from dataclasses import dataclass

from pycodex.errors import UserError
from pycodex.generation.base import DEFAULT_MAX_TOKENS, DEFAULT_TOP_P, SamplingParams
from pycodex.generation.spec import BackendSpec
from pycodex.metrics import parse_ks

DEFAULT_KS = (1, 10, 100)


@dataclass(frozen=True)
class Preset:
    """The paper's setting for estimating pass@k: its best temperature (Figure 5) and n samples.

    n is 2k, at least 10: the unbiased estimator needs n > k to be better than a single draw of
    "any of k passed", and the paper itself uses n = 200 for k <= 100."""

    name: str
    k: int
    temperature: float

    @property
    def n(self) -> int:
        return max(10, 2 * self.k)


PRESETS: dict[str, Preset] = {
    p.name: p for p in (Preset("pass@1", 1, 0.2), Preset("pass@10", 10, 0.6), Preset("pass@100", 100, 0.8))
}


def preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise UserError(f"unknown --preset {name!r}: choose one of {', '.join(PRESETS)}") from None


def temperature_for(n: int) -> float:
    """No temperature and no preset: the paper's best temperature for the largest k that n supports."""
    best = PRESETS["pass@1"]
    for p in PRESETS.values():
        if n >= p.k:
            best = p
    return best.temperature


def default_ks(n: int) -> list[int]:
    return [k for k in DEFAULT_KS if k <= n] or [1]


@dataclass(frozen=True)
class SamplingRequest:
    """Sampling as asked: None means "the default", which depends on the other fields."""

    n: int | None = None
    temperature: float | None = None
    top_p: float = DEFAULT_TOP_P
    max_tokens: int = DEFAULT_MAX_TOKENS
    seed: int | None = None
    preset: str | None = None
    k: str | None = None  # "1,10"

    def resolve(self) -> tuple[SamplingParams, list[int]]:
        """The validated sampling parameters and the k values to report."""
        chosen = preset(self.preset) if self.preset is not None else None
        n = self.n if self.n is not None else (chosen.n if chosen else 1)
        temperature = self.temperature
        if temperature is None:
            temperature = chosen.temperature if chosen else temperature_for(n)
        params = SamplingParams(n=n, temperature=temperature, top_p=self.top_p, max_tokens=self.max_tokens, seed=self.seed).validate()
        if self.k is not None:
            ks = parse_ks(self.k)
        elif chosen is not None:
            ks = [chosen.k]
        else:
            ks = default_ks(n)
        if ks[-1] > n:
            raise UserError(f"pass@{ks[-1]} needs at least {ks[-1]} samples per problem: raise --n to {ks[-1]} (got --n {n})")
        return params, ks


@dataclass(frozen=True)
class RunRequest:
    """A new run as asked: its backend, problems, resolved sampling and execution limits."""

    backend: BackendSpec
    task_ids: tuple[str, ...]
    params: SamplingParams
    ks: tuple[int, ...] | None = None  # None: default_ks(params.n)
    timeout: float = 3.0
    memory_limit_mb: int = 4096
    workers: int | None = None
    judge: str = "strict"
    name: str | None = None
    problems_file: str | None = None  # a problems file of one's own (recorded as given)
    chunk_size: int | None = None  # None: the default chunk


# -- execution limits (the execution layer's own: pycodex.execution.checks) -------------------


def check_execution(timeout: float, memory_limit_mb: int, workers: int | None, chunk_size: int | None = None) -> None:
    """Bad values are one line and exit 2, before anything runs."""
    from pycodex.execution.checks import check_limits

    check_limits(timeout, memory_limit_mb, workers)
    if chunk_size is not None and chunk_size < 1:
        raise UserError(f"bad --chunk-size {chunk_size}: must be at least 1")
