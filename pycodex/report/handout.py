"""Handouts: a report drawn once on a recording rich console, saved as HTML and/or SVG (rich's own
export), so a classroom demo can be shared afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from pycodex.errors import UserError

HANDOUT_WIDTH = 110  # columns: the tables and the 78-column plots fit side by side with room


def check_paths(*paths: Path | None) -> None:
    """A handout's folder must exist and the path must not be a folder (one line, before any work)."""
    for path in paths:
        if path is None:
            continue
        if path.is_dir():
            raise UserError(f"{path} is a folder: give a file name for the handout")
        if not path.parent.exists():
            raise UserError(f"cannot write {path}: folder {path.parent} does not exist")


def save_handout(draw: Callable[..., None], *, html: Path | None = None, svg: Path | None = None, title: str = "pycodex report") -> list[Path]:
    """draw(console) once on a recording console; write the HTML and/or SVG; return the paths written."""
    import io

    from rich.console import Console

    console = Console(record=True, file=io.StringIO(), width=HANDOUT_WIDTH, force_terminal=True, color_system="truecolor", highlight=False)
    draw(console)
    written = []
    try:
        if html is not None:
            console.save_html(str(html), clear=False)
            written.append(html)
        if svg is not None:
            console.save_svg(str(svg), title=title, clear=False)
            written.append(svg)
    except OSError as exc:
        raise UserError(f"cannot write the handout: {exc.strerror or exc} ({exc.filename})") from None
    return written
