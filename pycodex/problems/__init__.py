"""Problems: Problem and ProblemSet (problem.py: a set, selections like `0-19`), the named sets
(sets.py: load_named, load), the paper's section 6 chains (chains.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycodex import faces

__all__ = ["Problem", "ProblemSet", "load_named", "load", "prepare"]
__getattr__ = faces.lazy(__name__, {"Problem": "problem", "ProblemSet": "problem", "load_named": "sets", "load": "sets",
                                    "prepare": "sets"})

if TYPE_CHECKING:
    from pycodex.problems.problem import Problem, ProblemSet
    from pycodex.problems.sets import load, load_named, prepare
