"""Every path pycodex reads or writes on the user's machine, in one place."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "pycodex"
PACKAGE_DIR = Path(__file__).resolve().parent
# A checkout (or editable install) keeps data beside the package; a wheel carries it inside.
_REPO_DIR = PACKAGE_DIR.parent


def _bundled(name: str) -> Path:
    inside = PACKAGE_DIR / "_data" / name
    return inside if inside.exists() else _REPO_DIR / name


def problems_file() -> Path:
    """The bundled HumanEval file."""
    return _bundled("problems") / "HumanEval.jsonl.gz"


def bundled_problems_dir() -> Path:
    """problems/: HumanEval and EvalPlus's releases (pycodex/problems/evalplus.py)."""
    return _bundled("problems")


def builtin_themes_dir() -> Path:
    return _bundled("themes")


def _platform_dir(kind: str) -> Path:
    import platformdirs

    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """Run store and other durable state; PYCODEX_DATA_DIR overrides."""
    env = os.environ.get("PYCODEX_DATA_DIR")
    return Path(env) if env else _platform_dir("data")


def cache_dir() -> Path:
    """Assembled model files and other re-creatable things; PYCODEX_CACHE_DIR overrides."""
    env = os.environ.get("PYCODEX_CACHE_DIR")
    return Path(env) if env else _platform_dir("cache")


def config_dir() -> Path:
    """config.toml and the user's own themes; PYCODEX_CONFIG_DIR overrides."""
    env = os.environ.get("PYCODEX_CONFIG_DIR")
    return Path(env) if env else _platform_dir("config")


def config_file() -> Path:
    return config_dir() / "config.toml"


def user_themes_dir() -> Path:
    return config_dir() / "themes"


def default_db_path() -> Path:
    """The SQLite run store; PYCODEX_DB or --db overrides."""
    env = os.environ.get("PYCODEX_DB")
    return Path(env) if env else data_dir() / "runs.sqlite3"


def screenshots_dir() -> Path:
    """Where the TUI saves screens as SVG (F12)."""
    return data_dir() / "screenshots"
