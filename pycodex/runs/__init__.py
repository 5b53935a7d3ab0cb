"""One run end to end: request -> config -> pipeline -> events -> state.

Face: SamplingRequest and RunRequest (request.py: what is asked), RunConfig and make_config
(config.py: the one place a run's settings are made), Pipeline (pipeline.py; its RunRecorder in
recording.py, its GenerationSteps in steps.py), the events (events.py), RunState and SampleState
(state.py: what front ends show), Workbench (workbench.py: an interactive front end's core);
stored.py (summaries, export, import), sweep.py, versus.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycodex import faces

__all__ = ["SamplingRequest", "RunRequest", "RunConfig", "make_config", "Pipeline", "RunState", "SampleState", "Workbench"]
__getattr__ = faces.lazy(__name__, {
    "SamplingRequest": "request", "RunRequest": "request", "RunConfig": "config", "make_config": "config",
    "Pipeline": "pipeline", "RunState": "state", "SampleState": "state", "Workbench": "workbench",
})

if TYPE_CHECKING:
    from pycodex.runs.config import RunConfig, make_config
    from pycodex.runs.pipeline import Pipeline
    from pycodex.runs.request import RunRequest, SamplingRequest
    from pycodex.runs.state import RunState, SampleState
    from pycodex.runs.workbench import Workbench
