"""The numpy nucleus sampler against a straightforward full-sort reference, on fixed logits."""

from __future__ import annotations

import numpy as np
import pytest

from pycodex.generation.llama.nucleus import nucleus_of_row, sample_rows, sample_with_logprobs, token_logprobs

VOCAB = 262_144  # Gemma's vocabulary size: the sampler must handle it whole


def reference_nucleus(logits: np.ndarray, temperature: float, top_p: float) -> dict[int, float]:
    """Textbook nucleus sampling: softmax, full sort, smallest prefix reaching top_p, renormalise."""
    scaled = logits.astype(np.float64) / temperature
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    order = np.argsort(-probs, kind="stable")
    cumulative = np.cumsum(probs[order])
    size = int(np.searchsorted(cumulative, top_p, side="left")) + 1
    kept = order[:size]
    return dict(zip(kept.tolist(), (probs[kept] / probs[kept].sum()).tolist()))


def fixed_logits(seed: int, vocab: int = VOCAB, spread: float = 3.0, peaks: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal(vocab) * spread).astype(np.float32)
    logits[rng.choice(vocab, peaks, replace=False)] += rng.uniform(8, 20, peaks).astype(np.float32)
    return logits


def ours(logits: np.ndarray, temperature: float, top_p: float) -> dict[int, float]:
    ids, probs = nucleus_of_row(logits, temperature, top_p)
    return dict(zip(ids.tolist(), probs.tolist()))


@pytest.mark.parametrize(
    "seed, temperature, top_p, spread",
    [(0, 0.8, 0.95, 3.0), (1, 0.2, 0.95, 3.0), (2, 1.0, 0.5, 3.0), (3, 0.8, 0.95, 0.5), (4, 1.5, 0.99, 1.0)],
)
def test_same_kept_set_and_probabilities_as_full_sort(seed, temperature, top_p, spread):
    logits = fixed_logits(seed, spread=spread)
    expected = reference_nucleus(logits, temperature, top_p)
    got = ours(logits, temperature, top_p)
    assert set(got) == set(expected)
    keys = sorted(expected)
    np.testing.assert_allclose([got[k] for k in keys], [expected[k] for k in keys], rtol=1e-5, atol=1e-9)


def test_flat_distribution_needs_many_candidates():
    # Nearly uniform logits: the nucleus holds most of the vocabulary, beyond every threshold shortcut.
    logits = fixed_logits(5, spread=0.01, peaks=0)
    got = ours(logits, 1.0, 0.95)
    expected = reference_nucleus(logits, 1.0, 0.95)
    assert len(got) > 200_000
    assert set(got) == set(expected)


def test_top_p_one_keeps_everything_with_mass():
    logits = fixed_logits(6, vocab=1000, spread=1.0)
    assert len(ours(logits, 1.0, 1.0)) == 1000


def test_sampled_frequencies_follow_the_nucleus_distribution():
    logits = fixed_logits(7, vocab=4096, spread=1.0, peaks=6)
    logits[:6] = np.float32([9.0, 8.6, 8.3, 8.0, 7.5, 7.0])  # a readable head
    expected = reference_nucleus(logits, 0.9, 0.9)
    draws = 20_000
    rng = np.random.default_rng(1234)
    rows = np.broadcast_to(logits, (draws, len(logits)))
    tokens = np.concatenate([sample_rows(rows[i : i + 2000], 0.9, 0.9, rng.random(2000)) for i in range(0, draws, 2000)])
    assert set(np.unique(tokens).tolist()) <= set(expected)
    counts = np.bincount(tokens, minlength=len(logits))
    keys = np.array(sorted(expected))
    expected_counts = np.array([expected[k] for k in keys]) * draws
    big = expected_counts >= 5  # chi-square on cells with enough expected counts, the rest pooled
    observed = np.append(counts[keys[big]], counts[keys[~big]].sum())
    wanted = np.append(expected_counts[big], expected_counts[~big].sum())
    wanted_ok = wanted > 0
    chi2 = float((((observed - wanted) ** 2)[wanted_ok] / wanted[wanted_ok]).sum())
    dof = int(wanted_ok.sum()) - 1
    assert chi2 < dof + 6 * np.sqrt(2 * dof), (chi2, dof)


def test_vectorised_rows_are_independent_and_seeded():
    logits = np.stack([fixed_logits(s, vocab=50_000) for s in range(4)])
    first = sample_rows(logits, 0.8, 0.95, np.random.default_rng(9).random(4))
    again = sample_rows(logits, 0.8, 0.95, np.random.default_rng(9).random(4))
    assert first.tolist() == again.tolist()
    for row in range(4):
        assert int(first[row]) in reference_nucleus(logits[row], 0.8, 0.95)


def test_temperature_zero_is_argmax():
    logits = np.stack([fixed_logits(s, vocab=10_000) for s in range(3)])
    assert sample_rows(logits, 0.0, 0.95, np.zeros(3)).tolist() == logits.argmax(axis=1).tolist()


