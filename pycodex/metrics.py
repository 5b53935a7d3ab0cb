"""pass@k, the unbiased estimator of Chen et al. (2021), in its numerically stable form."""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k): the chance that at least one of k samples drawn from n passes."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n} c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n} k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def supported_ks(sample_counts: Iterable[int], wanted: Sequence[int]) -> list[int]:
    """The ks that every problem supports (each has at least k samples)."""
    counts = list(sample_counts)
    if not counts:
        return []
    least = min(counts)
    return [k for k in wanted if 1 <= k <= least]


def estimate_pass_at_k(totals: Mapping[str, tuple[int, int]], ks: Sequence[int]) -> dict[int, float]:
    """Average pass@k over problems. totals: task_id -> (n, c). Only supported ks are reported."""
    result: dict[int, float] = {}
    for k in supported_ks((n for n, _ in totals.values()), ks):
        result[k] = float(np.mean([pass_at_k(n, c, k) for n, c in totals.values()]))
    return result


def parse_ks(text: str) -> list[int]:
    """'1,10,100' -> [1, 10, 100]; anything else is a UserError."""
    from pycodex.errors import UserError

    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise UserError(f"bad --k value {text!r}: expected comma-separated positive integers like 1,10,100") from None
    if not ks or ks[0] < 1:
        raise UserError(f"bad --k value {text!r}: every k must be a positive integer")
    return ks
