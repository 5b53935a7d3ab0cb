"""The run store's SQLite schema and its migrations: version N's statements bring a file from
N-1 to N (add a new version for a change; never edit an old one)."""

from __future__ import annotations

SCHEMA_VERSION = 8


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
    # v7: versus pairs, two runs on the same problems with the same seed (`pycodex versus`, the TUI's
    # versus screen): A and B, compared by `report --compare`. A pair goes with either of its runs.
    7: [
        "CREATE TABLE IF NOT EXISTS versus (id TEXT PRIMARY KEY, run_a TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, "
        "run_b TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, created_at REAL NOT NULL, UNIQUE (run_a, run_b))",
    ],
    # v8: whether any session of a run generated with layers offloaded to a GPU (1), or none did (0):
    # GPU kernels are not batch-invariant, so such a run's resumed samples are fresh draws. Earlier
    # runs: 0 where they asked for no offload (or had no llama model), unknown (NULL) otherwise.
    8: [
        "ALTER TABLE runs ADD COLUMN gpu_offload INTEGER",
        "UPDATE runs SET gpu_offload = 0 WHERE backend != 'llama' OR COALESCE(json_extract(config, '$.n_gpu_layers'), 0) = 0",
    ],
}
