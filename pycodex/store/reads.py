"""The run store's reads: runs (with their counts), samples with their verdicts, totals and the
per-problem statistics the TUI's browser shows. A Store holds one StoreReads, handed the Store's
`locked()` (the connection under the Store's lock), and answers its reads through it."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Callable, ContextManager, Iterable

from pycodex.errors import UserError
from pycodex.execution.verdict import VerdictStatus
from pycodex.generation.base import SampleFinished
from pycodex.store.records import RunRecord, RunStatus, SampleRecord


class StoreReads:
    def __init__(self, locked: Callable[[], ContextManager[sqlite3.Connection]], path: Any) -> None:
        self._locked = locked  # the Store's: the connection under its lock
        self.path = path

    _SAMPLES = """
        SELECT s.*, x.status AS r_status, x.passed AS r_passed, x.detail AS r_detail, x.seconds AS r_seconds,
               x.created_at AS r_created_at, x.session AS r_session, x.judge AS r_judge, x.base_passed AS r_base_passed
        FROM samples s LEFT JOIN results x ON x.run_id = s.run_id AND x.task_id = s.task_id AND x.idx = s.idx
    """

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
            status=RunStatus(row["status"]),
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
            gpu_offload=None if "gpu_offload" not in keys or row["gpu_offload"] is None else bool(row["gpu_offload"]),
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

    def versus_pairs(self, run_id: str | None = None) -> list[tuple[str, str, str]]:
        """(pair id, run A, run B) of the versus pairs (those with run_id as A or B), newest first."""
        sql, params = "SELECT id, run_a, run_b FROM versus", tuple[str, ...]()
        if run_id is not None:
            sql, params = sql + " WHERE run_a = ? OR run_b = ?", (run_id, run_id)
        with self._locked() as conn:
            return [(r["id"], r["run_a"], r["run_b"]) for r in conn.execute(sql + " ORDER BY created_at DESC", params)]

    @staticmethod
    def _sample_from_row(row: sqlite3.Row) -> SampleRecord:
        return SampleRecord(
            run_id=row["run_id"],
            task_id=row["task_id"],
            sample=SampleFinished(
                index=row["idx"], completion=row["completion"], finish_reason=row["finish_reason"], tokens=row["tokens"],
                sum_logprob=row["sum_logprob"], mean_logprob=row["mean_logprob"], seconds=row["seconds"], raw=row["reply"],
            ),
            seed=row["seed"],
            created_at=row["created_at"],
            session=row["session"],
            status=None if row["r_status"] is None else VerdictStatus(row["r_status"]),
            passed=None if row["r_passed"] is None else bool(row["r_passed"]),
            detail=row["r_detail"],
            exec_seconds=row["r_seconds"],
            judged_at=row["r_created_at"],
            judged_session=row["r_session"],
            judge=row["r_judge"],
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
