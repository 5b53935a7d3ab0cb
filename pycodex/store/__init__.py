"""The run store (SQLite): every run, sample and verdict, committed as it arrives.

Face: Store (database.py: open, migrate, write; its reads in reads.py), RunRecord, SampleRecord and
RunStatus (records.py); the schema and its migrations are schema.py's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pycodex import faces

__all__ = ["Store", "RunRecord", "SampleRecord", "RunStatus"]
__getattr__ = faces.lazy(__name__, {"Store": "database", "RunRecord": "records", "SampleRecord": "records", "RunStatus": "records"})

if TYPE_CHECKING:
    from pycodex.store.database import Store
    from pycodex.store.records import RunRecord, RunStatus, SampleRecord
