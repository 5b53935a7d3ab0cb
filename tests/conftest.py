"""Shared fixtures. Every test runs with its own data, cache-free config and db dirs, so nothing
touches the user's real store; the model cache is shared (assembling the GGUF is slow)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("PYCODEX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PYCODEX_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("PYCODEX_DB", raising=False)
    monkeypatch.delenv("PYCODEX_MODEL", raising=False)
    yield


def pycodex_exe() -> list[str]:
    exe = shutil.which("pycodex", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "pycodex"]


def run_cli(*args: str, input: str | None = None, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed `pycodex` as a user would type it."""
    full_env = dict(os.environ)
    full_env.setdefault("COLUMNS", "120")
    if env:
        full_env.update(env)
    return subprocess.run(
        [*pycodex_exe(), *args], input=input, capture_output=True, text=True, timeout=timeout, env=full_env
    )


@pytest.fixture
def cli():
    return run_cli
