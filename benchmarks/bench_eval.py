"""Benchmark: the full eval pipeline against generation alone, same model, same settings.

    python benchmarks/bench_eval.py                      # 20 problems x n=8, the default model
    python benchmarks/bench_eval.py --problems 0-4 --n 4 --max-tokens 64   # smaller

1. Generation alone: the backend is asked for exactly what the pipeline asks (same chunks, same
   derived seeds, and like the pipeline one generate_many stream of all the chunks when the
   backend has it, else one generate() call per chunk), and the samples are drained and dropped.
2. The pipeline: the same loaded backend, plus sandboxed execution of every sample as soon as it
   is generated, the SQLite store (one commit per sample and per verdict) and events.

The model is loaded once and warmed up (one short untimed call) before both timings. The ratio pipeline / generation is the cost of
everything that is not generation; the goal is <= 1.05 (execution hidden behind generation).
Both runs use the same seeds, so they also produce the same samples (checked).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="GGUF file or model name (default: the bundled default model)")
    ap.add_argument("--backend", default="llama", help="llama (default) or canonical (measures pure overhead)")
    ap.add_argument("--problems", default="0-19")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk-size", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--n-gpu-layers", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None, help="executor workers (default: the executor's)")
    ap.add_argument("--db", default=None, help="run store for the pipeline run (default: a temporary file)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)

    from pycodex.generation.base import SamplingParams
    from pycodex.generation.factory import create_backend
    from pycodex.generation import registry
    from pycodex.runs.config import DEFAULT_CHUNK, derive_seed
    from pycodex.runs.pipeline import Pipeline, RunConfig
    from pycodex.problems.problem import load_humaneval
    from pycodex.store.database import Store

    problem_set = load_humaneval()
    problems = problem_set.select(args.problems)
    params = SamplingParams(n=args.n, temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed).validate()
    chunk = args.chunk_size or DEFAULT_CHUNK

    t0 = time.perf_counter()
    backend = create_backend(args.backend, model=args.model, n_gpu_layers=args.n_gpu_layers, threads=args.threads, problem_set=problem_set)
    load_seconds = time.perf_counter() - t0
    info = backend.describe()
    print(f"backend {info.get('kind')} {info.get('model_path', '')} loaded in {load_seconds:.1f}s", file=sys.stderr)
    replay = registry.is_replay(backend.name)
    # Warm up (page the memory-mapped weights in, first-call allocations): not timed.
    t0 = time.perf_counter()
    for _ in backend.generate(problems[0].prompt, replace(params, n=min(args.n, chunk), max_tokens=min(8, args.max_tokens)), task_id=problems[0].task_id):
        pass
    warmup_seconds = time.perf_counter() - t0

    # 1. generation alone
    alone: dict[tuple[str, int], str] = {}
    tokens = 0
    t0 = time.perf_counter()
    calls = []  # (key, prompt, params): exactly the requests the pipeline makes
    for problem in problems:
        if replay:
            calls.append(((problem.task_id, 0), problem.prompt, replace(params, n=args.n)))
        else:
            for number, start in enumerate(range(0, args.n, chunk)):
                seed = derive_seed(args.seed, problem.task_id, number)
                calls.append(((problem.task_id, start), problem.prompt, replace(params, n=min(chunk, args.n - start), seed=seed)))

    def record(key, event):
        nonlocal tokens
        if hasattr(event, "completion"):
            task_id, start = key
            alone[(task_id, start + event.index)] = event.completion
            tokens += event.tokens

    if not replay and hasattr(backend, "generate_many"):
        for key, event in backend.generate_many(calls):
            record(key, event)
    else:
        for key, prompt, p in calls:
            for event in backend.generate(prompt, p, task_id=key[0]):
                record(key, event)
    generation_seconds = time.perf_counter() - t0
    print(f"generation alone: {len(alone)} samples, {tokens} tokens in {generation_seconds:.2f}s", file=sys.stderr)

    # 2. the full pipeline (same backend, already loaded)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "bench.sqlite3"
        config = RunConfig(
            backend=args.backend,
            model=args.model,
            task_ids=[p.task_id for p in problems],
            params=params,
            workers=args.workers,
            ks=[1],
            chunk_size=chunk,
        )
        with Store(db) as store:
            t0 = time.perf_counter()
            finished = Pipeline(config, store=store, backend=backend, problem_set=problem_set).run()
            pipeline_seconds = time.perf_counter() - t0
            stored = {(s.task_id, s.index): s.completion for s in store.samples(finished.run_id)}
    backend.close()

    same = stored == alone
    ratio = pipeline_seconds / generation_seconds if generation_seconds > 0 else float("nan")
    figures = {
        "backend": info.get("kind"),
        "model": info.get("model_path"),
        "problems": len(problems),
        "n": args.n,
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
        "chunk_size": chunk,
        "samples": len(alone),
        "tokens": tokens,
        "model_load_seconds": round(load_seconds, 2),
        "warmup_seconds": round(warmup_seconds, 2),
        "generation_alone_seconds": round(generation_seconds, 3),
        "pipeline_seconds": round(pipeline_seconds, 3),
        "ratio": round(ratio, 4),
        "goal": 1.05,
        "tokens_per_second": round(tokens / generation_seconds, 1) if generation_seconds > 0 else None,
        "pass_at_1": finished.pass_at_k.get(1),
        "executed": finished.totals.get("executed"),
        "identical_samples": same,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:>26}: {value}")
        verdict = "OK" if ratio <= 1.05 else "above the 1.05 goal"
        print(f"pipeline / generation alone = {ratio:.3f} ({verdict})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
