"""`pycodex versus A B`: two models (or two settings of one) on the same problems with the same
seed, run side by side, stored as a linked pair, then compared pair by pair."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Optional

import typer

from pycodex.cli.common import JsonOption, JudgeOption, ProblemSetOption, ProblemsFileOption, console, print_json

SIDE_HELP = ("default (the bundled model), a GGUF path or known name, canonical, samples:FILE.jsonl, "
             "server:URL [model=NAME] [chat], or run:ID (a stored run); @T sets its temperature: default@0.8")


def versus_command(
    a: str = typer.Argument(..., metavar="A", help=f"Side A: {SIDE_HELP}."),
    b: str = typer.Argument(..., metavar="B", help="Side B, the same forms as A."),
    problems: str = typer.Option("all", "--problems", "-p", help="Which problems: all, 0-19, HumanEval/3,7 or 3,10-12."),
    problems_file: Optional[Path] = ProblemsFileOption,
    problem_set_name: Optional[str] = ProblemSetOption,
    n: Optional[int] = typer.Option(None, "--n", "-n", help="Samples per problem, each side (default 1, or the preset's n)."),
    temperature: Optional[float] = typer.Option(None, "--temperature", "-t", help="Temperature of a side without its own @T (default: the paper's best for the largest k)."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling top-p, both sides."),
    max_tokens: int = typer.Option(512, "--max-tokens", help="New tokens per sample at most."),
    seed: int = typer.Option(0, "--seed", help="The run seed of both sides (so sample j of a problem is drawn from the same seed on each side, and the same command resumes)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="pass@1, pass@10 or pass@100 (see eval --help)."),
    k: Optional[str] = typer.Option(None, "--k", help="Which pass@k to report, e.g. 1,10."),
    timeout: float = typer.Option(3.0, "--timeout", help="Seconds of CPU time each program may use (see eval --help)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Parallel executions, shared by both sides."),
    memory_limit: int = typer.Option(4096, "--memory-limit", help="Memory limit per program, MiB."),
    judge: str = JudgeOption,
    db: Optional[Path] = typer.Option(None, "--db", help="The run store (SQLite). Default: PYCODEX_DB or the user data folder.", dir_okay=False),
    as_json: bool = JsonOption,
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples of the paired interval (as report --compare)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for generation, each llama side."),
    n_gpu_layers: int = typer.Option(0, "--n-gpu-layers", help="Layers of each llama side on a GPU (-1 = all; needs a GPU build of llama-cpp-python)."),
    ctx: Optional[int] = typer.Option(None, "--ctx", min=16, help="Context of each sequence in tokens (llama; default 2048)."),
) -> None:
    """Run A and B on the same problems with the same seed at once, store them as a linked pair,
    then print B - A with its paired bootstrap interval and who solved what (as `report --compare`).

    Resumable: the same command again reuses or resumes each side's stored run (nothing stored is
    redone). Examples: `pycodex versus default@0.2 default@0.8 -p 0-9 -n 10`,
    `pycodex versus canonical samples:mine.jsonl`, `pycodex versus run:abc123 other.gguf`.
    """
    from pycodex.cli.eval_cmd import build_config
    from pycodex.errors import UserError
    from pycodex.runs.versus import Side, Versus, plan_versus
    from pycodex.store.database import CANCELLED, FINISHED, Store

    if bootstrap < 0:
        raise UserError(f"--bootstrap must be >= 0 (got {bootstrap})")
    sides = Side.parse(a), Side.parse(b)
    base, problem_set = build_config(
        backend="llama", model=None, samples_file=None, problems=problems, problems_file=problems_file, n=n,
        temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed, preset=preset, k=k, timeout=timeout,
        workers=workers, memory_limit=memory_limit, name=None, threads=threads, n_gpu_layers=n_gpu_layers, ctx=ctx, verbose=False,
        judge=judge, problem_set_name=problem_set_name,
    )
    with Store(db) as store:
        plan = plan_versus(store, base, *sides)
        if any(s.stored_run is not None for s in sides):
            problem_set = None  # the stored run's own set
        versus = Versus(store, plan, problem_set=problem_set)
        finished = _drive(versus, show_live=sys.stderr.isatty() and not as_json)
        _print_result(store, versus, finished, as_json=as_json, bootstrap=bootstrap)
    statuses = {f.status for f in finished}
    if CANCELLED in statuses:
        raise typer.Exit(130)
    if statuses != {FINISHED}:
        raise typer.Exit(1)


def _drive(versus, *, show_live: bool):
    """Both sides in the foreground: two live lines on stderr; Ctrl-C (or SIGTERM) stops both cleanly."""
    from pycodex.cli.eval_cmd import LiveView

    views = [LiveView(f"{side} ", store=versus.store) for side in "AB"]
    versus.on_event = lambda side, event: views[side].handle(event)

    def on_signal(signum, frame):
        print("\nstopping both sides: finishing the samples in flight", file=sys.stderr)
        versus.cancel()

    main = threading.current_thread() is threading.main_thread()
    old = [signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)] if main else None
    try:
        if show_live:
            from rich.console import Group
            from rich.live import Live

            with Live(Group(*views), console=console(stderr=True), refresh_per_second=4, transient=False):
                return versus.run()
        return versus.run()
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old[0])
            signal.signal(signal.SIGTERM, old[1])


def _print_result(store, versus, finished, *, as_json: bool, bootstrap: int) -> None:
    from pycodex.cli.eval_cmd import finished_to_dict, print_finished
    from pycodex.report.build import build_report
    from pycodex.report.paired import compare_reports
    from pycodex.report.render import render_compare
    from pycodex.store.records import FINISHED

    reports = [build_report(store, f.run_id, bootstrap=bootstrap, bleu=False) for f in finished]
    comparison = compare_reports(reports[0], reports[1], resamples=bootstrap)
    if as_json:
        print_json({"pair": versus.pair_id, "a": finished_to_dict(finished[0], store.path), "b": finished_to_dict(finished[1], store.path),
                    "comparison": comparison})
        return
    out = console()
    for side, f in zip("AB", finished):
        out.print(f"[bold]{side}[/]", end=" ")
        print_finished(f, store.path)
    render_compare(reports[0], reports[1], comparison, out, plots=False)
    if any(f.status != FINISHED for f in finished):
        out.print("  run the same command again to finish both sides (nothing stored is redone)")


def register(app: typer.Typer) -> None:
    app.command("versus")(versus_command)
