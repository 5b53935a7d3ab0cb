"""The versus screens: VersusScreen (dashboard.py: both grids, the solved-by grid, pass@k and B - A),
VersusForm (form.py: what A and B are), VersusProblemScreen (problem.py: A's and B's samples side
by side); session.py runs the versus for them (pycodex.runs.versus.Versus on a thread worker)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycodex import faces

__all__ = ["VersusScreen", "VersusForm", "VersusProblemScreen"]
__getattr__ = faces.lazy(__name__, {"VersusScreen": "dashboard", "VersusForm": "form", "VersusProblemScreen": "problem"})

if TYPE_CHECKING:
    from pycodex.tui.screens.versus.dashboard import VersusScreen
    from pycodex.tui.screens.versus.form import VersusForm
    from pycodex.tui.screens.versus.problem import VersusProblemScreen
