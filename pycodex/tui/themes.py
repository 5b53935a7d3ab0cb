"""Themes as data: TOML files (UI colors + a pygments style for code) turned into textual Themes.

Built-in themes live in `locations.builtin_themes_dir()`; users drop their own `*.toml` into
`locations.user_themes_dir()`. A broken file is reported (the app shows a notification) and
skipped; it never stops the app.

File format::

    name = "my-theme"          # optional, defaults to the file name
    dark = true
    pygments_style = "monokai" # any pygments style name
    [colors]                   # textual Theme fields
    primary = "#4C9BE8"        # required
    secondary = "..."  accent = "..."  foreground = "..."  background = "..."
    surface = "..."  panel = "..."  success = "..."  warning = "..."  error = "..."  boost = "..."
    [variables]                # optional textual design variables
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycodex import locations

DEFAULT_THEME = "codex-dark"
DEFAULT_PYGMENTS_STYLE = "monokai"
COLOR_FIELDS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
    "success",
    "warning",
    "error",
)


@dataclass
class ThemeSpec:
    name: str
    dark: bool
    pygments_style: str
    colors: dict[str, str]
    variables: dict[str, str] = field(default_factory=dict)
    source: Path | None = None

    def to_textual(self):
        from textual.theme import Theme

        colors: dict[str, Any] = dict(self.colors)
        return Theme(name=self.name, dark=self.dark, variables=dict(self.variables), **colors)


class ThemeError(Exception):
    """A theme file that cannot be used; the message is one line for a notification."""


def _check_color(value: object, where: str) -> str:
    from textual.color import Color, ColorParseError

    if not isinstance(value, str):
        raise ThemeError(f"{where} must be a color string")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeError(f"{where} = {value!r} is not a color") from None
    return value


def parse_theme(path: Path) -> ThemeSpec:
    """Read and validate one theme file; raises ThemeError with a one-line reason."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{path.name}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ThemeError(f"{path.name}: unreadable ({exc.strerror or exc})") from None
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise ThemeError(f"{path.name}: name must be a non-empty string")
    colors_in = data.get("colors")
    if not isinstance(colors_in, dict):
        raise ThemeError(f"{path.name}: missing [colors] table")
    unknown = sorted(set(colors_in) - set(COLOR_FIELDS))
    if unknown:
        raise ThemeError(f"{path.name}: unknown color(s) {', '.join(unknown)}")
    if "primary" not in colors_in:
        raise ThemeError(f"{path.name}: [colors] needs at least primary")
    colors = {key: _check_color(value, f"{path.name}: colors.{key}") for key, value in colors_in.items()}
    style = data.get("pygments_style", DEFAULT_PYGMENTS_STYLE)
    if not isinstance(style, str):
        raise ThemeError(f"{path.name}: pygments_style must be a string")
    from pygments.styles import get_all_styles

    if style not in set(get_all_styles()):
        raise ThemeError(f"{path.name}: unknown pygments style {style!r}")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ThemeError(f"{path.name}: [variables] must map names to strings")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{path.name}: dark must be true or false")
    spec = ThemeSpec(name=name.strip(), dark=dark, pygments_style=style, colors=colors, variables=variables, source=path)
    try:
        spec.to_textual().to_color_system()
    except Exception as exc:  # textual rejects it: report, don't crash
        raise ThemeError(f"{path.name}: {exc}") from None
    return spec


def load_themes(dirs: list[Path] | None = None) -> tuple[list[ThemeSpec], list[str]]:
    """All themes in the given dirs (built-in then user's); later files override earlier names.

    Returns (themes, errors) where errors are one-line messages for broken files.
    """
    if dirs is None:
        dirs = [locations.builtin_themes_dir(), locations.user_themes_dir()]
    found: dict[str, ThemeSpec] = {}
    errors: list[str] = []
    for directory in dirs:
        try:
            files = sorted(Path(directory).glob("*.toml"))
        except OSError:
            continue
        for path in files:
            try:
                spec = parse_theme(path)
            except ThemeError as exc:
                errors.append(f"theme {exc}")
                continue
            found[spec.name] = spec
    return list(found.values()), errors
