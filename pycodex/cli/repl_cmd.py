"""`pycodex repl`: the interactive prompt (pycodex/repl/), or a script of its commands from a pipe."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from pycodex.cli import server_opts
from pycodex.cli.common import JudgeOption, ProblemSetOption, ProblemsFileOption, check_judge, load_problem_set


def open_repl(
    *, model: Optional[str] = None, servers: Optional[List[str]] = None, server_model: Optional[str] = None, chat: bool = False,
    n: Optional[int] = None, temperature: Optional[float] = None, top_p: Optional[float] = None, max_tokens: Optional[int] = None,
    seed: Optional[int] = None, threads: Optional[int] = None, judge: str = "strict", n_gpu_layers: int = 0,
    problems_file: Optional[Path] = None, problem_set: Optional[str] = None,
) -> int:
    """The REPL with these flags (None: the REPL's default); `pycodex solve` with no text calls it too."""
    from pycodex.generation.server.kind import SERVER_PREFIX
    from pycodex.repl import Options, Settings, run

    urls = server_opts.check(servers, model=model, server_model=server_model, chat=chat)
    spec = model or "default"
    if urls:
        spec = SERVER_PREFIX + " ".join(urls + ([f"model={server_model}"] if server_model else []) + (["chat"] if chat else []))
    settings = Settings()
    for name, value in (("n", n), ("temperature", temperature), ("top_p", top_p), ("max_tokens", max_tokens), ("seed", seed)):
        if value is not None:
            settings = settings.with_value(name, str(value))
    options = Options(model=spec, judge=check_judge(judge), threads=threads, n_gpu_layers=n_gpu_layers)
    return run(load_problem_set(problems_file, problem_set), options, settings)


def repl_command(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="GGUF model file (default: PYCODEX_MODEL, the config's `model`, else the bundled model)."),
    n: Optional[int] = typer.Option(None, "--n", "-n", help="Samples per question (default 5; /set n changes it)."),
    temperature: Optional[float] = typer.Option(None, "--temperature", "-t", help="Sampling temperature (default 0.8)."),
    top_p: Optional[float] = typer.Option(None, "--top-p", help="Nucleus sampling top-p (default 0.95)."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="New tokens per sample at most (default 192)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed: the same seed gives the same samples (default random)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for generation (default: the cores not busy with other work)."),
    n_gpu_layers: int = typer.Option(0, "--n-gpu-layers", help="Layers to offload to a GPU (-1 = all; needs a GPU build of llama-cpp-python)."),
    judge: str = JudgeOption,
    problems_file: Optional[Path] = ProblemsFileOption,
    problem_set: Optional[str] = ProblemSetOption,
    servers: Optional[List[str]] = server_opts.ServerOption,
    server_model: Optional[str] = server_opts.ServerModelOption,
    chat: bool = server_opts.ChatOption,
) -> None:
    """Ask, generate, judge and explore at one prompt, with the model and the sandbox kept warm.

    Type a docstring with >>> examples (or a stub), then an empty line, to solve it; /open 55 opens HumanEval/55, /gen samples it with live verdicts and pass@k, /show, /fail and /diff explore the samples, /set changes n, t, top_p, max_tokens, seed; /help lists every command.

    History, multi-line input, completion; Ctrl-C stops the work in flight, Ctrl-D quits. Not a terminal: the commands are read from standard input (`pycodex repl < demo.txt`). See docs/repl.md.
    """
    code = open_repl(
        model=model, servers=servers, server_model=server_model, chat=chat, n=n, temperature=temperature, top_p=top_p,
        max_tokens=max_tokens, seed=seed, threads=threads, n_gpu_layers=n_gpu_layers, judge=judge, problems_file=problems_file, problem_set=problem_set,
    )
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("repl")(repl_command)