def test_logprobs_are_log_softmax_at_temperature_one():
    logits = fixed_logits(8, vocab=30_000)
    tokens = np.array([0, 17, int(logits.argmax())])
    rows = np.broadcast_to(logits, (3, len(logits)))
    shifted = logits.astype(np.float64) - logits.max()
    expected = shifted[tokens] - np.log(np.exp(shifted).sum())
    got = token_logprobs(rows, tokens)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert np.all(got <= 0)


def test_sampling_returns_the_full_vocabulary_logprob_of_each_token():
    logits = np.stack([fixed_logits(s, spread=s + 0.5) for s in range(3)])
    for temperature in (0.0, 0.2, 1.0, 1.7):
        tokens, logprobs = sample_with_logprobs(logits, temperature, 0.95, np.random.default_rng(2).random(3))
        np.testing.assert_allclose(logprobs, token_logprobs(logits, tokens), rtol=1e-6, atol=1e-9)


def previous_sample_with_logprobs(logits, temperature, top_p, uniforms):
    """The sampler before the head/bound rewrite, verbatim in substance: candidates within
    30*max(T, 1) nats of the top, sums over them, sorted above 1e-4 (then 1e-8, then all)."""
    tokens, logprobs = [], []
    for row, uniform in zip(logits, uniforms):
        top = float(row.max())
        ids = np.flatnonzero(row >= top - 30.0 * max(temperature, 1.0))
        values = row[ids].astype(np.float32) - np.float32(top)
        unit = np.exp(values)
        log_total = top + float(np.log(unit.sum(dtype=np.float64)))
        if temperature == 0:
            token = int(ids[np.argmax(values)])
        else:
            weights = unit if temperature == 1 else np.exp(values * np.float32(1.0 / temperature))
            needed = top_p * weights.sum(dtype=np.float64)
            for threshold in (1e-4, 1e-8, 0.0):
                chosen = np.flatnonzero(weights >= threshold)
                if weights[chosen].sum(dtype=np.float64) >= needed:
                    break
            order = chosen[np.lexsort((ids[chosen], -weights[chosen]))]
            ordered = weights[order].astype(np.float64)
            size = min(int(np.searchsorted(np.cumsum(ordered), needed, side="left")) + 1, len(order))
            kept = ordered[:size]
            probs = kept / kept.sum()
            position = int(np.searchsorted(np.cumsum(probs), uniform, side="right"))
            token = int(ids[order[min(position, size - 1)]])
        tokens.append(token)
        logprobs.append(float(row[token]) - log_total)
    return np.array(tokens), np.array(logprobs)


@pytest.mark.parametrize("temperature, top_p", [(0.8, 0.95), (0.2, 0.95), (1.0, 0.9), (1.0, 0.9995), (1.6, 0.99), (0.0, 0.95), (0.5, 0.6), (0.95, 0.999)])
def test_same_tokens_as_the_previous_implementation(temperature, top_p):
    # peaked rows (the head decides), flatter ones (the bound on the rest does not: ZT is summed),
    # near-uniform ones (the head never holds top_p: lower cutoffs), at several temperatures
    rows = [fixed_logits(s, spread=spread, peaks=peaks) for s, (spread, peaks) in enumerate([(3.0, 5), (1.0, 40), (0.3, 3), (6.0, 1), (0.05, 0), (2.0, 200)] * 2)]
    broad = np.full(VOCAB, -10.0, np.float32)  # one token, then a wide tail just under 1e-4 of it
    broad[7] = 0.0
    far = np.full(VOCAB, -19.0, np.float32)  # the tail under 1e-8 of the top holds more than 1 - top_p
    far[3] = 0.0
    logits = np.stack(rows + [broad, far])
    uniforms = np.random.default_rng(11).random((4, len(logits)))
    for u in uniforms:
        want_tokens, want_logprobs = previous_sample_with_logprobs(logits, temperature, top_p, u)
        tokens, logprobs = sample_with_logprobs(logits, temperature, top_p, u)
        assert tokens.tolist() == want_tokens.tolist()
        # the sums now run over the whole vocabulary (the previous window left out < 3e-8 of the mass)
        np.testing.assert_allclose(logprobs, want_logprobs, rtol=0, atol=1e-7)


def test_rows_on_several_threads_equal_rows_on_one():
    logits = np.stack([fixed_logits(s, spread=1.0 + s % 3, peaks=5 + s) for s in range(9)])
    uniforms = np.random.default_rng(3).random(9)
    one = sample_with_logprobs(logits, 0.8, 0.95, uniforms, threads=1)
    for threads in (2, 4, 16):  # (16: more threads than rows)
        many = sample_with_logprobs(list(logits), 0.8, 0.95, uniforms, threads=threads)
        assert one[0].tolist() == many[0].tolist() and one[1].tolist() == many[1].tolist()
    # and a row's result does not depend on the rows beside it
    alone = [sample_with_logprobs(logits[i : i + 1], 0.8, 0.95, uniforms[i : i + 1]) for i in range(9)]
    assert [int(t[0]) for t, _ in alone] == one[0].tolist()
    assert [float(lp[0]) for _, lp in alone] == one[1].tolist()
