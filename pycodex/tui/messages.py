"""Textual messages that carry pipeline events from worker threads to the UI thread."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from pycodex.runs.workbench import BackendState


class PipelineEventMessage(Message):
    """One pipeline event (any of pycodex.runs.events), posted from the pipeline's thread."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class DeltasFlushed(Message):
    """Coalesced token deltas: {(task_id, index): text appended since the last flush}; for the keys
    in `restarts` the text shown so far is void (a server retried the sample): the text replaces it."""

    def __init__(self, deltas: dict[tuple[str, int], str], restarts: set[tuple[str, int]] | None = None) -> None:
        super().__init__()
        self.deltas = deltas
        self.restarts = restarts or set()


class RunEnded(Message):
    """The pipeline's run() returned (finished/cancelled) or raised (error is the one-line reason)."""

    def __init__(self, finished: Any = None, error: str | None = None) -> None:
        super().__init__()
        self.finished = finished
        self.error = error


class BackendChanged(Message):
    """The app's model changed or finished loading."""

    def __init__(self, label: str, state: BackendState, error: str | None = None) -> None:
        super().__init__()
        self.label = label
        self.state = state
        self.error = error
