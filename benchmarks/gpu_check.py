"""Issue 22's checks on a GPU machine, in one run (about 4 minutes on an H100 once llama-cpp-python
is built for CUDA; ../shared/gpu/README.md has the build and the transfers). From the project's root:

    python3 benchmarks/gpu_check.py [--quick] > $OUT/gpu_check.jsonl

Each check prints one JSON line as it ends:
1. `pycodex models --json`: the build can offload (gpu_offload true);
2. the numpy import-order crash: `python3 -m pycodex eval ... --n-gpu-layers -1` run plainly (no
   `import llama_cpp` first by hand) loads the model and finishes (exit 0, not a segfault);
3. the bench workload with the step profile: `bench_generate.py --n-gpu-layers -1 --profile`
   (4 prompts x n=16, 128 tokens): tokens/s, the fraction of the decode-only ceiling (goal >= 0.5),
   the split of a step (decode call, synchronize = compute + logits copy, the copy alone, sampling),
   with the sampler on one thread and then on the backend's 8 (what it does with GPU offload);
4. batch invariance on the GPU: 6 samples drawn in a mixed stream and each alone (same seeds), as
   the backend runs, with every step at one fixed row count, and that without CUDA graphs;
5. a killed GPU eval resumed: `--resume` says its samples are fresh draws, and the run stores gpu_offload;
6. the full greedy eval of the 164 problems on the GPU (skipped with --quick).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIB = 'def fib(n):\n    """Return the n-th Fibonacci number.\n    >>> fib(10)\n    55\n    """\n'


def emit(check: str, **figures) -> None:
    print(json.dumps({"check": check, **figures}), flush=True)


def pycodex(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pycodex", *args], capture_output=True, text=True, timeout=timeout)


def models() -> None:
    done = pycodex("models", "--json")
    emit("models", rc=done.returncode, gpu_offload=json.loads(done.stdout).get("gpu_offload") if done.returncode == 0 else None,
         stderr=done.stderr[-400:])


def import_order(db: str) -> None:
    done = pycodex("eval", "-p", "0-3", "-n", "1", "-t", "0", "--max-tokens", "32", "--n-gpu-layers", "-1", "--db", db, "--json")
    emit("import_order_eval", rc=done.returncode, segfault=done.returncode == -signal.SIGSEGV, stderr=done.stderr[-400:])


def bench(sampling_threads: int | None = None) -> None:
    """The bench workload; sampling_threads 1 measures the single-thread sampler, None the backend's
    choice with offload (its --threads: 8)."""
    extra = ["--sampling-threads", str(sampling_threads)] if sampling_threads else []
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_generate.py"), "--n-gpu-layers", "-1", "--threads", "8",
                           "--skip-sequential", "--skip-server", "--profile", "--json", *extra], capture_output=True, text=True, timeout=900)
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:
        emit("bench", rc=done.returncode, stderr=done.stderr[-800:])
        return
    emit("bench", rc=done.returncode, **{k: result.get(k) for k in ("gpu_offload", "sampling_threads", "parallel", "median_tokens_per_s", "tokens",
                                                                   "ceilings_tokens_per_s", "fraction_of_ceiling", "profile")})


def batch_invariance(fixed_rows: bool = False) -> None:
    """6 samples of 2 prompts in one stream (10 slots) against each drawn alone. fixed_rows: every
    step decodes all 10 sequences, alone too (MIN_STEP_ROWS raised to the slot count: the same
    kernels and the same row count at every step; only the sample's row differs)."""
    import llama_cpp  # noqa: F401  (the backend imports it first anyway)

    import pycodex.generation.llama.backend as module
    from pycodex.generation.base import SampleFinished, SamplingParams
    from pycodex.generation.llama.backend import LlamaBackend
    from pycodex.generation.models import resolve_model
    from pycodex.problems.problem import load_humaneval

    model = resolve_model(show_progress=False).path
    prompt = load_humaneval().problems[0].prompt
    params = SamplingParams(n=6, temperature=0.8, max_tokens=32, seed=9, stop=())

    def draw(backend, requests):
        out = {}
        for key, event in backend.generate_many(requests, keep_token_ids=True):
            if isinstance(event, SampleFinished):
                out[(key, event.index)] = (tuple(backend.stream_token_ids.pop((key, event.index))), event.sum_logprob)
        return out

    if fixed_rows:
        module.MIN_STEP_ROWS = 10  # type: ignore[misc]
    wide = LlamaBackend(model, n_gpu_layers=-1, n_ctx=256, parallel=10, n_threads=4)
    mixed = draw(wide, [(0, FIB, params), (1, prompt, params)])
    wide.close()
    small = LlamaBackend(model, n_gpu_layers=-1, n_ctx=256, parallel=10 if fixed_rows else 4, n_threads=4)
    agree = tokens_agree = total = 0
    for key, text in ((1, prompt), (0, FIB)):
        for index in (5, 0, 3):
            alone = draw(small, [(key, text, params, [index])])[(key, index)]
            total += 1
            agree += alone == mixed[(key, index)]
            tokens_agree += alone[0] == mixed[(key, index)][0]
    small.close()
    emit("batch_invariance_gpu", fixed_rows=fixed_rows, cuda_graphs=not os.environ.get("GGML_CUDA_DISABLE_GRAPHS"),
         equal=agree, same_tokens=tokens_agree, of=total)


def invariance_variants() -> None:
    """Each variant in a fresh process (CUDA graphs are switched off through the environment)."""
    for fixed, graphs_off in ((False, False), (True, False), (True, True)):
        env = dict(os.environ, **({"GGML_CUDA_DISABLE_GRAPHS": "1"} if graphs_off else {}))
        done = subprocess.run([sys.executable, __file__, "--invariance", "fixed" if fixed else "default"], env=env,
                              capture_output=True, text=True, timeout=300)
        sys.stdout.write(done.stdout if done.returncode == 0 else json.dumps({"check": "error", "where": "invariance",
                                                                              "stderr": done.stderr[-600:]}) + "\n")
        sys.stdout.flush()


def resume_note(db: str) -> None:
    args = ["eval", "-p", "0-7", "-n", "8", "-t", "0.8", "--max-tokens", "128", "--seed", "3", "--n-gpu-layers", "-1", "--db", db, "--json"]
    proc = subprocess.Popen([sys.executable, "-m", "pycodex", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
                stored = conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        except sqlite3.Error:
            continue
        if stored >= 8:
            break
    proc.kill()
    proc.wait()
    with sqlite3.connect(db) as conn:
        run_id, offload = conn.execute("SELECT id, gpu_offload FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()
    done = pycodex("eval", "--resume", run_id, "--db", db, "--json")
    emit("resume_gpu_run", killed_after=stored, gpu_offload=offload, rc=done.returncode, says_fresh_draws="fresh draws" in done.stderr,
         pass_at_k=json.loads(done.stdout).get("pass_at_k") if done.returncode == 0 else None)


def full_greedy(db: str) -> None:
    started = time.perf_counter()
    done = pycodex("eval", "--problems", "all", "-n", "1", "-t", "0", "--n-gpu-layers", "-1", "--db", db, "--json", timeout=900)
    data = json.loads(done.stdout) if done.returncode in (0, 1) and done.stdout.strip() else {}
    emit("greedy_164_gpu", rc=done.returncode, seconds=round(time.perf_counter() - started, 1), pass_at_k=data.get("pass_at_k"),
         totals=data.get("totals"), stderr=done.stderr[-400:] if not data else "")


def main() -> None:
    if sys.argv[1:2] == ["--invariance"]:
        batch_invariance(fixed_rows=sys.argv[2] == "fixed")
        return
    quick = "--quick" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "runs.db")
        for check in (models, lambda: import_order(db), lambda: bench(1), bench, invariance_variants, lambda: resume_note(os.path.join(tmp, "resume.db"))):
            try:
                check()
            except Exception as exc:  # one check's failure must not hide the others'
                emit("error", where=getattr(check, "__name__", "?"), error=f"{type(exc).__name__}: {exc}")
        if not quick:
            full_greedy(os.path.join(tmp, "greedy.db"))


if __name__ == "__main__":
    main()
