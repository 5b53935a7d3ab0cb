"""The one generation interface every backend implements.

A backend turns a prompt into a stream of events: `TextDelta`s as tokens arrive (per sample
index), then exactly one `SampleFinished` per sample index. A sample whose generation was started
again (a server backend retrying it after a failure) sends a `TextDelta` with `restart=True`: the
text streamed for it so far is void, its `text` begins the new attempt. Consumers (solve, the eval pipeline,
the TUI) only ever see this interface.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Hashable, Iterable, Iterator, Protocol, Sequence, runtime_checkable

# The paper's stop sequences (Chen et al. 2021, section 3.3).
STOP_SEQUENCES: tuple[str, ...] = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
DEFAULT_TOP_P = 0.95
DEFAULT_MAX_TOKENS = 512

FINISH_STOP = "stop"  # a stop sequence was produced
FINISH_LENGTH = "length"  # max_tokens reached
FINISH_EOS = "eos"  # the model's end of text


@dataclass(frozen=True)
class SamplingParams:
    n: int = 1
    temperature: float = 0.8
    top_p: float = DEFAULT_TOP_P
    max_tokens: int = DEFAULT_MAX_TOKENS
    stop: tuple[str, ...] = STOP_SEQUENCES
    seed: int | None = None

    def validate(self) -> "SamplingParams":
        from pycodex.errors import UserError

        if self.n <= 0:
            raise UserError(f"--n must be at least 1 (got {self.n})")
        if self.temperature < 0:
            raise UserError(f"--temperature must be >= 0 (got {self.temperature})")
        if not 0 < self.top_p <= 1:
            raise UserError(f"--top-p must be in (0, 1] (got {self.top_p})")
        if self.max_tokens <= 0:
            raise UserError(f"--max-tokens must be at least 1 (got {self.max_tokens})")
        return self

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


@dataclass(frozen=True)
class TextDelta:
    index: int
    text: str
    restart: bool = False  # the text streamed so far for this index is void; `text` starts it again


@dataclass(frozen=True)
class SampleFinished:
    """The one frozen record of a completion: made by the backend, carried unchanged by the
    pipeline's SampleGenerated to the store (SampleRecord.sample), the screens (SampleState.sample)
    and solve (SolvedSample.sample); each of those reads its fields through (`sample_field`;
    SampleState, whose sample may not exist yet, has properties with defaults for those it shows)."""

    index: int
    completion: str  # cut at the first stop sequence
    finish_reason: str  # FINISH_STOP / FINISH_LENGTH / FINISH_EOS
    tokens: int  # sampled tokens counted in the log-probs
    sum_logprob: float  # sum of log p(token) under the model, temperature 1 (log-softmax of raw logits)
    mean_logprob: float  # sum_logprob / tokens (0.0 when tokens == 0)
    seconds: float
    raw: str | None = None  # chat models: the whole reply; `completion` is the function body taken from it

    def to_dict(self) -> dict:
        return asdict(self)


GenerationEvent = TextDelta | SampleFinished
SAMPLE_FIELDS = frozenset(f.name for f in fields(SampleFinished))


def sample_field(holder: Any, name: str) -> Any:
    """A field of the SampleFinished that `holder` carries as `sample`, for the holder's
    `__getattr__` (event.completion, record.tokens): its fields are read through, never copied."""
    sample = holder.__dict__.get("sample")
    if sample is None or name not in SAMPLE_FIELDS:
        raise AttributeError(f"{type(holder).__name__!r} object has no attribute {name!r}")
    return getattr(sample, name)


class Backend(Protocol):
    """What every generation backend provides."""

    name: str

    def generate(self, prompt: str, params: SamplingParams, task_id: str | None = None) -> Iterator[GenerationEvent]:
        """Stream deltas then one SampleFinished per index in range(params.n).

        task_id lets replay backends find their answer; model backends ignore it. Stopping the
        iteration early (close()) must release resources and leave the backend reusable.
        """
        ...

    def describe(self) -> dict:
        """What the store records about the backend: kind, model path, sha256, versions."""
        ...

    def close(self) -> None: ...


# (key, prompt, params, sample indices or None for all of range(params.n))
GenerationRequest = tuple[Hashable, str, SamplingParams, Sequence[int] | None]


@runtime_checkable
class BatchedBackend(Protocol):
    """A backend that takes a whole run as one lazily consumed stream of requests (continuous
    batching across prompts); the pipeline prefers this to calling generate() per chunk."""

    def generate_many(self, requests: Iterable[GenerationRequest]) -> Iterator[tuple[Hashable, GenerationEvent]]:
        """Yield (key, event) for every request; sample j of a request is drawn from
        (params.seed, j) alone, so any subset of indices comes out as it would in the full set."""
        ...


def safe_delta(text: str, streamed: int, stop: Sequence[str], final: bool) -> tuple[str, int]:
    """(the new text of `text` past its first `streamed` characters that is safe to show, the new
    count streamed): never past a stop sequence, nor (unless `final`) a tail that may begin one."""
    text, _ = cut_at_stop(text, stop)
    safe = len(text)
    if not final:
        for s in stop:
            for k in range(min(len(s) - 1, len(text)), 0, -1):
                if text.endswith(s[:k]):
                    safe = min(safe, len(text) - k)
                    break
    if safe <= streamed:
        return "", streamed
    return text[streamed:safe], safe


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut text at the earliest stop sequence. Returns (text, whether a stop was found)."""
    cut = len(text)
    for s in stop:
        pos = text.find(s)
        if pos != -1 and pos < cut:
            cut = pos
    return text[:cut], cut != len(text)
