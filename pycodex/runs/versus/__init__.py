"""A versus: two runs, A and B, on the same problems with the same seed at once, linked in the store.

Face: Side (a side as asked: a backend and its temperature, or a stored run), plan_versus and
VersusPlan (each side's config and the stored run it continues), Versus (both pipelines at once,
one shared executor) in pair.py; VersusState (the live state of both sides) in state.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycodex import faces

__all__ = ["Side", "STORED_PREFIX", "VersusPlan", "plan_versus", "Versus", "VersusState"]
__getattr__ = faces.lazy(__name__, {
    "Side": "pair", "STORED_PREFIX": "pair", "VersusPlan": "pair", "plan_versus": "pair", "Versus": "pair", "VersusState": "state",
})

if TYPE_CHECKING:
    from pycodex.runs.versus.pair import STORED_PREFIX, Side, Versus, VersusPlan, plan_versus
    from pycodex.runs.versus.state import VersusState
