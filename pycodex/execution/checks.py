"""The execution settings' limits, checked by the executor itself and by a front end before
anything runs: a bad value is one line (UserError, exit 2)."""

from __future__ import annotations

from pycodex.errors import UserError

MIN_MEMORY_MB = 16  # below this CPython itself cannot start


def check_judge(judge: str) -> str:
    """A bad --judge is one line and exit 2."""
    from pycodex.execution.verdict import JUDGES

    if judge not in JUDGES:
        raise UserError(f"bad --judge {judge!r}: choose {' or '.join(JUDGES)}")
    return judge


def check_limits(timeout: float, memory_limit_mb: int, workers: int | None) -> None:
    if not timeout > 0:
        raise UserError(f"bad --timeout {timeout}: must be a positive number of seconds")
    if memory_limit_mb < MIN_MEMORY_MB:
        raise UserError(f"bad --memory-limit {memory_limit_mb}: must be at least {MIN_MEMORY_MB} MiB")
    if workers is not None and workers < 1:
        raise UserError(f"bad --workers {workers}: must be at least 1")
