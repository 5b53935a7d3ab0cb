"""What the run store hands out: run and sample records, run statuses, and the facts recorded with a run."""

from __future__ import annotations

import os
import platform
import secrets
import socket
import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pycodex import __version__
from pycodex.execution.verdict import VerdictStatus
from pycodex.generation.base import SampleFinished, sample_field


class RunStatus(StrEnum):
    """A run's status in the store. "running" whose process is gone reads as "interrupted"."""

    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    IMPORTED = "imported"


RUNNING, FINISHED, CANCELLED, INTERRUPTED, FAILED, IMPORTED = RunStatus


@dataclass
class RunRecord:
    id: str
    name: str | None
    status: RunStatus  # as stored; see effective_status
    backend: str
    model: str | None
    model_sha256: str | None
    config: dict[str, Any]
    backend_info: dict[str, Any]
    versions: dict[str, Any]
    n: int
    temperature: float | None
    seed: int | None
    task_ids: list[str]
    created_at: float
    started_at: float | None
    finished_at: float | None
    pid: int | None
    host: str | None
    error: str | None
    sessions: int = 1
    generation_wall_seconds: float = 0.0
    problem_set: str | None = None  # humaneval, humaneval-plus, chains; None for a --problems-file
    problem_set_version: str | None = None
    gpu_offload: bool | None = None  # a session generated with layers on a GPU (None: not known, older runs)
    # Filled by list_runs/get_run: counts from the samples and results tables.
    generated: int = 0
    executed: int = 0
    passed: int = 0

    @property
    def total(self) -> int:
        return self.n * len(self.task_ids)

    @property
    def effective_status(self) -> RunStatus:
        """`running` whose process no longer exists on this host reads as `interrupted`."""
        if self.status == RUNNING and not _process_alive(self.pid, self.host):
            return INTERRUPTED
        return self.status

    @property
    def resumable(self) -> bool:
        return self.effective_status in (INTERRUPTED, CANCELLED, FAILED) or (
            self.effective_status in (FINISHED, IMPORTED) and (self.generated < self.total or self.executed < self.generated)
        )

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.executed if self.executed else None

    def label(self) -> str:
        return f"{self.id} ({self.name})" if self.name else self.id

    def summary(self) -> dict[str, Any]:
        """What the run is, for JSON: `runs list --json` and the report's "run" add their own fields."""
        return {
            "id": self.id, "name": self.name, "status": self.effective_status, "backend": self.backend, "model": self.model,
            "problems": len(self.task_ids), "n": self.n, "temperature": self.temperature, "seed": self.seed,
            "created_at": self.created_at, "finished_at": self.finished_at,
        }

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items()}
        d["status"] = self.effective_status
        d["stored_status"] = self.status
        d["total"] = self.total
        return d


@dataclass(frozen=True)
class SampleRecord:
    """A stored sample: the backend's record of it (`sample`; its fields read through:
    record.index, .completion, .tokens…; a chat model's reply, its `raw`, is `reply`), when and in
    which session it was stored, and its verdict once judged."""

    run_id: str
    task_id: str
    sample: SampleFinished
    seed: int | None
    created_at: float
    session: int
    # The verdict, when the sample has been executed.
    status: VerdictStatus | None = None
    passed: bool | None = None
    detail: str | None = None
    exec_seconds: float | None = None
    judged_at: float | None = None
    judged_session: int | None = None
    judge: str | None = None  # "strict" or "classic": which judge gave the verdict
    base_passed: bool | None = None  # humaneval-plus: the verdict of HumanEval's own test alone

    def __getattr__(self, name: str) -> Any:
        return sample_field(self, name)

    @property
    def reply(self) -> str | None:
        """Chat models: the raw reply the completion was extracted from."""
        return self.sample.raw

    @property
    def judged(self) -> bool:
        return self.status is not None

    def to_dict(self) -> dict[str, Any]:
        """Flat, as `runs show --json` prints it: the sample's fields beside the record's."""
        sample = self.sample.to_dict()
        reply = sample.pop("raw")
        rest = {k: v for k, v in self.__dict__.items() if k not in ("run_id", "task_id", "sample", "base_passed")}
        return {"run_id": self.run_id, "task_id": self.task_id} | sample | rest | {"reply": reply, "base_passed": self.base_passed}


def _set_of(config: dict[str, Any]) -> str | None:
    """The named problem set a run's config uses (None: the user's own --problems-file)."""
    if config.get("problems_file"):
        return None
    return config.get("problem_set") or "humaneval"


def _process_alive(pid: int | None, host: str | None) -> bool:
    if not pid:
        return False
    if host and host != socket.gethostname():
        return True  # another machine's run: assume it is alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    # A zombie (killed child not yet reaped) is not alive either.
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[-1].split()[0]
        return state not in (b"Z", b"X")
    except OSError:
        return True


def new_run_id() -> str:
    return secrets.token_hex(4)


def versions() -> dict[str, str]:
    v = {"pycodex": __version__, "python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    try:
        from importlib.metadata import version

        v["llama_cpp_python"] = version("llama-cpp-python")
    except Exception:
        pass
    return v
