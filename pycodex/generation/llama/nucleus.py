"""Exact nucleus (top-p) sampling over the full vocabulary, and the paper's log-probabilities.

The paper samples with nucleus sampling, top_p = 0.95, and nothing else: no top-k, no min-p.
For each row of logits (one per live sequence):

1. p = softmax(logits / T) over the whole vocabulary (Gemma: 262,144 tokens).
2. The nucleus is the smallest set of most probable tokens whose mass reaches top_p
   (the token that crosses top_p is kept).
3. Sample from p restricted to the nucleus, renormalised.

Finding the nucleus needs no full sort, and usually not even the temperature-T softmax sum:

- Z1 = sum(exp(l - max)) over every token of the row (float32 exponentials in a reused buffer,
  a float64 sum) gives the log-probability at temperature 1, which is also the ranking signal
  the paper uses.
- The head: the tokens whose weight exp((l - max) / T) is at least 1e-4 of the top one. They
  are found with one comparison of the row against a logit cutoff, then their weights are
  computed and sorted (a few to a few hundred tokens).
- The nucleus ends at the first head token whose cumulative weight reaches top_p * ZT, ZT the
  temperature-T sum over the whole vocabulary. For T < 1 the rest of the vocabulary (every token
  outside the head) weighs at most 1e-4^(1 - T) times its temperature-1 mass (Z1 minus the
  head's), so ZT lies in a known interval. When every value in that interval gives the same
  nucleus, that is the nucleus; when not (flatter rows, T >= 1), ZT is summed over the whole
  row. When the head does not hold top_p of the mass, lower cutoffs (1e-8, then the whole
  vocabulary) follow.

The result is the set and distribution of a full sort over the whole vocabulary (tests check it
against a textbook reference and against the previous implementation, token for token), with
two or three passes over the row instead of a sort. A row's result depends on that row and its
uniform alone, so rows may be computed in any grouping and on any thread.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_SORT_THRESHOLDS = (1e-4, 1e-8, 0.0)  # head cutoffs as fractions of the top weight, tried in turn
_CUTOFF_SLACK = 1e-3  # nats: the logit cutoff takes a little more than the head, the weights decide
_BOUND_SLACK = 1e-5  # relative: float32 rounding of the weights the bound on the rest covers
_THREADED_ROWS = 4  # rows at which a second thread shares the work (numpy releases the GIL)

_local = threading.local()
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _buffers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Two float32 work rows for this thread, reused between calls (no page faults per step)."""
    held = getattr(_local, "buffers", None)
    if held is None or held[0].shape[0] < size:
        held = _local.buffers = (np.empty(size, np.float32), np.empty(size, np.float32))
    return held[0][:size], held[1][:size]


def _row_sums(row: np.ndarray, top: float, inverse_t: float | None) -> tuple[float, float | None]:
    """(Z1, ZT or None): sums over the whole row of exp(l - top) and of exp((l - top) / T)."""
    shifted, work = _buffers(row.shape[0])
    np.subtract(row, np.float32(top), out=shifted, casting="same_kind")
    np.exp(shifted, out=work)
    z1 = float(work.sum(dtype=np.float64))
    if inverse_t is None:
        return z1, None
    np.multiply(shifted, np.float32(inverse_t), out=work)
    np.exp(work, out=work)
    return z1, float(work.sum(dtype=np.float64))


def _temperature_sum(row: np.ndarray, top: float, temperature: float) -> float:
    shifted, work = _buffers(row.shape[0])
    np.subtract(row, np.float32(top), out=shifted, casting="same_kind")
    np.multiply(shifted, np.float32(1.0 / temperature), out=work)
    np.exp(work, out=work)
    return float(work.sum(dtype=np.float64))


def _head(row: np.ndarray, top: float, temperature: float, threshold: float):
    """(ids ascending, weights at T, weights at 1) of the tokens whose weight at T is >= threshold."""
    if threshold > 0:
        cutoff = top + temperature * math.log(threshold) - _CUTOFF_SLACK
        ids = np.flatnonzero(row >= cutoff)
    else:
        ids = np.arange(row.shape[0])
    shifted = row[ids].astype(np.float32) - np.float32(top)
    weights = np.exp(shifted * np.float32(1.0 / temperature))
    if threshold > 0:
        keep = weights >= threshold
        ids, shifted, weights = ids[keep], shifted[keep], weights[keep]
    return ids, weights, shifted


