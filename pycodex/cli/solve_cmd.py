"""`pycodex solve`: a function from a docstring, sampled, checked on its own examples, ranked."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from pycodex.cli import server_opts
from pycodex.cli.common import JsonOption, JudgeOption, check_judge, console, print_json
from pycodex.errors import UserError

SOLVE_SAMPLES = 10
SOLVE_TEMPERATURE = 0.8  # the paper's best temperature for many samples
SOLVE_MAX_TOKENS = 192  # a HumanEval-sized body; keeps a default run well under a minute on two cores


def _read_input(text: Optional[str], file: Optional[Path]) -> str:
    if text is not None and file is not None:
        raise UserError("give the task either as an argument or with --file, not both")
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
    if text == "-":
        return sys.stdin.read()
    if text is None:
        raise UserError('nothing to solve: pass a docstring ("Return ...\\n>>> f(1)\\n2"), --file stub.py, or - to read stdin')
    return text


def solve_command(
    text: Optional[str] = typer.Argument(
        None,
        help='A docstring with >>> examples ("Return the n-th Fibonacci number.\\n>>> fib(10)\\n55"), a stub with def + docstring, or - for stdin.',
        show_default=False,
    ),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="Read the stub or docstring from a file.", dir_okay=False),
    name: Optional[str] = typer.Option(None, "--name", help="The function's name (default: the name called in the >>> examples)."),
    n: int = typer.Option(SOLVE_SAMPLES, "--n", "-n", help="How many samples to draw."),
    temperature: float = typer.Option(SOLVE_TEMPERATURE, "--temperature", "-t", help="Sampling temperature (0 = greedy)."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling top-p (the paper: 0.95)."),
    max_tokens: int = typer.Option(SOLVE_MAX_TOKENS, "--max-tokens", help="New tokens per sample at most."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed: the same seed gives the same samples."),
    greedy: bool = typer.Option(False, "--greedy", help="One deterministic answer (temperature 0, n = 1)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="GGUF model file (default: PYCODEX_MODEL, the config's `model`, else the bundled model)."),
    hf_repo: Optional[str] = typer.Option(None, "--hf-repo", help="Download the model from this Hugging Face repository (needs huggingface_hub)."),
    hf_file: Optional[str] = typer.Option(None, "--hf-file", help="The .gguf file in --hf-repo."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for generation (default: the cores not busy with other work)."),
    n_gpu_layers: int = typer.Option(0, "--n-gpu-layers", help="Layers to offload to a GPU (-1 = all; needs a GPU build of llama-cpp-python)."),
    ctx: Optional[int] = typer.Option(None, "--ctx", min=16, help="Context of each sequence in tokens, a prompt plus its completion (default 2048)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Let llama.cpp print its own log."),
    judge: str = JudgeOption,
    as_json: bool = JsonOption,
    servers: Optional[List[str]] = server_opts.ServerOption,
    server_model: Optional[str] = server_opts.ServerModelOption,
    chat: bool = server_opts.ChatOption,
    server_slots: Optional[int] = server_opts.ServerSlotsOption,
    server_timeout: Optional[float] = server_opts.ServerTimeoutOption,
    server_retries: Optional[int] = server_opts.ServerRetriesOption,
) -> None:
    """Write a function from its docstring, checked on its own >>> examples.

    Samples --n completions, runs the docstring's >>> examples against each in the sandbox, and shows
    the best by (examples passed, mean log-probability) with a table of all samples. With no text on
    a terminal it opens `pycodex repl` with these settings.
    """
    from pycodex.generation.base import SamplingParams
    from pycodex.solve import parse_task

    check_judge(judge)
    if text is None and file is None and sys.stdin.isatty() and sys.stdout.isatty():
        from pycodex.cli.repl_cmd import open_repl

        raise typer.Exit(open_repl(
            model=model, servers=servers, server_model=server_model, chat=chat, n=1 if greedy else n, temperature=0.0 if greedy else temperature,
            top_p=top_p, max_tokens=max_tokens, seed=seed, threads=threads, n_gpu_layers=n_gpu_layers, judge=judge,
        ))
    task = parse_task(_read_input(text, file), name)
    if greedy:
        n, temperature = 1, 0.0
    params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed).validate()

    urls = server_opts.check(servers, model=model or hf_repo, server_model=server_model, chat=chat)
    from pycodex.repl.live import LiveView

    view = LiveView(params.n, console(stderr=True), enabled=sys.stderr.isatty())
    with view:
        view.status("connecting to the server" if urls else "loading the model")
        backend = _backend(
            urls, params.n, model=model, hf_repo=hf_repo, hf_file=hf_file, n_gpu_layers=n_gpu_layers, threads=threads, ctx=ctx,
            verbose=verbose, server_model=server_model, chat=chat, slots=server_slots, timeout=server_timeout, retries=server_retries,
        )
        try:
            from pycodex.solve import solve

            view.status(f"sampling {params.n} completion(s) of {task.entry_point}")
            result = solve(task, backend, params, on_event=view.on_event, judge=judge)
        finally:
            backend.close()
    if as_json:
        print_json(result.to_dict())
        return
    from pycodex.repl.render import solve_result

    console().print(solve_result(result))


def _backend(urls: list[str], samples: int, *, model, hf_repo, hf_file, n_gpu_layers, threads, ctx, verbose, server_model, chat, slots, timeout, retries):
    """The servers' backend, or the local model's (its slots no more than the samples asked)."""
    if urls:
        from pycodex.generation.server.backend import ServerBackend

        return ServerBackend(urls, model=server_model, chat=chat, slots=slots, timeout=timeout, retries=retries)
    from pycodex.generation.llama.kind import create_llama_backend

    return create_llama_backend(
        model=model, hf_repo=hf_repo, hf_file=hf_file, n_gpu_layers=n_gpu_layers, threads=threads, ctx=ctx, verbose=verbose, samples=samples,
    )


def register(app: typer.Typer) -> None:
    app.command("solve")(solve_command)
