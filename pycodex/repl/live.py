"""The live view of samples being written and judged (a terminal only): each sample's state and tail.

`pycodex solve` and the REPL draw it while a job runs; it is transient (gone when the job ends,
the final tables stay). It takes the events of the backend (TextDelta, SampleFinished), of solve
(ExampleChecked) and of the REPL's jobs (SampleJudged, ProblemDone), from any thread.
"""

from __future__ import annotations

import threading
from typing import Any

from pycodex.generation.base import SampleFinished, TextDelta


class LiveView:
    def __init__(self, n: int, console, enabled: bool = True, on_verdict=None, on_progress=None):
        """on_verdict(line): a line to print for good as each sample is judged (in the order they are);
        on_progress(line): one as each problem of an eval is done (in problem order)."""
        self.enabled = enabled
        self.console = console
        self.n = n
        self.message = ""
        self.on_verdict = on_verdict
        self.on_progress = on_progress
        self._lock = threading.Lock()
        self.text = [""] * n
        self.state = ["waiting"] * n
        self._live: Any = None

    def __enter__(self):
        if self.enabled:
            from rich.live import Live

            self._live = Live(self._render(), console=self.console, transient=True, refresh_per_second=8)
            self._live.__enter__()
        return self

    def __exit__(self, *exc):
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None
        return False

    def status(self, message: str) -> None:
        self.message = message
        self._refresh()

    def reset(self, message: str) -> None:
        """The next problem of an eval: every row back to waiting."""
        with self._lock:
            self.text = [""] * self.n
            self.state = ["waiting"] * self.n
        self.status(message)

    def on_event(self, event) -> None:
        from pycodex.repl.work import ProblemDone, SampleJudged
        from pycodex.solve import ExampleChecked

        line = None
        with self._lock:
            index = getattr(event, "index", None)
            if index is not None and not 0 <= index < self.n:
                return
            before = self.state[index] if index is not None else None
            if isinstance(event, TextDelta):
                retried = event.restart or self.state[event.index] == "writing (retried)"  # a server sample started again
                self.text[event.index] = ("" if event.restart else self.text[event.index]) + event.text
                self.state[event.index] = "writing (retried)" if retried else "writing"
            elif isinstance(event, SampleFinished):
                self.state[event.index] = f"checking ({event.tokens} tokens)"
            elif isinstance(event, ExampleChecked):
                self.state[event.index] = f"{event.passed}/{event.total} examples" if event.total else "done"
                line = f"sample {event.index}: {self.state[event.index]}"
            elif isinstance(event, SampleJudged):
                self.state[event.index] = event.status
                detail = event.detail.splitlines()[0] if event.detail and event.status != "passed" else ""
                line = f"{event.task_id} sample {event.index}: {event.status}" + (f" · {detail}" if detail else "")
        if line is not None and self.on_verdict is not None:
            self.on_verdict(line)
        if isinstance(event, ProblemDone):
            from pycodex.repl.render import problem_line

            if self.on_progress is not None:
                self.on_progress(problem_line(event.position, event.total, event.generation))
            if event.position < event.total:
                self.reset(f"eval: problem {event.position + 1} of {event.total}")
        # a row's new state (its first token, its verdict) is drawn at once, text between at 8 Hz
        self._refresh(now=index is not None and self.state[index] != before)

    def _refresh(self, now: bool = False) -> None:
        if self._live is not None:
            self._live.update(self._render(), refresh=now)

    def _render(self):
        from rich.table import Table

        table = Table.grid(padding=(0, 1))
        table.add_column(justify="right", style="dim")
        table.add_column(style="cyan", no_wrap=True, width=22)
        table.add_column(no_wrap=True, overflow="ellipsis", max_width=70)
        with self._lock:
            for index in range(self.n):
                tail = self.text[index].rstrip().replace("\n", " ⏎ ")[-70:]
                table.add_row(str(index), self.state[index], tail)
        header = Table.grid()
        header.add_row(f"[bold]{self.message}[/bold]")
        header.add_row(table)
        return header
