"""The run store: every eval run, its samples and their verdicts, in one SQLite file.

- stdlib sqlite3, WAL journal; each sample and each verdict is committed the moment it exists,
  so a `kill -9` loses at most the samples still being generated or executed.
- The schema carries a version (PRAGMA user_version) and is migrated when the file is opened.
- One connection guarded by a lock: a Store may be used from several threads at once (the
  pipeline writes from its generation thread and from the executor's callback threads while a
  UI reads). Other processes may open the same file; SQLite's own locking arbitrates.
- Every failure a user can cause (locked, corrupt, unwritable, unknown id) is a UserError: one line.

Run ids are 8 hex characters; any unique prefix (like git), the run's name, or `last` selects one.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Iterable, Iterator

from pycodex import __version__, locations
from pycodex.errors import UserError

SCHEMA_VERSION = 6


class RunStatus(StrEnum):
    """A run's status in the store. "running" whose process is gone reads as "interrupted"."""

    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    IMPORTED = "imported"


RUNNING, FINISHED, CANCELLED, INTERRUPTED, FAILED, IMPORTED = RunStatus

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    name TEXT,
    status TEXT NOT NULL,
    backend TEXT NOT NULL,
    model TEXT,
    model_sha256 TEXT,
    config TEXT NOT NULL,
    backend_info TEXT NOT NULL DEFAULT '{}',
    versions TEXT NOT NULL DEFAULT '{}',
    n INTEGER NOT NULL,
    temperature REAL,
    seed INTEGER,
    task_ids TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    pid INTEGER,
    host TEXT,
    error TEXT
);
CREATE TABLE IF NOT EXISTS samples (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    completion TEXT NOT NULL,
    tokens INTEGER NOT NULL DEFAULT 0,
    sum_logprob REAL NOT NULL DEFAULT 0,
    mean_logprob REAL NOT NULL DEFAULT 0,
    finish_reason TEXT NOT NULL DEFAULT '',
    seconds REAL NOT NULL DEFAULT 0,
    seed INTEGER,
    created_at REAL NOT NULL,
    PRIMARY KEY (run_id, task_id, idx)
);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    status TEXT NOT NULL,
    passed INTEGER NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    seconds REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    PRIMARY KEY (run_id, task_id, idx)
);
CREATE INDEX IF NOT EXISTS runs_created ON runs(created_at);
"""

# v2: which session (first run = 1, each resume + 1) produced each sample and verdict, so a
# resumed run can prove nothing was done twice; the run's session counter.
_MIGRATIONS: dict[int, list[str]] = {
    1: [stmt.strip() for stmt in _SCHEMA_V1.split(";") if stmt.strip()],
    2: [
        "ALTER TABLE runs ADD COLUMN sessions INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE samples ADD COLUMN session INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE results ADD COLUMN session INTEGER NOT NULL DEFAULT 1",
    ],
    # v3: wall-clock seconds spent generating (batched samples overlap, so their own seconds do not add up).
    3: ["ALTER TABLE runs ADD COLUMN generation_wall_seconds REAL NOT NULL DEFAULT 0"],
    # v4: which judge gave each verdict ("strict": a trusted judge process; "classic": the test in the
    # sample's own process). Verdicts stored before v4 were all classic.
    4: ["ALTER TABLE results ADD COLUMN judge TEXT NOT NULL DEFAULT 'classic'"],
    # v5: a chat model's whole reply beside the function body taken from it (NULL for completions).
    5: ["ALTER TABLE samples ADD COLUMN reply TEXT"],
    # v6: the problem set (humaneval, humaneval-plus, chains; NULL for a --problems-file) and its
    # version a run was judged against; humaneval-plus verdicts by HumanEval's own test alone
    # (base_passed, NULL for sets with one test). Earlier runs without a problems file were HumanEval.
    6: [
        "ALTER TABLE runs ADD COLUMN problem_set TEXT",
        "ALTER TABLE runs ADD COLUMN problem_set_version TEXT",
        "ALTER TABLE results ADD COLUMN base_passed INTEGER",
        "UPDATE runs SET problem_set = 'humaneval', problem_set_version = '1.0.3' WHERE json_extract(config, '$.problems_file') IS NULL",
    ],
}


@dataclass
class RunRecord:
    id: str
    name: str | None
    status: str  # as stored; see effective_status
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
    # Filled by list_runs/get_run: counts from the samples and results tables.
    generated: int = 0
    executed: int = 0
    passed: int = 0

    @property
    def total(self) -> int:
        return self.n * len(self.task_ids)

    @property
    def effective_status(self) -> str:
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

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items()}
        d["status"] = self.effective_status
        d["stored_status"] = self.status
        d["total"] = self.total
        return d


@dataclass(frozen=True)
class SampleRecord:
    run_id: str
    task_id: str
    index: int
    completion: str
    tokens: int
    sum_logprob: float
    mean_logprob: float
    finish_reason: str
    seconds: float
    seed: int | None
    created_at: float
    session: int
    # The verdict, when the sample has been executed.
    status: str | None = None
    passed: bool | None = None
    detail: str | None = None
    exec_seconds: float | None = None
    judged_at: float | None = None
    judged_session: int | None = None
    judge: str | None = None  # "strict" or "classic": which judge gave the verdict
    reply: str | None = None  # chat models: the raw reply the completion was extracted from
    base_passed: bool | None = None  # humaneval-plus: the verdict of HumanEval's own test alone

    @property
    def judged(self) -> bool:
        return self.status is not None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


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

    open = classmethod(lambda cls, path=None, **kw: cls(path, **kw))

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
            conn.execute("UPDATE runs SET problem_set = ?, problem_set_version = ? WHERE id = ?",
                         (_set_of(config), config.get("problem_set_version") if _set_of(config) else None, rid))
        return rid

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

    _COUNTS = """
        SELECT r.*,
          (SELECT COUNT(*) FROM samples s WHERE s.run_id = r.id) AS generated,
          (SELECT COUNT(*) FROM results x WHERE x.run_id = r.id) AS executed,
          (SELECT COALESCE(SUM(x.passed), 0) FROM results x WHERE x.run_id = r.id) AS passed
        FROM runs r
    """

    @staticmethod
    def _run_from_row(row: sqlite3.Row) -> RunRecord:
        keys = row.keys()
        return RunRecord(
            id=row["id"],
            name=row["name"],
            status=row["status"],
            backend=row["backend"],
            model=row["model"],
            model_sha256=row["model_sha256"],
            config=json.loads(row["config"] or "{}"),
            backend_info=json.loads(row["backend_info"] or "{}"),
            versions=json.loads(row["versions"] or "{}"),
            n=row["n"],
            temperature=row["temperature"],
            seed=row["seed"],
            task_ids=json.loads(row["task_ids"] or "[]"),
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            pid=row["pid"],
            host=row["host"],
            error=row["error"],
            sessions=row["sessions"] if "sessions" in keys else 1,
            generation_wall_seconds=row["generation_wall_seconds"] if "generation_wall_seconds" in keys else 0.0,
            problem_set=row["problem_set"] if "problem_set" in keys else None,
            problem_set_version=row["problem_set_version"] if "problem_set_version" in keys else None,
            generated=row["generated"] if "generated" in keys else 0,
            executed=row["executed"] if "executed" in keys else 0,
            passed=row["passed"] if "passed" in keys else 0,
        )

    def list_runs(self, limit: int | None = None) -> list[RunRecord]:
        """Newest first."""
        sql = self._COUNTS + " ORDER BY r.created_at DESC"
        params: tuple = ()
        if limit:
            sql += " LIMIT ?"
            params = (limit,)
        with self._locked() as conn:
            return [self._run_from_row(r) for r in conn.execute(sql, params)]

    def get_run(self, run_id: str) -> RunRecord:
        with self._locked() as conn:
            row = conn.execute(self._COUNTS + " WHERE r.id = ?", (run_id,)).fetchone()
        if row is None:
            raise UserError(f"unknown run {run_id}")
        return self._run_from_row(row)

    def resolve(self, ident: str) -> str:
        """A full id, a unique id prefix, a run name or `last` -> the run id; else a one-line UserError."""
        ident = (ident or "").strip()
        if not ident:
            raise UserError("no run given: pass a run id (see `pycodex runs list`)")
        with self._locked() as conn:
            if ident.lower() in ("last", "latest", "@"):
                row = conn.execute("SELECT id FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()
                if row is None:
                    raise UserError(f"no runs in {self.path} yet")
                return row["id"]
            row = conn.execute("SELECT id FROM runs WHERE id = ?", (ident,)).fetchone()
            if row:
                return row["id"]
            row = conn.execute("SELECT id FROM runs WHERE name = ?", (ident,)).fetchone()
            if row:
                return row["id"]
            escaped = ident.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = conn.execute("SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\'", (escaped + "%",)).fetchall()
        if len(rows) == 1:
            return rows[0]["id"]
        if len(rows) > 1:
            ids = ", ".join(sorted(r["id"] for r in rows)[:5])
            raise UserError(f"run id {ident!r} is ambiguous: it matches {ids}; give more characters")
        raise UserError(f"unknown run {ident!r} in {self.path} (see `pycodex runs list`)")

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
        """Store one finished sample (committed at once). Storing the same (run, task, index) twice is an error."""
        with self._locked() as conn:
            try:
                conn.execute(
                    """INSERT INTO samples (run_id, task_id, idx, completion, tokens, sum_logprob, mean_logprob,
                       finish_reason, seconds, seed, created_at, session, reply) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (run_id, task_id, index, completion, tokens, sum_logprob, mean_logprob, finish_reason, seconds, seed, time.time(), session, reply),
                )
            except sqlite3.IntegrityError as exc:
                raise RuntimeError(f"sample {task_id}#{index} of run {run_id} is already stored ({exc})") from None

    def add_samples(self, run_id: str, rows: Iterable[dict[str, Any]], session: int = 1) -> int:
        """Bulk insert (import): rows with task_id, index, completion and optional fields. One transaction."""
        now = time.time()
        count = 0
        with self._transaction() as conn:
            for row in rows:
                conn.execute(
                    """INSERT INTO samples (run_id, task_id, idx, completion, tokens, sum_logprob, mean_logprob,
                       finish_reason, seconds, seed, created_at, session) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        run_id,
                        row["task_id"],
                        row["index"],
                        row["completion"],
                        row.get("tokens", 0),
                        row.get("sum_logprob", 0.0),
                        row.get("mean_logprob", 0.0),
                        row.get("finish_reason", ""),
                        row.get("seconds", 0.0),
                        row.get("seed"),
                        now,
                        session,
                    ),
                )
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

    _SAMPLES = """
        SELECT s.*, x.status AS r_status, x.passed AS r_passed, x.detail AS r_detail, x.seconds AS r_seconds,
               x.created_at AS r_created_at, x.session AS r_session, x.judge AS r_judge, x.base_passed AS r_base_passed
        FROM samples s LEFT JOIN results x ON x.run_id = s.run_id AND x.task_id = s.task_id AND x.idx = s.idx
    """

    @staticmethod
    def _sample_from_row(row: sqlite3.Row) -> SampleRecord:
        return SampleRecord(
            run_id=row["run_id"],
            task_id=row["task_id"],
            index=row["idx"],
            completion=row["completion"],
            tokens=row["tokens"],
            sum_logprob=row["sum_logprob"],
            mean_logprob=row["mean_logprob"],
            finish_reason=row["finish_reason"],
            seconds=row["seconds"],
            seed=row["seed"],
            created_at=row["created_at"],
            session=row["session"],
            status=row["r_status"],
            passed=None if row["r_passed"] is None else bool(row["r_passed"]),
            detail=row["r_detail"],
            exec_seconds=row["r_seconds"],
            judged_at=row["r_created_at"],
            judged_session=row["r_session"],
            judge=row["r_judge"],
            reply=row["reply"],
            base_passed=None if row["r_base_passed"] is None else bool(row["r_base_passed"]),
        )

    def samples(self, run_id: str, task_id: str | None = None) -> list[SampleRecord]:
        """A run's samples with their verdicts, ordered by task (run order) then index."""
        sql = self._SAMPLES + " WHERE s.run_id = ?"
        params: list[Any] = [run_id]
        if task_id is not None:
            sql += " AND s.task_id = ?"
            params.append(task_id)
        with self._locked() as conn:
            rows = [self._sample_from_row(r) for r in conn.execute(sql + " ORDER BY s.created_at, s.idx", params)]
            order_row = conn.execute("SELECT task_ids FROM runs WHERE id = ?", (run_id,)).fetchone()
        order = {t: i for i, t in enumerate(json.loads(order_row["task_ids"]) if order_row else [])}
        rows.sort(key=lambda s: (order.get(s.task_id, len(order)), s.task_id, s.index))
        return rows

    def sample(self, run_id: str, task_id: str, index: int) -> SampleRecord | None:
        with self._locked() as conn:
            row = conn.execute(self._SAMPLES + " WHERE s.run_id = ? AND s.task_id = ? AND s.idx = ?", (run_id, task_id, index)).fetchone()
        return self._sample_from_row(row) if row else None

    def done_keys(self, run_id: str) -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
        """(stored sample keys, judged sample keys) for resuming."""
        with self._locked() as conn:
            generated = {(r[0], r[1]) for r in conn.execute("SELECT task_id, idx FROM samples WHERE run_id = ?", (run_id,))}
            judged = {(r[0], r[1]) for r in conn.execute("SELECT task_id, idx FROM results WHERE run_id = ?", (run_id,))}
        return generated, judged

    def totals(self, run_id: str) -> dict[str, tuple[int, int]]:
        """task_id -> (judged samples, passed samples), for pass@k."""
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT task_id, COUNT(*) AS n, COALESCE(SUM(passed), 0) AS c FROM results WHERE run_id = ? GROUP BY task_id",
                (run_id,),
            ).fetchall()
        return {r["task_id"]: (int(r["n"]), int(r["c"])) for r in rows}

    def base_totals(self, run_id: str) -> dict[str, tuple[int, int]]:
        """humaneval-plus: task_id -> (samples with a base verdict, passed by HumanEval's own test);
        empty for runs of sets with one test."""
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT task_id, COUNT(*) AS n, COALESCE(SUM(base_passed), 0) AS c FROM results "
                "WHERE run_id = ? AND base_passed IS NOT NULL GROUP BY task_id",
                (run_id,),
            ).fetchall()
        return {r["task_id"]: (int(r["n"]), int(r["c"])) for r in rows}

    def generation_stats(self, run_id: str) -> dict[str, float]:
        with self._locked() as conn:
            row = conn.execute(
                "SELECT COUNT(*) AS samples, COALESCE(SUM(tokens), 0) AS tokens, COALESCE(SUM(seconds), 0) AS seconds FROM samples WHERE run_id = ?",
                (run_id,),
            ).fetchone()
            wall = conn.execute("SELECT generation_wall_seconds FROM runs WHERE id = ?", (run_id,)).fetchone()
            ex = conn.execute(
                "SELECT COUNT(*) AS executed, COALESCE(SUM(passed), 0) AS passed, COALESCE(SUM(seconds), 0) AS seconds FROM results WHERE run_id = ?",
                (run_id,),
            ).fetchone()
        return {
            "generated": int(row["samples"]),
            "generated_tokens": int(row["tokens"]),
            # wall-clock time spent generating (all sessions); falls back to the samples' own seconds
            "generation_seconds": float(wall[0]) if wall and wall[0] else float(row["seconds"]),
            "sample_seconds": float(row["seconds"]),
            "executed": int(ex["executed"]),
            "passed": int(ex["passed"]),
            "execution_seconds": float(ex["seconds"]),
        }

    # -- queries for browsers (the TUI's problem list) ------------------------------------------

    def problem_stats(self, task_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Per problem, across all runs: the last run's and the best run's pass rate.

        task_id -> {"last": {"run_id", "passed", "n", "rate", "at"}, "best": {...}, "runs": count}.
        """
        with self._locked() as conn:
            rows = conn.execute(
                """SELECT x.task_id, x.run_id, COUNT(*) AS n, SUM(x.passed) AS c, MAX(x.created_at) AS at
                   FROM results x GROUP BY x.task_id, x.run_id"""
            ).fetchall()
        wanted = set(task_ids) if task_ids is not None else None
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            if wanted is not None and r["task_id"] not in wanted:
                continue
            entry = {"run_id": r["run_id"], "passed": int(r["c"]), "n": int(r["n"]), "rate": r["c"] / r["n"], "at": r["at"]}
            cur = out.setdefault(r["task_id"], {"last": entry, "best": entry, "runs": 0})
            cur["runs"] += 1
            if entry["at"] > cur["last"]["at"]:
                cur["last"] = entry
            if (entry["rate"], entry["n"]) > (cur["best"]["rate"], cur["best"]["n"]):
                cur["best"] = entry
        return out
