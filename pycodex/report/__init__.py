"""Reports of a stored run: build_report (build.py: the data, pass@k with intervals, ranking,
BLEU), render_report and render_compare (render.py: tables and charts); sets.py (per-set rows),
paired.py (two runs compared), handout.py (HTML/SVG)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycodex import faces

__all__ = ["build_report", "render_report", "render_compare"]
__getattr__ = faces.lazy(__name__, {"build_report": "build", "render_report": "render", "render_compare": "render"})

if TYPE_CHECKING:
    from pycodex.report.build import build_report
    from pycodex.report.render import render_compare, render_report
