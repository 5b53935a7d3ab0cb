"""The run store: ids, samples, verdicts, migration, concurrency, and one-line errors."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest

from pycodex.errors import UserError
from pycodex.store.database import (
    CANCELLED,
    FINISHED,
    INTERRUPTED,
    RUNNING,
    SCHEMA_VERSION,
    Store,
)
from pycodex.store.schema import _SCHEMA_V1


def _run(store: Store, **kw) -> str:
    args = dict(config={"backend": "canonical"}, backend="canonical", task_ids=["HumanEval/0", "HumanEval/1"], n=2)
    args.update(kw)
    return store.create_run(**args)


def test_samples_and_results_roundtrip(tmp_path):
    with Store(tmp_path / "runs.db") as store:
        rid = _run(store, temperature=0.2, seed=7, name="first")
        assert len(rid) == 8 and int(rid, 16) >= 0
        store.add_sample(rid, "HumanEval/1", 0, completion="    return 1\n", tokens=3, sum_logprob=-1.5, mean_logprob=-0.5, finish_reason="stop", seconds=0.1, seed=11)
        store.add_sample(rid, "HumanEval/0", 1, completion="    pass\n", tokens=2, sum_logprob=-2.0, mean_logprob=-1.0, finish_reason="eos", seconds=0.2)
        store.add_result(rid, "HumanEval/1", 0, status="passed", passed=True, seconds=0.05)
        # a second verdict for the same sample is ignored: the first one stands
        store.add_result(rid, "HumanEval/1", 0, status="failed", passed=False)
        samples = store.samples(rid)
        # ordered by the run's task order, then index
        assert [(s.task_id, s.index) for s in samples] == [("HumanEval/0", 1), ("HumanEval/1", 0)]
        assert samples[1].passed is True and samples[1].status == "passed" and samples[1].seed == 11
        assert samples[0].judged is False
        assert store.totals(rid) == {"HumanEval/1": (1, 1)}
        generated, judged = store.done_keys(rid)
        assert generated == {("HumanEval/0", 1), ("HumanEval/1", 0)} and judged == {("HumanEval/1", 0)}
        stats = store.generation_stats(rid)
        assert stats["generated_tokens"] == 5 and stats["executed"] == 1 and stats["passed"] == 1
        record = store.get_run(rid)
        assert (record.generated, record.executed, record.passed, record.total) == (2, 1, 1, 4)
        assert record.status == RUNNING and record.effective_status == RUNNING  # this process is alive
        with pytest.raises(RuntimeError):
            store.add_sample(rid, "HumanEval/1", 0, completion="again")


def test_resolve_prefix_name_last_and_errors(tmp_path):
    with Store(tmp_path / "runs.db") as store:
        a = _run(store, run_id="abc12345", name="alpha")
        b = _run(store, run_id="abd99999")
        assert store.resolve("abc") == a
        assert store.resolve("ABC1") == a  # ids are hex: case-insensitive prefix
        assert store.resolve("alpha") == a
        assert store.resolve("last") == b
        with pytest.raises(UserError, match="ambiguous"):
            store.resolve("ab")
        with pytest.raises(UserError, match="unknown run 'zzz'"):
            store.resolve("zzz")
        with pytest.raises(UserError, match="already exists"):
            _run(store, name="alpha")


def test_dead_running_run_reads_interrupted_and_resumes(tmp_path):
    with Store(tmp_path / "runs.db") as store:
        rid = _run(store)
        # pretend the process that ran it died
        store._conn.execute("UPDATE runs SET pid = ? WHERE id = ?", (2**22 + 12345, rid))
        record = store.get_run(rid)
        assert record.effective_status == INTERRUPTED and record.resumable
        assert store.begin_session(rid) == 2
        assert store.get_run(rid).effective_status == RUNNING
        store.finish_run(rid, CANCELLED)
        assert store.get_run(rid).effective_status == CANCELLED


def test_delete_removes_everything(tmp_path):
    with Store(tmp_path / "runs.db") as store:
        keep = _run(store)
        gone = _run(store)
        for rid in (keep, gone):
            store.add_sample(rid, "HumanEval/0", 0, completion="x")
            store.add_result(rid, "HumanEval/0", 0, status="failed", passed=False)
        store.finish_run(gone, FINISHED)
        store.delete_run(gone)
        assert [r.id for r in store.list_runs()] == [keep]
        assert store._conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 1
        assert store._conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 1


def test_migrates_a_version_1_store(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(_SCHEMA_V1)
    conn.execute(
        "INSERT INTO runs (id, status, backend, config, n, task_ids, created_at) VALUES ('0123abcd', 'finished', 'canonical', '{}', 1, '[\"HumanEval/0\"]', 1.0)"
    )
    conn.execute("INSERT INTO samples (run_id, task_id, idx, completion, created_at) VALUES ('0123abcd', 'HumanEval/0', 0, 'x', 1.0)")
    conn.execute("INSERT INTO results (run_id, task_id, idx, status, passed, created_at) VALUES ('0123abcd', 'HumanEval/0', 0, 'passed', 1, 1.0)")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 4
        record = store.get_run(store.resolve("0123"))
        assert record.sessions == 1 and record.generated == 1
        sample = store.samples(record.id)[0]
        assert sample.session == 1
        assert sample.judge == "classic"  # every verdict stored before the judge column was judged in-process
        assert sample.reply is None  # v5: no chat reply for an old completion


def test_each_verdict_records_its_judge(tmp_path):
    with Store(tmp_path / "runs.db") as store:
        rid = store.create_run(config={}, backend="canonical", task_ids=["HumanEval/0", "HumanEval/1"], n=1, temperature=None, seed=None)
        for task_id, judge in (("HumanEval/0", "strict"), ("HumanEval/1", "classic")):
            store.add_sample(rid, task_id, 0, completion="x")
            store.add_result(rid, task_id, 0, status="passed", passed=True, judge=judge)
        assert [(s.task_id, s.judge) for s in store.samples(rid)] == [("HumanEval/0", "strict"), ("HumanEval/1", "classic")]
        assert all(s.to_dict()["judge"] for s in store.samples(rid))


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    with Store(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(UserError, match="newer than this pycodex"):
        Store(path)


def test_corrupt_file_is_one_line_error(tmp_path):
    path = tmp_path / "runs.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(UserError) as info:
        Store(path)
    assert "corrupt" in str(info.value) and "\n" not in str(info.value)
    assert path.read_bytes().startswith(b"this is not sqlite")  # untouched


def test_other_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(UserError, match="not a pycodex run store"):
        Store(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; covered by the path-under-a-file case")
def test_unwritable_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    with pytest.raises(UserError):
        Store(folder / "sub" / "runs.db")


def test_path_under_a_file_is_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot create"):
        Store(blocker / "runs.db")


def test_locked_store_is_one_line_error(tmp_path):
    path = tmp_path / "runs.db"
    with Store(path) as store:
        _run(store)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with Store(path, timeout=0.2) as store:
            with pytest.raises(UserError, match="locked"):
                _run(store)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with Store(path) as store:
        assert len(store.list_runs()) == 1  # nothing lost


def test_concurrent_writers_from_threads(tmp_path):
    with Store(tmp_path / "runs.db") as store:
        rid = _run(store, n=200)
        errors = []

        def write(task):
            try:
                for i in range(100):
                    store.add_sample(rid, task, i, completion=str(i))
                    store.add_result(rid, task, i, status="passed", passed=i % 2 == 0)
                    store.totals(rid)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(t,)) for t in ("HumanEval/0", "HumanEval/1", "HumanEval/2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert store.totals(rid) == {t: (100, 50) for t in ("HumanEval/0", "HumanEval/1", "HumanEval/2")}


def test_two_store_objects_share_one_file(tmp_path):
    path = tmp_path / "runs.db"
    with Store(path) as writer, Store(path) as reader:
        rid = _run(writer)
        writer.add_sample(rid, "HumanEval/0", 0, completion="x")
        assert reader.get_run(rid).generated == 1


def test_problem_stats_last_and_best(tmp_path):
    with Store(tmp_path / "runs.db") as store:
        first = _run(store)
        for i, ok in enumerate((True, True)):
            store.add_sample(first, "HumanEval/0", i, completion="x")
            store.add_result(first, "HumanEval/0", i, status="passed" if ok else "failed", passed=ok)
        second = _run(store)
        for i, ok in enumerate((False, True)):
            store.add_sample(second, "HumanEval/0", i, completion="x")
            store.add_result(second, "HumanEval/0", i, status="passed" if ok else "failed", passed=ok)
        stats = store.problem_stats()
        assert stats["HumanEval/0"]["best"]["run_id"] == first and stats["HumanEval/0"]["best"]["rate"] == 1.0
        assert stats["HumanEval/0"]["last"]["run_id"] == second and stats["HumanEval/0"]["last"]["rate"] == 0.5
        assert stats["HumanEval/0"]["runs"] == 2
        assert "HumanEval/1" not in stats


def test_v6_records_the_problem_set_and_base_verdicts(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(_SCHEMA_V1)
    conn.execute("INSERT INTO runs (id, status, backend, config, n, task_ids, created_at) VALUES ('aaaa1111', 'finished', 'canonical', '{}', 1, '[]', 1.0)")
    conn.execute("INSERT INTO runs (id, status, backend, config, n, task_ids, created_at) VALUES ('bbbb2222', 'finished', 'canonical', "
                 "'{\"problems_file\": \"/x.jsonl\"}', 1, '[]', 2.0)")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    with Store(path) as store:
        old, own_file = store.get_run("aaaa1111"), store.get_run("bbbb2222")
        assert (old.problem_set, old.problem_set_version) == ("humaneval", "1.0.3")  # before v6: the bundled HumanEval
        assert own_file.problem_set is None
        rid = store.create_run(config={"problem_set": "humaneval-plus", "problem_set_version": "1-seed14"}, backend="canonical",
                               task_ids=["HumanEval/0"], n=2)
        assert (store.get_run(rid).problem_set, store.get_run(rid).problem_set_version) == ("humaneval-plus", "1-seed14")
        for index, (passed, base) in enumerate(((False, True), (True, True))):
            store.add_sample(rid, "HumanEval/0", index, completion="x")
            store.add_result(rid, "HumanEval/0", index, status="passed" if passed else "failed", passed=passed, base_passed=base)
        assert store.totals(rid) == {"HumanEval/0": (2, 1)} and store.base_totals(rid) == {"HumanEval/0": (2, 2)}
        assert [s.base_passed for s in store.samples(rid)] == [True, True]
        assert store.base_totals(store.create_run(config={}, backend="canonical", task_ids=[], n=1)) == {}
