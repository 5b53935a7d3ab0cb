"""Generation backends: one interface (base.py), kinds registered in registry.py.

Face: Backend, SamplingParams, TextDelta, SampleFinished (base.py), register_backend, BackendKind
and runtime (registry.py: how a backend declares itself), BackendSpec (spec.py: a kind and its
options in one string), create_backend (factory.py). The kinds: llama/ (llama.cpp), server/
(OpenAI-compatible servers), replay.py (canonical, samples, import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycodex import faces

__all__ = ["Backend", "SamplingParams", "TextDelta", "SampleFinished", "register_backend", "BackendKind", "runtime", "BackendSpec", "create_backend"]
__getattr__ = faces.lazy(__name__, {
    "Backend": "base", "SamplingParams": "base", "TextDelta": "base", "SampleFinished": "base",
    "register_backend": "registry", "BackendKind": "registry", "runtime": "registry", "BackendSpec": "spec", "create_backend": "factory",
})

if TYPE_CHECKING:
    from pycodex.generation.base import Backend, SampleFinished, SamplingParams, TextDelta
    from pycodex.generation.factory import create_backend
    from pycodex.generation.registry import BackendKind, register_backend, runtime
    from pycodex.generation.spec import BackendSpec
