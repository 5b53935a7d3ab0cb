"""The llama backend's kind: a local GGUF model through llama.cpp (the default)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycodex.errors import UserError
from pycodex.generation.registry import BackendKind, register_backend, runtime

_LOADING = threading.Lock()

DEFAULT_MODEL = "default"  # the bundled Gemma 3 270M GGUF through llama.cpp


@dataclass(frozen=True)
class LlamaOptions:
    model: str | None = None  # a GGUF path or known name; None = the bundled default
    n_gpu_layers: int = runtime(0)
    threads: int | None = runtime()
    ctx: int | None = runtime()
    verbose: bool = runtime(False)


@register_backend
class LlamaKind(BackendKind):
    kind = "llama"
    Options = LlamaOptions
    fallback = True  # any other text names a model
    about = "a local GGUF model, --model"

    @classmethod
    def parse(cls, text: str) -> LlamaOptions:
        return LlamaOptions() if text == DEFAULT_MODEL else LlamaOptions(model=text)

    @classmethod
    def spell(cls, options: Any) -> str:
        return options.model or DEFAULT_MODEL

    @classmethod
    def label(cls, options: Any) -> str:
        return Path(options.model).name if options.model else "Gemma 3 270M (bundled)"

    @classmethod
    def create(cls, options: Any, *, problem_set: Any = None) -> Any:
        return create_llama_backend(
            model=options.model, n_gpu_layers=options.n_gpu_layers, threads=options.threads, ctx=options.ctx, verbose=options.verbose
        )


def create_llama_backend(
    *,
    model: str | None = None,
    hf_repo: str | None = None,
    hf_file: str | None = None,
    n_gpu_layers: int = 0,
    threads: int | None = None,
    ctx: int | None = None,
    verbose: bool = False,
    show_progress: bool | None = None,
    samples: int | None = None,
):
    """The model chosen by pycodex.generation.models' rules (the bundled one is assembled on first use).
    samples: the most it will run, when known (its slot count needs no more: a faster start)."""
    import sys

    from pycodex.generation.llama.backend import LlamaBackend
    from pycodex.generation.models import resolve_model

    if threads is not None and threads <= 0:
        raise UserError(f"--threads must be at least 1 (got {threads})")
    if ctx is not None and ctx < 16:
        raise UserError(f"--ctx must be at least 16 tokens (got {ctx})")
    if n_gpu_layers < -1:
        raise UserError(f"--n-gpu-layers must be -1 (all), 0 (CPU only) or a layer count (got {n_gpu_layers})")
    progress = sys.stderr.isatty() if show_progress is None else show_progress
    with _LOADING:  # two models loading at once in one process crash llama.cpp (a versus loads two)
        choice = resolve_model(model, hf_repo=hf_repo, hf_file=hf_file, show_progress=progress)
        return LlamaBackend(
            choice.path,
            n_threads=threads,
            n_gpu_layers=n_gpu_layers,
            n_ctx=ctx,
            verbose=verbose,
            model_rule=choice.rule,
            samples=samples,
        )
