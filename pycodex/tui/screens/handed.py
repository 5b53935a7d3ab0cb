"""A screen handed the app's Workbench (Textual's "attributes down"): the run store, the model
and its backend, the problem set and the runs in progress. What it learns goes up as messages."""

from __future__ import annotations

from textual.screen import Screen

from pycodex.runs.workbench import Workbench


class WorkbenchScreen(Screen):
    def __init__(self, *, workbench: Workbench | None = None) -> None:
        super().__init__()
        self._workbench = workbench

    @property
    def workbench(self) -> Workbench:
        """The workbench handed down (a screen made bare, as a snapshot test's, is given its app's on use)."""
        if self._workbench is None:
            self._workbench = self.app.workbench  # type: ignore[attr-defined]
        return self._workbench
