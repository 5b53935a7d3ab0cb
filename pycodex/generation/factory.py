"""One place that turns a backend kind and its options into a Backend (the kind decides how:
pycodex.generation.registry)."""

from __future__ import annotations

from typing import Any

from pycodex.generation import registry
from pycodex.generation.base import Backend


def create_backend(kind: str = "llama", *, problem_set: Any = None, **options: Any) -> Backend:
    """options: the kind's own (flat, as stored in a RunConfig); other kinds' options are ignored."""
    found = registry.backend_kind(kind)
    return found.create(registry.options_of(kind, options), problem_set=problem_set)
