import itertools
import math
import random

import pytest

from pycodex.errors import UserError
from pycodex.metrics import estimate_pass_at_k, parse_ks, pass_at_k, supported_ks


def brute_force_pass_at_k(n: int, c: int, k: int) -> float:
    """Enumerate every k-subset of n samples (c of them correct): the fraction with a pass."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in subset) for subset in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 11))
def test_matches_enumeration(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force_pass_at_k(n, c, k), abs=1e-12)


def test_matches_combinatorial_form_for_paper_sizes():
    rng = random.Random(0)
    for _ in range(50):
        n = 200
        c = rng.randrange(0, n + 1)
        k = rng.choice([1, 10, 100])
        exact = 1 - math.comb(n - c, k) / math.comb(n, k)
        assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-9, abs=1e-12)


def test_unbiased_not_naive():
    # The naive 1-(1-c/n)^k is biased low; the estimator is not.
    n, c, k = 10, 2, 5
    naive = 1 - (1 - c / n) ** k
    assert pass_at_k(n, c, k) > naive
    assert pass_at_k(n, c, k) == pytest.approx(brute_force_pass_at_k(n, c, k))


def test_edge_cases():
    assert pass_at_k(5, 0, 1) == 0.0
    assert pass_at_k(5, 5, 5) == 1.0
    assert pass_at_k(5, 1, 5) == 1.0  # n - c < k
    assert pass_at_k(200, 1, 1) == pytest.approx(1 / 200)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_k_reported_only_when_every_problem_has_k_samples():
    totals = {"a": (10, 3), "b": (4, 1)}
    assert supported_ks([10, 4], [1, 5, 10]) == [1]
    result = estimate_pass_at_k(totals, [1, 5, 10])
    assert set(result) == {1}
    assert result[1] == pytest.approx((0.3 + 0.25) / 2)


def test_parse_ks():
    assert parse_ks("100,1,10") == [1, 10, 100]
    for bad in ("0", "a,b", "", "-1"):
        with pytest.raises(UserError):
            parse_ks(bad)


def test_format_duration():
    from pycodex.formatting import format_duration

    assert [format_duration(s) for s in (0, 42, 59.6, 125, 3725)] == ["0s", "42s", "1m00s", "2m05s", "1h02m"]
    assert format_duration(None) == "--" and format_duration(None, unknown="?") == "?"
