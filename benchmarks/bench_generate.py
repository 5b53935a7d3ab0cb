"""Batched generation vs sequential llama-cpp-python calls, same model, same sampling.

    python benchmarks/bench_generate.py                      # n=16 x 4 HumanEval prompts, 128 tokens
    python benchmarks/bench_generate.py --n 4 --prompts 1 --max-tokens 32   # a quick look

The batched side streams all prompts through LlamaBackend.generate_many (continuous batching
across prompts: a slot freed by a finished sample starts the next one, of any prompt); with
--per-prompt it calls generate() once per prompt instead (the earlier path, a batch per prompt).
Both sides sample at T=0.8, top_p=0.95 with the paper's stop sequences; the sequential side calls
Llama.create_completion once per sample with top_k=0 and min_p=0 (no truncation but top-p), so
the two do the same work per token. Prints aggregate tokens/s of each and their ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from pycodex.generation.base import STOP_SEQUENCES, SampleFinished, SamplingParams
from pycodex.generation.llama_backend import LlamaBackend, default_threads
from pycodex.generation.models import resolve_model
from pycodex.problems import load_humaneval


def batched(backend: LlamaBackend, prompts: list[str], params: SamplingParams, per_prompt: bool = False) -> tuple[int, float]:
    """Sampled tokens (to the stop, end-of-generation excluded) and seconds."""
    tokens = 0
    started = time.perf_counter()
    if per_prompt:
        for prompt in prompts:
            for event in backend.generate(prompt, params):
                if isinstance(event, SampleFinished):
                    tokens += len(backend.last_token_ids[event.index])
    else:
        requests = ((i, prompt, params) for i, prompt in enumerate(prompts))
        for key, event in backend.generate_many(requests, keep_token_ids=True):
            if isinstance(event, SampleFinished):
                tokens += len(backend.stream_token_ids.pop((key, event.index)))
    return tokens, time.perf_counter() - started


def sequential(llm, prompts: list[str], params: SamplingParams) -> tuple[int, float]:
    tokens = 0
    started = time.perf_counter()
    for prompt in prompts:
        for index in range(params.n):
            out = llm.create_completion(
                prompt,
                max_tokens=params.max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                top_k=0,
                min_p=0.0,
                stop=list(params.stop),
                seed=(params.seed or 0) + index,
            )
            tokens += out["usage"]["completion_tokens"]
    return tokens, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=16, help="samples per prompt (default 16)")
    parser.add_argument("--prompts", type=int, default=4, help="how many HumanEval prompts, from HumanEval/0 (default 4)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for both sides (default: the idle cores, as pycodex picks)")
    parser.add_argument("--ctx", type=int, default=None, help="batched backend's context (default: the backend's)")
    parser.add_argument("--model", default=None, help="GGUF file (default: pycodex's model resolution)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-stop", action="store_true", help="no stop sequences: every sample runs to max_tokens (full batches)")
    parser.add_argument("--per-prompt", action="store_true", help="batched side: one generate() call per prompt instead of one generate_many stream")
    parser.add_argument("--skip-sequential", action="store_true", help="only time the batched backend")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    path = resolve_model(args.model, show_progress=sys.stderr.isatty()).path
    threads = args.threads or default_threads()
    prompts = [p.prompt for p in load_humaneval().problems[: args.prompts]]
    params = SamplingParams(
        n=args.n, temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens, stop=() if args.no_stop else STOP_SEQUENCES, seed=args.seed
    ).validate()

    backend = LlamaBackend(path, n_threads=threads, n_ctx=args.ctx, parallel=min(args.n, 16))
    batched(backend, prompts[:1], SamplingParams(n=1, max_tokens=4, temperature=0.8, seed=1))  # warm-up
    b_tokens, b_seconds = batched(backend, prompts, params, per_prompt=args.per_prompt)
    backend.close()
    result = {
        "model": str(path),
        "threads": threads,
        "prompts": len(prompts),
        "n": args.n,
        "max_tokens": args.max_tokens,
        "batched_mode": "per-prompt generate()" if args.per_prompt else "generate_many stream",
        "batched_tokens": b_tokens,
        "batched_seconds": round(b_seconds, 2),
        "batched_tokens_per_s": round(b_tokens / b_seconds, 1),
    }
    if not args.skip_sequential:
        from llama_cpp import Llama

        llm = Llama(str(path), n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)
        llm.create_completion(prompts[0], max_tokens=4)  # warm-up
        s_tokens, s_seconds = sequential(llm, prompts, params)
        llm.close()
        result |= {
            "sequential_tokens": s_tokens,
            "sequential_seconds": round(s_seconds, 2),
            "sequential_tokens_per_s": round(s_tokens / s_seconds, 1),
        }
        result["speedup"] = round(result["batched_tokens_per_s"] / result["sequential_tokens_per_s"], 2)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    stops = "no stops" if args.no_stop else "paper's stops"
    print(f"model      {path.name}, {threads} thread(s), {len(prompts)} prompt(s) x n={args.n}, max_tokens={args.max_tokens}, T={args.temperature}, top_p={args.top_p}, {stops}")
    print(f"batched    ({result['batched_mode']})")
    print(f"batched    {b_tokens:6d} tokens in {b_seconds:7.1f} s = {result['batched_tokens_per_s']:7.1f} tokens/s")
    if "speedup" in result:
        print(f"sequential {result['sequential_tokens']:6d} tokens in {result['sequential_seconds']:7.1f} s = {result['sequential_tokens_per_s']:7.1f} tokens/s")
        print(f"speedup    {result['speedup']:.2f}x (goal: 2.5x on 2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
