"""The user's config file (TOML): a flat table of settings, read and written whole."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pycodex import locations


def load(path: Path | None = None) -> dict[str, Any]:
    path = path or locations.config_file()
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, OSError):
        # A broken config must not stop the program; callers fall back to defaults.
        return {}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def save(values: dict[str, Any], path: Path | None = None) -> None:
    path = path or locations.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{key} = {_toml_value(value)}" for key, value in sorted(values.items()) if value is not None]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def update(**changes: Any) -> dict[str, Any]:
    values = load()
    values.update(changes)
    save(values)
    return values
