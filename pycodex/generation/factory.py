"""One place that turns a backend name and options into a Backend."""

from __future__ import annotations

from pycodex.errors import UserError
from pycodex.generation.base import Backend

BACKEND_KINDS = ("llama", "canonical", "samples")


def create_backend(
    kind: str = "llama",
    *,
    model: str | None = None,
    n_gpu_layers: int = 0,
    threads: int | None = None,
    ctx: int | None = None,
    verbose: bool = False,
    samples_file: str | None = None,
    problem_set=None,
) -> Backend:
    if kind == "canonical":
        from pycodex.generation.replay import CanonicalBackend
        from pycodex.problems import load

        return CanonicalBackend(problem_set or load())
    if kind == "samples":
        from pycodex.generation.replay import SamplesBackend

        if not samples_file:
            raise UserError("the samples backend needs --samples-file FILE.jsonl")
        return SamplesBackend(samples_file, problem_set)
    if kind == "llama":
        # Filled in by the llama backend (issue 3).
        from pycodex.generation.llama_backend import LlamaBackend

        return LlamaBackend(model=model, n_gpu_layers=n_gpu_layers, threads=threads, ctx=ctx, verbose=verbose)
    raise UserError(f"unknown backend {kind!r}: choose one of {', '.join(BACKEND_KINDS)}")
