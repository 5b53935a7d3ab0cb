"""The llama backend's samples in flight: a sample in its sequence slot, a request of a stream,
the text that is safe to stream, and the SampleFinished event (token counts and log-probs cover the
tokens whose text starts before the stop cut)."""

from __future__ import annotations

import codecs
import time
from dataclasses import dataclass, field
from typing import Hashable

import numpy as np

from pycodex.generation.base import FINISH_STOP, SampleFinished, SamplingParams, cut_at_stop, safe_delta


def _owned(row: np.ndarray) -> np.ndarray:
    """row itself if it owns its data, else a copy (a view of llama.cpp's logits lives until the next decode)."""
    return row if row.flags.owndata else row.copy()


@dataclass
class _Sample:
    """One sample in flight in a sequence slot."""

    index: int
    slot: int
    rng: np.random.Generator
    started: float
    request: "_Request"
    decoder: codecs.IncrementalDecoder = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    text_ends: list[int] = field(default_factory=list)  # len(text) after each token
    text: str = ""
    streamed: int = 0  # characters already sent as TextDelta


@dataclass
class _Request:
    """One (key, prompt, params) request of a stream."""

    key: Hashable
    params: SamplingParams
    tokens: list[int]  # the prompt's
    max_new: int  # tokens a sample may add: max_tokens, or less when the prompt leaves less room in n_ctx
    seeds: list
    longest_stop: int
    indices: list[int]  # the sample indices to draw, ascending (all of range(params.n) by default)
    logits: np.ndarray | None = None  # the prompt's last logits, while samples are still to start
    started: int = 0  # samples started (indices[:started])


def unstreamed(sample: _Sample, stop: tuple[str, ...], final: bool) -> str:
    """New text that is safe to show: never past a stop sequence, nor a tail that may begin one."""
    delta, sample.streamed = safe_delta(sample.text, sample.streamed, stop, final)
    return delta


def finished_event(sample: _Sample, finish: str, params: SamplingParams) -> SampleFinished:
    """Token counts and log-probabilities cover the tokens whose text starts before the stop cut:
    the tokens that made the completion. Tokens wholly inside the stop sequence, and an
    end-of-generation token (it adds no text), are not counted."""
    completion, _ = cut_at_stop(sample.text, params.stop)
    cut = len(completion)
    counted = 0
    start = 0
    for end in sample.text_ends:
        if start >= cut and finish == FINISH_STOP:
            break
        counted += 1
        start = end
    total = float(sum(sample.logprobs[:counted]))
    return SampleFinished(
        index=sample.index,
        completion=completion,
        finish_reason=finish,
        tokens=counted,
        sum_logprob=total,
        mean_logprob=total / counted if counted else 0.0,
        seconds=time.perf_counter() - sample.started,
    )
