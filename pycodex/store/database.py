"""The run store: every eval run, its samples and their verdicts, in one SQLite file.

- stdlib sqlite3, WAL journal; each sample and each verdict is committed the moment it exists,
  so a `kill -9` loses at most the samples still being generated or executed.
- The schema carries a version (PRAGMA user_version) and is migrated when the file is opened.
- One connection guarded by a lock: a Store may be used from several threads at once (the
  pipeline writes from its generation thread and from the executor's callback threads while a
  UI reads). Other processes may open the same file; SQLite's own locking arbitrates.
- Every failure a user can cause (locked, corrupt, unwritable, unknown id) is a UserError: one line.

Run ids are 8 hex characters; any unique prefix (like git), the run's name, or `last` selects one.

The schema and its migrations are in schema.py, the records and statuses in records.py, the reads
in reads.py (a StoreReads each Store holds); this module opens, migrates and writes.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from pycodex import locations
from pycodex.errors import UserError
from pycodex.generation.base import SampleFinished

from pycodex.store.records import (  # noqa: F401  (the statuses are the store's vocabulary)
    CANCELLED,
    FAILED,
    FINISHED,
    IMPORTED,
    INTERRUPTED,
    RUNNING,
    RunRecord,
    RunStatus,
    SampleRecord,
    _process_alive,
    _set_of,
    new_run_id,
    versions,
)
from pycodex.store.reads import StoreReads
from pycodex.store.schema import _MIGRATIONS, SCHEMA_VERSION


_INSERT_SAMPLE = """INSERT INTO samples (run_id, task_id, idx, completion, tokens, sum_logprob, mean_logprob,
    finish_reason, seconds, seed, created_at, session, reply) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


def _sample_row(run_id: str, task_id: str, s: SampleFinished, seed: int | None, session: int, created_at: float) -> tuple:
    """_INSERT_SAMPLE's values: a sample row is the backend's record of it, and where it was stored."""
    return (run_id, task_id, s.index, s.completion, s.tokens, s.sum_logprob, s.mean_logprob, s.finish_reason, s.seconds,
            seed, created_at, session, s.raw)


def _busy_timeout() -> float:
    try:
        return float(os.environ.get("PYCODEX_DB_TIMEOUT", "10"))
    except ValueError:
        return 10.0


