"""Exact nucleus (top-p) sampling over the full vocabulary, and the paper's log-probabilities.

The paper samples with nucleus sampling, top_p = 0.95, and nothing else: no top-k, no min-p.
For each row of logits (one per live sequence):

1. p = softmax(logits / T) over the whole vocabulary (Gemma: 262,144 tokens).
2. The nucleus is the smallest set of most probable tokens whose mass reaches top_p
   (the token that crosses top_p is kept).
3. Sample from p restricted to the nucleus, renormalised.

Finding the nucleus needs no full sort. One pass over the row keeps the candidates: the tokens
within 30·max(T, 1) nats of the top logit. Every other token has weight below e^-30 (about
1e-13) at temperature T and at temperature 1, so all of them together hold under 3e-8 of the
mass: below float32 resolution, and never inside a nucleus with top_p < 1. The softmax sums, the
sort and the cumulative mass are computed on the candidates only (float32 exponentials, float64
sums), and only the candidates above 1e-4 of the top weight are sorted (lower thresholds
when those do not reach top_p). The result is the same set and distribution as a full sort over the whole vocabulary
(tests check this against a reference), at a fraction of the cost.

The ranking signal the paper uses, log p(token) at temperature 1 (log-softmax of the raw
logits), comes out of the same pass.
"""

from __future__ import annotations

import numpy as np

NEGLIGIBLE_NATS = 30.0  # weights below e^-30 of the top one are treated as zero
_SORT_THRESHOLDS = (1e-4, 1e-8, 0.0)  # fractions of the top weight, tried in turn


def _candidates(row: np.ndarray, temperature: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(ids, their logits minus the top one, top logit) of the tokens that matter at temperature T and at 1."""
    top = float(row.max())
    ids = np.flatnonzero(row >= top - NEGLIGIBLE_NATS * max(temperature, 1.0))
    return ids, row[ids].astype(np.float32) - np.float32(top), top


def nucleus_of_row(row: np.ndarray, temperature: float, top_p: float) -> tuple[np.ndarray, np.ndarray]:
    """(token ids, probabilities) of one row's nucleus, most probable first, renormalised."""
    ids, shifted, _ = _candidates(row, temperature)
    return _nucleus(ids, shifted, temperature, top_p)


def _nucleus(ids, shifted, temperature, top_p, weights=None):
    if weights is None:
        weights = np.exp(shifted * np.float32(1.0 / temperature))
    needed = top_p * weights.sum(dtype=np.float64)
    # Sort only the tokens that can be in the nucleus: if the tokens above a threshold already
    # hold top_p of the mass, the nucleus is among them (all others are less probable).
    for threshold in _SORT_THRESHOLDS:
        chosen = np.flatnonzero(weights >= threshold)
        if weights[chosen].sum(dtype=np.float64) >= needed:
            break
    # Most probable first; ties broken by token id so the order is deterministic.
    order = chosen[np.lexsort((ids[chosen], -weights[chosen]))]
    ordered = weights[order].astype(np.float64)
    cumulative = np.cumsum(ordered)
    size = min(int(np.searchsorted(cumulative, needed, side="left")) + 1, len(order))
    kept = ordered[:size]
    return ids[order[:size]], kept / kept.sum()


def sample_with_logprobs(
    logits: np.ndarray | list[np.ndarray], temperature: float, top_p: float, uniforms: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One token per row (argmax at temperature 0, else exact nucleus sampling) and its
    log-probability at temperature 1. logits: a 2-D array or a list of 1-D rows (no copy needed);
    uniforms: one number in [0, 1) per row."""
    if isinstance(logits, np.ndarray):
        logits = np.atleast_2d(logits)
    tokens = np.empty(len(logits), dtype=np.int64)
    logprobs = np.empty(len(logits), dtype=np.float64)
    for r, row in enumerate(logits):
        ids, values, top = _candidates(row, temperature)
        unit_weights = np.exp(values)
        log_total = top + float(np.log(unit_weights.sum(dtype=np.float64)))
        if temperature == 0:
            token = int(ids[np.argmax(values)])  # the first maximum, as np.argmax over the row
        else:
            kept, probs = _nucleus(ids, values, temperature, top_p, unit_weights if temperature == 1 else None)
            position = int(np.searchsorted(np.cumsum(probs), uniforms[r], side="right"))
            token = int(kept[min(position, len(kept) - 1)])
        tokens[r] = token
        logprobs[r] = float(row[token]) - log_total
    return tokens, logprobs


def sample_rows(logits: np.ndarray, temperature: float, top_p: float, uniforms: np.ndarray) -> np.ndarray:
    return sample_with_logprobs(logits, temperature, top_p, uniforms)[0]


def token_logprobs(logits: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """log softmax(logits)[token] per row at temperature 1, over the whole row (reference path)."""
    logits = np.atleast_2d(logits).astype(np.float64)
    top = logits.max(axis=1, keepdims=True)
    log_totals = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return logits[np.arange(len(logits)), np.asarray(tokens)] - log_totals
