"""A package's public face, loaded on first use: `__getattr__ = faces.lazy(__name__, {...})` in its
`__init__` names what the package offers and the module each name lives in, and imports that
module only when the name is asked for (so `import pycodex.store.records` stays light)."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """names: public name -> the module (relative to the package) that defines it."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return __getattr__