class Store:
    """The run store. Open with Store(path) or Store.open(); close() or use as a context manager."""

    def __init__(self, path: str | Path | None = None, *, timeout: float | None = None):
        self.path = Path(path) if path else locations.default_db_path()
        self._lock = threading.RLock()
        self._timeout = _busy_timeout() if timeout is None else timeout
        self._conn: sqlite3.Connection | None = self._connect()
        self.reads = StoreReads(self._locked, self.path)  # every read (runs, samples, totals, statistics)

    open = classmethod(lambda cls, path=None, **kw: cls(path, **kw))

    # -- reads: see reads.py ------------------------------------------------------------------

    def list_runs(self, limit: int | None = None) -> list[RunRecord]:
        return self.reads.list_runs(limit)

    def get_run(self, run_id: str) -> RunRecord:
        return self.reads.get_run(run_id)

    def resolve(self, ident: str) -> str:
        return self.reads.resolve(ident)

    def versus_pairs(self, run_id: str | None = None) -> list[tuple[str, str, str]]:
        return self.reads.versus_pairs(run_id)

    def samples(self, run_id: str, task_id: str | None = None) -> list[SampleRecord]:
        return self.reads.samples(run_id, task_id)

    def sample(self, run_id: str, task_id: str, index: int) -> SampleRecord | None:
        return self.reads.sample(run_id, task_id, index)

    def done_keys(self, run_id: str) -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
        return self.reads.done_keys(run_id)

    def totals(self, run_id: str) -> dict[str, tuple[int, int]]:
        return self.reads.totals(run_id)

    def base_totals(self, run_id: str) -> dict[str, tuple[int, int]]:
        return self.reads.base_totals(run_id)

    def generation_stats(self, run_id: str) -> dict[str, float]:
        return self.reads.generation_stats(run_id)

    def problem_stats(self, task_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        return self.reads.problem_stats(task_ids)

    # -- connection, errors, schema ---------------------------------------------------------

    def _describe_error(self, exc: Exception) -> UserError:
        text = str(exc)
        low = text.lower()
        if "locked" in low or "busy" in low:
            return UserError(f"run store {self.path} is locked by another process (try again when it finishes)")
        if "not a database" in low or "malformed" in low or "corrupt" in low:
            return UserError(f"run store {self.path} is corrupt or not a pycodex database ({text}); move it aside or pass --db")
        if "readonly" in low or "read-only" in low or "unable to open" in low or "disk i/o" in low:
            return UserError(f"run store {self.path} cannot be written ({text}); pass --db with a writable path")
        if "full" in low:
            return UserError(f"run store {self.path}: disk full ({text})")
        return UserError(f"run store {self.path}: {text}")

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the run store's folder {self.path.parent}: {exc.strerror or exc}") from None
        if self.path.exists() and self.path.is_dir():
            raise UserError(f"run store {self.path} is a directory; pass --db with a file path")
        try:
            conn = sqlite3.connect(str(self.path), timeout=self._timeout, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._describe_error(exc) from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise self._describe_error(exc) from None
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise UserError(
                f"run store {self.path} has schema version {current}, newer than this pycodex understands ({SCHEMA_VERSION}); upgrade pycodex"
            )
        if current == SCHEMA_VERSION:
            return
        if current == 0:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables - {"runs", "samples", "results"}:
                raise UserError(f"run store {self.path} is some other SQLite database, not a pycodex run store; pass --db")
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]  # re-read under the lock
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={version}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        with self._locked() as conn:
            return conn.execute("PRAGMA user_version").fetchone()[0]

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                raise UserError(f"run store {self.path} is closed")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise self._describe_error(exc) from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._locked() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None

    @property
    def closed(self) -> bool:
        return self._conn is None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- runs -------------------------------------------------------------------------------

    def create_run(
        self,
        *,
        config: dict[str, Any],
        backend: str,
        task_ids: list[str],
        n: int,
        temperature: float | None = None,
        seed: int | None = None,
        name: str | None = None,
        model: str | None = None,
        model_sha256: str | None = None,
        backend_info: dict[str, Any] | None = None,
        status: str = RUNNING,
        run_id: str | None = None,
    ) -> str:
        now = time.time()
        with self._transaction() as conn:
            if name:
                clash = conn.execute("SELECT id FROM runs WHERE name = ?", (name,)).fetchone()
                if clash:
                    raise UserError(f"a run named {name!r} already exists ({clash['id']}); choose another --name")
            for _ in range(20):
                rid = run_id or new_run_id()
                if not conn.execute("SELECT 1 FROM runs WHERE id = ?", (rid,)).fetchone():
                    break
                if run_id:
                    raise UserError(f"run {run_id} already exists")
            conn.execute(
                """INSERT INTO runs (id, name, status, backend, model, model_sha256, config, backend_info, versions,
                   n, temperature, seed, task_ids, created_at, started_at, pid, host, sessions)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)""",
                (
                    rid,
                    name,
                    status,
                    backend,
                    model,
                    model_sha256,
                    json.dumps(config, sort_keys=True),
                    json.dumps(backend_info or {}, sort_keys=True, default=str),
                    json.dumps(versions(), sort_keys=True),
                    n,
                    temperature,
                    seed,
                    json.dumps(list(task_ids)),
                    now,
                    now,
                    os.getpid() if status == RUNNING else None,
                    socket.gethostname(),
                ),
            )
            conn.execute("UPDATE runs SET problem_set = ?, problem_set_version = ?, gpu_offload = ? WHERE id = ?",
                         (_set_of(config), config.get("problem_set_version") if _set_of(config) else None,
                          int(bool((backend_info or {}).get("gpu_offload"))), rid))
        return rid

    def note_gpu_offload(self, run_id: str, offload: bool) -> bool | None:
        """Record that this session generates with (or without) GPU offload; returns whether any
        session of the run did (None: not known, a run stored before the store recorded it)."""
        with self._transaction() as conn:
            if offload:
                conn.execute("UPDATE runs SET gpu_offload = 1 WHERE id = ?", (run_id,))
            row = conn.execute("SELECT gpu_offload FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None or row["gpu_offload"] is None else bool(row["gpu_offload"])

    def begin_session(self, run_id: str) -> int:
        """Mark a run running in this process (a resume); returns the new session number."""
        with self._transaction() as conn:
            row = conn.execute("SELECT status, pid, host, sessions FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise UserError(f"unknown run {run_id}")
            if row["status"] == RUNNING and row["pid"] != os.getpid() and _process_alive(row["pid"], row["host"]):
                raise UserError(f"run {run_id} is still running (pid {row['pid']}); cancel it first")
            session = int(row["sessions"]) + 1
            conn.execute(
                "UPDATE runs SET status = ?, pid = ?, host = ?, sessions = ?, finished_at = NULL, error = NULL WHERE id = ?",
                (RUNNING, os.getpid(), socket.gethostname(), session, run_id),
            )
        return session

    def set_backend_info(self, run_id: str, info: dict[str, Any]) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE runs SET backend_info = ?, model = COALESCE(?, model), model_sha256 = COALESCE(?, model_sha256) WHERE id = ?",
                (
                    json.dumps(info, sort_keys=True, default=str),
                    info.get("model_path") or info.get("model"),
                    info.get("sha256") or info.get("model_sha256"),
                    run_id,
                ),
            )

    def add_generation_time(self, run_id: str, seconds: float) -> None:
        """Add wall-clock generation seconds to the run (the pipeline calls it after each backend call)."""
        with self._locked() as conn:
            conn.execute("UPDATE runs SET generation_wall_seconds = generation_wall_seconds + ? WHERE id = ?", (seconds, run_id))

    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, pid = NULL, error = ? WHERE id = ?",
                (status, time.time(), error, run_id),
            )

    def delete_run(self, run_id: str) -> None:
        with self._transaction() as conn:
            row = conn.execute("SELECT status, pid, host FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise UserError(f"unknown run {run_id}")
            if row["status"] == RUNNING and row["pid"] != os.getpid() and _process_alive(row["pid"], row["host"]):
                raise UserError(f"run {run_id} is running (pid {row['pid']}); stop it before deleting it")
            conn.execute("DELETE FROM results WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM samples WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def link_versus(self, run_a: str, run_b: str) -> str:
        """Record runs A and B as a versus pair (idempotent); returns the pair's id."""
        with self._transaction() as conn:
            row = conn.execute("SELECT id FROM versus WHERE run_a = ? AND run_b = ?", (run_a, run_b)).fetchone()
            if row:
                return row["id"]
            pair_id = new_run_id()
            conn.execute("INSERT INTO versus (id, run_a, run_b, created_at) VALUES (?, ?, ?, ?)", (pair_id, run_a, run_b, time.time()))
        return pair_id

    # -- samples and results ----------------------------------------------------------------

    def add_sample(
        self,
        run_id: str,
        task_id: str,
        index: int,
        *,
        completion: str,
        tokens: int = 0,
        sum_logprob: float = 0.0,
        mean_logprob: float = 0.0,
        finish_reason: str = "",
        seconds: float = 0.0,
        seed: int | None = None,
        session: int = 1,
        reply: str | None = None,
    ) -> None:
        """store_sample() of a sample given field by field (tools and tests)."""
        sample = SampleFinished(index, completion, finish_reason, tokens, sum_logprob, mean_logprob, seconds, raw=reply)
        self.store_sample(run_id, task_id, sample, seed=seed, session=session)

    def store_sample(self, run_id: str, task_id: str, sample: SampleFinished, *, seed: int | None = None, session: int = 1) -> None:
        """Store one finished sample, the backend's record of it (committed at once). Storing the same
        (run, task, index) twice is an error."""
        with self._locked() as conn:
            try:
                conn.execute(_INSERT_SAMPLE, _sample_row(run_id, task_id, sample, seed, session, time.time()))
            except sqlite3.IntegrityError as exc:
                raise RuntimeError(f"sample {task_id}#{sample.index} of run {run_id} is already stored ({exc})") from None

    def add_samples(self, run_id: str, samples: Iterable[tuple[str, SampleFinished]], session: int = 1) -> int:
        """Bulk insert (import): (task id, sample) pairs, in one transaction."""
        now = time.time()
        count = 0
        with self._transaction() as conn:
            for task_id, sample in samples:
                conn.execute(_INSERT_SAMPLE, _sample_row(run_id, task_id, sample, None, session, now))
                count += 1
        return count

    def add_result(
        self,
        run_id: str,
        task_id: str,
        index: int,
        *,
        status: str,
        passed: bool,
        detail: str = "",
        seconds: float = 0.0,
        session: int = 1,
        judge: str = "strict",
        base_passed: bool | None = None,
    ) -> None:
        """Store one verdict (committed at once). A verdict already stored is kept (first wins).
        base_passed: humaneval-plus's verdict by HumanEval's own test alone (None elsewhere)."""
        base = None if base_passed is None else int(bool(base_passed))
        with self._locked() as conn:
            conn.execute(
                """INSERT OR IGNORE INTO results (run_id, task_id, idx, status, passed, detail, seconds, created_at, session, judge, base_passed)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (run_id, task_id, index, status, int(bool(passed)), detail or "", seconds, time.time(), session, judge, base),
            )
