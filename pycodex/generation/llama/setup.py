"""The llama backend's settings: its defaults, the thread count, llama.cpp's log, and the
batch-invariant context parameters (see llama_backend's docstring for why each is set)."""

from __future__ import annotations

import ctypes
import os
from contextlib import contextmanager
from typing import Iterator

DEFAULT_CTX = 2048  # per sequence: the longest HumanEval prompt (422 tokens) plus 512 new tokens fit
DEFAULT_PARALLEL = 16  # slots where the KV cache of no wider choice fits in KV_BUDGET
WIDE_PARALLEL = (64, 32)  # slots for a model whose cache fits, the widest first (docs/generation.md:
# on the issue-13 workload 142.8 tokens/s at 16, 157.1 at 32, 169.1 at 64)
KV_BUDGET = 3 << 30  # bytes of KV cache (f16 K and V, every stream) that a wide default may take
DEFAULT_BATCH = 512
# The fewest rows a step's llama_decode gets: llama.cpp's CPU matrix kernels take one path for 8
# rows or more and another (different rounding) for fewer, so every step decodes at least 8
# sequences, padding with free slots, and every row takes the same path (see the module docstring).
MIN_STEP_ROWS = 8

_log_callback = None  # kept alive: llama.cpp holds a pointer to it


def default_threads() -> int:
    """All cores but those other processes keep busy (1-minute load average), at least one.

    llama.cpp's worker threads wait for each other at every step, so a thread that must share
    its core with another busy process stalls them all: on a loaded machine fewer threads are
    faster (measured: 2 threads 2x slower than 1 on 2 cores at load 7).
    """
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        load = 0.0
    return max(1, min(cores, int(cores - load + 1)))


def set_llama_logging(verbose: bool) -> None:
    """Route llama.cpp's log lines to stderr when verbose, else nowhere."""
    global _log_callback
    import sys

    import llama_cpp

    @llama_cpp.llama_log_callback
    def callback(level, text, user_data):  # noqa: ARG001
        if verbose:
            sys.stderr.write(text.decode("utf-8", "replace"))

    _log_callback = callback
    llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))


def kv_bytes_per_token(llama_cpp, model) -> int | None:
    """f16 K and V of one token over every layer, from the model's metadata (None: unknown)."""
    def meta(key: str) -> str | None:
        buffer = ctypes.create_string_buffer(128)
        size = llama_cpp.llama_model_meta_val_str(model, key.encode(), buffer, len(buffer))
        return buffer.value.decode() if size > 0 else None

    try:
        layers, heads_kv = llama_cpp.llama_model_n_layer(model), llama_cpp.llama_model_n_head_kv(model)
        arch = meta("general.architecture") or ""
        key = int(meta(f"{arch}.attention.key_length") or llama_cpp.llama_model_n_embd(model) // llama_cpp.llama_model_n_head(model))
        value = int(meta(f"{arch}.attention.value_length") or key)
    except (ValueError, ZeroDivisionError, AttributeError):
        return None
    return layers * heads_kv * (key + value) * 2 if layers > 0 and heads_kv > 0 else None


def default_parallel(bytes_per_token: int | None, n_ctx: int, samples: int | None = None) -> int:
    """The widest of WIDE_PARALLEL whose KV streams (one per slot, plus the prompts') fit in
    KV_BUDGET, else DEFAULT_PARALLEL (Gemma 3 270M: 37 MiB a stream at 2048 tokens: 64 slots).
    samples: how many the backend will run at most, when known: no wider than that needs (every
    stream costs its allocation at start-up: 64 slots 4.8 s against 1.1 s at 16 here)."""
    for slots in WIDE_PARALLEL:
        if samples is not None and samples <= slots // 2:
            continue
        if bytes_per_token is not None and bytes_per_token * n_ctx * (slots + 1) <= KV_BUDGET:
            return slots
    return DEFAULT_PARALLEL


def context_params(llama_cpp, n_ctx: int, sequences: int, n_batch: int, n_threads: int):
    """The batch-invariant context: one KV stream of n_ctx cells per sequence (sequence 0 holds the
    prompt, 1..sequences sample or pad), no flash attention, no perf counters."""
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = n_ctx * (sequences + 1)
    params.n_batch = n_batch
    params.n_ubatch = n_batch
    params.n_seq_max = sequences + 1
    params.kv_unified = False  # one KV stream per sequence: a sequence's cells never depend on another's
    params.n_threads = n_threads
    params.n_threads_batch = n_threads
    params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED  # as llama_cpp.Llama does
    params.no_perf = True
    return params


@contextmanager
def without_repacked_weights() -> Iterator[None]:
    """Within this block, llama_cpp.Llama (and so llama_cpp.server) loads models with the backend's
    weight layout: no repacked weights (use_extra_bufts off, which Llama has no argument for). The
    same kernels for the same rows, so comparisons are fair; and the repacked AMX kernels crash on
    some CPUs."""
    import llama_cpp.llama_cpp as low  # the module Llama calls

    default = low.llama_model_default_params

    def params():
        p = default()
        p.use_extra_bufts = False
        return p

    low.llama_model_default_params = params
    try:
        yield
    finally:
        low.llama_model_default_params = default
