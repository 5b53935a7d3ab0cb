"""The headless core never imports textual: only pycodex.tui (and the `tui` command, lazily) may."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r"""
import importlib, json, pkgutil, sys
import pycodex
names = sorted(m.name for m in pkgutil.walk_packages(pycodex.__path__, "pycodex."))
core = [n for n in names if not (n == "pycodex.tui" or n.startswith("pycodex.tui."))]
failed = {}
for name in core:
    try:
        importlib.import_module(name)
    except Exception as exc:  # a module that cannot import is reported, not hidden
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"core": core, "failed": failed, "textual": sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))}))
"""


def test_every_core_module_imports_without_textual():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "pycodex.runs.pipeline" in result["core"] and "pycodex.cli.app" in result["core"]
    assert not result["failed"], result["failed"]
    assert result["textual"] == [], f"textual imported by the core: {result['textual'][:5]}"