def _nucleus(row: np.ndarray, top: float, z1: float, temperature: float, top_p: float, zt: float | None):
    """(token ids, probabilities) of the row's nucleus, most probable first, renormalised."""
    for threshold in _SORT_THRESHOLDS:
        ids, weights, shifted = _head(row, top, temperature, threshold)
        head_mass = weights.sum(dtype=np.float64)
        # Most probable first; ties broken by token id so the order is deterministic.
        order = np.lexsort((ids, -weights))
        cumulative = np.cumsum(weights[order].astype(np.float64))
        if zt is None and temperature < 1 and threshold > 0:
            # Everything outside the head has unit weight u < threshold^T, so its weight at T,
            # u^(1/T) = u * u^(1/T - 1), is below threshold^(1-T) times u.
            rest_unit = max(z1 - float(np.exp(shifted, dtype=np.float32).sum(dtype=np.float64)), 0.0)
            low = head_mass * (1 - 1e-12)
            high = head_mass + threshold ** (1 - temperature) * rest_unit * (1 + _BOUND_SLACK) + head_mass * 1e-12
            if head_mass >= top_p * high:  # the head holds the nucleus whatever ZT is
                first = int(np.searchsorted(cumulative, top_p * low, side="left"))
                last = int(np.searchsorted(cumulative, top_p * high, side="left"))
                if first == last:  # and every ZT in [low, high] ends it at the same token
                    return _kept(ids, weights, order, first + 1)
        if zt is None:
            zt = _temperature_sum(row, top, temperature) if temperature != 1 else z1
        needed = top_p * zt
        if head_mass >= needed or threshold == 0:
            size = int(np.searchsorted(cumulative, needed, side="left")) + 1
            return _kept(ids, weights, order, size)
    raise AssertionError("unreachable: the last cutoff keeps the whole vocabulary")


def _kept(ids, weights, order, size):
    size = min(size, len(order))
    kept = weights[order[:size]].astype(np.float64)
    return ids[order[:size]], kept / kept.sum()


def nucleus_of_row(row: np.ndarray, temperature: float, top_p: float) -> tuple[np.ndarray, np.ndarray]:
    """(token ids, probabilities) of one row's nucleus, most probable first, renormalised."""
    top = float(row.max())
    z1, _ = _row_sums(row, top, None)
    return _nucleus(row, top, z1, temperature, top_p, None)


def _sample_row(row: np.ndarray, temperature: float, top_p: float, uniform: float) -> tuple[int, float]:
    top = float(row.max())
    z1, zt = _row_sums(row, top, 1.0 / temperature if temperature > 1 else None)  # T > 1: no bound, ZT now
    log_total = top + math.log(z1)
    if temperature == 0:
        token = int(np.argmax(row))  # the first maximum
    else:
        kept, probs = _nucleus(row, top, z1, temperature, top_p, zt)
        position = int(np.searchsorted(np.cumsum(probs), uniform, side="right"))
        token = int(kept[min(position, len(kept) - 1)])
    return token, float(row[token]) - log_total


def _shared_pool(workers: int) -> ThreadPoolExecutor:
    """The sampling threads beside the caller's, at least `workers` of them, kept for later calls (a
    smaller pool that another caller may still hold is left to it, not shut down)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pycodex-nucleus")
        return _pool


def sample_with_logprobs(
    logits: np.ndarray | list[np.ndarray], temperature: float, top_p: float, uniforms: np.ndarray, threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """One token per row (argmax at temperature 0, else exact nucleus sampling) and its
    log-probability at temperature 1. logits: a 2-D array or a list of 1-D rows (views of
    llama.cpp's logits buffer will do: nothing is copied); uniforms: one number in [0, 1) per row.

    With several rows and threads > 1, the rows are dealt out to that many threads (row r to
    thread r mod threads; numpy releases the GIL in its passes over a row). A row's result depends
    on that row and its uniform alone, so this changes nothing but the time. The llama backend
    samples on one thread on the CPU (beside llama.cpp's OpenMP threads a second one cost the next
    decode more than it saved) and on its threads with GPU offload (the CPU waits on the GPU)."""
    if isinstance(logits, np.ndarray):
        logits = np.atleast_2d(logits)
    count = len(logits)
    tokens = np.empty(count, dtype=np.int64)
    logprobs = np.empty(count, dtype=np.float64)

    def run(rows: range) -> None:
        for r in rows:
            tokens[r], logprobs[r] = _sample_row(logits[r], temperature, top_p, float(uniforms[r]))

    threads = min(threads, count)
    if threads > 1 and count >= _THREADED_ROWS:
        pool = _shared_pool(threads - 1)
        others = [pool.submit(run, range(t, count, threads)) for t in range(1, threads)]
        run(range(0, count, threads))
        for other in others:
            other.result()
    else:
        run(range(count))
    return tokens, logprobs


def sample_rows(logits: np.ndarray, temperature: float, top_p: float, uniforms: np.ndarray) -> np.ndarray:
    return sample_with_logprobs(logits, temperature, top_p, uniforms)[0]


def token_logprobs(logits: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """log softmax(logits)[token] per row at temperature 1, over the whole row (reference path)."""
    logits = np.atleast_2d(logits).astype(np.float64)
    top = logits.max(axis=1, keepdims=True)
    log_totals = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return logits[np.arange(len(logits)), np.asarray(tokens)] - log_totals
