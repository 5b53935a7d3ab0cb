"""What the REPL (and `pycodex solve`) print: rich renderables built from the session's data."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from pycodex.problems.problem import Problem
from pycodex.repl.work import Evaluation, Generation, Sample

THEME = "monokai"
VERDICT_STYLES = {"passed": "green", "failed": "red", None: "dim"}


def code(source: str, title: str = "", style: str = "cyan") -> Panel:
    return Panel(Syntax(source.rstrip("\n"), "python", theme=THEME), title=title, title_align="left", border_style=style)


def problem_part(problem: Problem, part: str) -> Panel:
    """`prompt`, `canonical` (prompt + solution) or `tests` of a problem."""
    if part == "canonical":
        return code(problem.prompt + problem.canonical_solution, f"{problem.task_id} · canonical solution", "green")
    if part == "tests":
        return code(problem.test_view, f"{problem.task_id} · tests ({problem.assert_count} asserts) · check({problem.entry_point})", "yellow")
    return code(problem.prompt, f"{problem.task_id} · {problem.entry_point}")


def verdict_text(sample: Sample) -> Text:
    label = sample.status or "not judged"
    return Text(label, style=VERDICT_STYLES.get(sample.status, "red"))


def pass_at_k_line(pass_at_k: dict[int, float]) -> str:
    return "  ".join(f"pass@{k} {value:.3f}" for k, value in pass_at_k.items()) or "pass@k: no judged sample"


def generation(result: Generation) -> Group:
    """The samples of a problem, by index, with verdicts, then pass@k."""
    table = Table(title=f"{result.problem.task_id} · {_params(result.params)}", title_justify="left")
    table.add_column("sample", justify="right")
    table.add_column("verdict")
    table.add_column("tokens", justify="right")
    table.add_column("mean log-prob", justify="right")
    table.add_column("detail", overflow="ellipsis", no_wrap=True, max_width=48)
    for sample in result.samples:
        table.add_row(str(sample.index), verdict_text(sample), str(sample.tokens), f"{sample.mean_logprob:.3f}", sample.detail.splitlines()[0] if sample.detail else "")
    judged = len(result.judged)
    summary = f"{result.passed}/{judged} passed · {pass_at_k_line(result.pass_at_k())}"
    if result.stopped:
        summary += f" · stopped: {judged} of {result.params.n} judged"
    return Group(table, Text(summary, style="bold"))


def sample_code(problem: Problem, sample: Sample) -> Panel:
    status = sample.status or "not judged"
    title = f"{problem.task_id} · sample {sample.index} · {status} · {sample.tokens} tokens · mean log-prob {sample.mean_logprob:.3f}"
    return code(problem.prompt + sample.completion, title, VERDICT_STYLES.get(sample.status, "red"))


def failure(problem: Problem, sample: Sample) -> Text:
    if sample.passed:
        return Text(f"sample {sample.index} of {problem.task_id} passed every assert", style="green")
    if sample.status is None:
        return Text(f"sample {sample.index} of {problem.task_id} was not judged (stopped first)", style="dim")
    return Text(f"sample {sample.index}: {sample.status}: {sample.detail or '(no detail)'}", style="red")


def unified_diff(problem: Problem, sample: Sample) -> Syntax | Text:
    import difflib

    lines = difflib.unified_diff(
        problem.canonical_solution.splitlines(), sample.completion.splitlines(), "canonical", f"sample {sample.index}", lineterm=""
    )
    text = "\n".join(lines)
    if not text:
        return Text(f"sample {sample.index} is the canonical solution, line for line", style="green")
    return Syntax(text, "diff", theme=THEME)


def side_by_side(problem: Problem, sample: Sample) -> Table:
    from pycodex.diffing import diff_rows

    table = Table(title=f"{problem.task_id}: canonical | sample {sample.index}", title_justify="left", show_lines=False, expand=True)
    table.add_column("#", justify="right", style="dim")
    table.add_column("canonical", ratio=1, overflow="fold")
    table.add_column("#", justify="right", style="dim")
    table.add_column(f"sample {sample.index}", ratio=1, overflow="fold")
    marks = {"equal": ("", ""), "delete": ("red", ""), "insert": ("", "green"), "replace": ("red", "green")}
    for row in diff_rows(problem.canonical_solution, sample.completion, side_by_side=True):
        left_style, right_style = marks.get(row.tag, ("", ""))
        table.add_row(
            "" if row.left_no is None else str(row.left_no),
            Text(row.left or "", style=left_style),
            "" if row.right_no is None else str(row.right_no),
            Text(row.right or "", style=right_style),
        )
    return table


def evaluation(result: Evaluation) -> Group:
    table = Table(title=f"eval of {result.total} problem(s)", title_justify="left")
    table.add_column("problem")
    table.add_column("passed", justify="right")
    table.add_column("pass@1", justify="right")
    for g in result.generations:
        table.add_row(g.problem.task_id, f"{g.passed}/{len(g.judged)}", f"{g.pass_at_k().get(1, 0.0):.3f}")
    summary = f"{len(result.generations)} problem(s) in {result.seconds:.1f}s · {pass_at_k_line(result.pass_at_k())}"
    if result.stopped:
        summary += " · stopped (pass@k over the problems fully judged)"
    return Group(table, Text(summary, style="bold"))


def problem_line(position: int, total: int, result: Generation) -> str:
    return f"[{position}/{total}] {result.problem.task_id}: {result.passed}/{len(result.judged)} passed"


def _params(params: Any) -> str:
    seed = "" if params.seed is None else f" seed={params.seed}"
    return f"n={params.n} T={params.temperature:g} top_p={params.top_p:g} max_tokens={params.max_tokens}{seed}"


def solve_result(result) -> Group | Text:
    """A solved docstring: the best sample, then every sample ranked (what `pycodex solve` prints)."""
    if not result.samples:
        return Text("stopped before any sample was judged", style="dim")
    best = result.best
    checks = len(result.task.checks)
    verdict = f"{best.examples_passed}/{checks} examples passed" if checks else "no >>> examples to check"
    title = f"best of {len(result.samples)} · sample {best.index} · {verdict} · mean log-prob {best.mean_logprob:.3f}"
    style = "green" if checks and best.examples_passed == checks else ("yellow" if checks else "cyan")
    table = Table(title="all samples, ranked by (examples passed, mean log-prob)", title_justify="left")
    for name in ("rank", "sample", "examples", "mean log-prob", "tokens"):
        table.add_column(name, justify="right")
    table.add_column("finish")
    table.add_column("first line", overflow="ellipsis", no_wrap=True, max_width=48)
    for rank, sample in enumerate(result.samples, 1):
        first = next((line.strip() for line in sample.completion.splitlines() if line.strip()), "")
        examples = f"{sample.examples_passed}/{sample.examples_total}" if checks else "-"
        table.add_row(
            str(rank), str(sample.index), examples, f"{sample.mean_logprob:.3f}", str(sample.tokens), sample.finish_reason, first,
            style="bold green" if rank == 1 else None,
        )
    tokens = sum(s.tokens for s in result.samples)
    footer = f"{len(result.samples)} samples, {tokens} tokens in {result.seconds:.1f}s (T={result.params.temperature}, top_p={result.params.top_p})"
    if result.stopped:
        footer += f" · stopped: {len(result.samples)} of {result.params.n} judged"
    return Group(code(result.task.prompt + best.completion, title, style), table, Text(footer, style="dim"))
