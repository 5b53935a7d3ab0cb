"""Exact nucleus (top-p) sampling over the full vocabulary, vectorised over sequences.

The paper samples with nucleus sampling, top_p = 0.95, and nothing else: no top-k, no min-p.
For each row of logits (one per live sequence):

1. p = softmax(logits / T) over the whole vocabulary (Gemma: 262,144 tokens).
2. The nucleus is the smallest set of most probable tokens whose mass reaches top_p
   (the token that crosses top_p is kept).
3. Sample from p restricted to the nucleus, renormalised.

Finding the nucleus does not need a full sort. Every token at least as probable as a
threshold t is a candidate; if the candidates' mass already reaches top_p, the nucleus is
inside them (any token outside is less probable than every candidate), so sorting the few
candidates is enough. The threshold starts at 1e-4 of the top probability and is lowered
until the mass suffices; the last resort is the whole vocabulary. The result is the same
set and the same distribution as a full sort (tests check this against a reference).

The ranking signal the paper uses, log p(token) at temperature 1, comes from
`token_logprobs` (log-softmax of the raw logits).
"""

from __future__ import annotations

import numpy as np

# Candidate thresholds, as a fraction of the most probable token's probability.
_THRESHOLDS = (1e-4, 1e-8, 1e-16, 1e-32)


def scaled_exp(logits: np.ndarray, temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """exp((logits - max) / T) per row (float32, max is 1) and its row sums (float64)."""
    logits = np.atleast_2d(logits)
    weights = np.subtract(logits, logits.max(axis=1, keepdims=True), dtype=np.float32)
    if temperature != 1.0:
        weights *= np.float32(1.0 / temperature)
    np.exp(weights, out=weights)
    return weights, weights.sum(axis=1, dtype=np.float64)


def token_logprobs(logits: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """log softmax(logits)[token] per row, at temperature 1 (the paper's ranking signal)."""
    logits = np.atleast_2d(logits)
    tokens = np.asarray(tokens)
    weights, totals = scaled_exp(logits, 1.0)
    rows = np.arange(len(logits))
    top = logits.max(axis=1).astype(np.float64)
    return logits[rows, tokens].astype(np.float64) - top - np.log(totals)


def nucleus_of_row(weights: np.ndarray, total: float, top_p: float) -> tuple[np.ndarray, np.ndarray]:
    """(token ids, probabilities) of one row's nucleus, most probable first, probabilities renormalised.

    weights: exp((logits - max) / T) for the row (max 1.0); total: their sum.
    """
    needed = top_p * total
    for threshold in _THRESHOLDS:
        candidates = np.flatnonzero(weights >= threshold)
        mass = weights[candidates].sum(dtype=np.float64)
        if mass >= needed:
            break
    else:
        candidates = np.arange(len(weights))
    # Most probable first; ties broken by token id so the order is deterministic.
    order = np.lexsort((candidates, -weights[candidates]))
    ids = candidates[order]
    kept_weights = weights[ids].astype(np.float64)
    cumulative = np.cumsum(kept_weights)
    size = int(np.searchsorted(cumulative, needed, side="left")) + 1
    size = min(size, len(ids))
    kept = kept_weights[:size]
    return ids[:size], kept / kept.sum()


def sample_rows(logits: np.ndarray, temperature: float, top_p: float, uniforms: np.ndarray) -> np.ndarray:
    """One token per row of logits: greedy when temperature is 0, else exact nucleus sampling.

    uniforms: one number in [0, 1) per row (each sequence's own seeded generator draws it).
    """
    logits = np.atleast_2d(logits)
    if temperature == 0:
        return logits.argmax(axis=1)
    weights, totals = scaled_exp(logits, temperature)
    chosen = np.empty(len(logits), dtype=np.int64)
    for row in range(len(logits)):
        ids, probs = nucleus_of_row(weights[row], totals[row], top_p)
        position = int(np.searchsorted(np.cumsum(probs), uniforms[row] * probs.sum(), side="right"))
        chosen[row] = ids[min(position, len(ids) - 1)]
    return chosen


def sample_with_logprobs(
    logits: np.ndarray, temperature: float, top_p: float, uniforms: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Tokens per row and their log-probabilities at temperature 1."""
    tokens = sample_rows(logits, temperature, top_p, uniforms)
    return tokens, token_logprobs(logits, tokens)
