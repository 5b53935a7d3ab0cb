"""One place that turns a backend name and options into a Backend."""

from __future__ import annotations

from pycodex.errors import UserError
from pycodex.generation.base import Backend

BACKEND_KINDS = ("llama", "canonical", "samples", "server")


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
    servers: list[str] | None = None,
    server_model: str | None = None,
    chat: bool = False,
    server_slots: int | None = None,
    server_timeout: float | None = None,
    server_retries: int | None = None,
) -> Backend:
    if kind == "canonical":
        from pycodex.generation.replay import CanonicalBackend
        from pycodex.problems.problem import load

        return CanonicalBackend(problem_set or load())
    if kind == "samples":
        from pycodex.generation.replay import SamplesBackend

        if not samples_file:
            raise UserError("the samples backend needs --samples-file FILE.jsonl")
        return SamplesBackend(samples_file, problem_set)
    if kind == "server":
        from pycodex.generation.server.backend import ServerBackend

        if not servers:
            raise UserError("the server backend needs --server URL")
        return ServerBackend(
            servers, model=server_model, chat=chat, slots=server_slots, timeout=server_timeout, retries=server_retries
        )
    if kind == "llama":
        return create_llama_backend(model=model, n_gpu_layers=n_gpu_layers, threads=threads, ctx=ctx, verbose=verbose)
    raise UserError(f"unknown backend {kind!r}: choose one of {', '.join(BACKEND_KINDS)}")


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
