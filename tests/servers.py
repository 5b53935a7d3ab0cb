"""Inference servers on loopback for tests: llama-cpp-python's own `llama_cpp.server` with the
default model, and a tiny fake HTTP server for the failures a real one will not produce on demand
(500s, hangs).

llama_cpp.server is started through `LAUNCHER`: it runs `python -m llama_cpp.server` unchanged,
except that llama.cpp's repacked CPU weight layouts ("extra buffer types") are off, as in pycodex's
own llama backend: with them, llama_cpp.Llama's first decode crashes (SIGSEGV) on some CPUs
(this machine's Xeon among them).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

LAUNCHER = """
import runpy, sys
from pycodex.generation.llama.setup import without_repacked_weights
sys.argv = ["llama_cpp.server", *sys.argv[1:]]
with without_repacked_weights():
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_model_path() -> Path:
    from pycodex.generation.models import resolve_model

    return resolve_model(show_progress=False).path


class LlamaCppServer:
    """`python -m llama_cpp.server` with the default model on 127.0.0.1:port, started and stopped by a test."""

    def __init__(self, port: int | None = None, *, n_ctx: int = 768, threads: int = 1, logits_all: bool = True, log: Path | None = None):
        self.port = port or free_port()
        self.n_ctx = n_ctx
        self.threads = threads
        self.logits_all = logits_all
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, wait: float = 180.0) -> "LlamaCppServer":
        args = [
            sys.executable, "-c", LAUNCHER,
            "--model", str(default_model_path()),
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads),
            "--logits_all", str(self.logits_all),
            "--verbose", "False",
        ]  # fmt: skip
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.proc.returncode} before answering")
            try:
                if httpx.get(self.url + "/models", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not answer within {wait}s")

    def kill(self) -> None:
        """SIGKILL: the server dies mid-request, as a crashed or preempted machine would."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def __enter__(self) -> "LlamaCppServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class FakeServer:
    """An OpenAI-shaped HTTP server on loopback whose /completions behaves as told: mode "ok"
    answers a fixed completion (after `delay` seconds), "500" answers HTTP 500 and "429" HTTP 429
    with Retry-After 0.3 (only the first `fail_first` completions when that is given), "hang" never
    answers (while /models and /health do: a request stuck in a queue). The 1-token start-up probe
    is always answered, so a failure comes mid-run. `no_completions`: /completions is a 404;
    `no_models`: /models is a 404 (not an OpenAI server).

    A request with `stream: true` is answered as server-sent events, a token per chunk
    `token_delay` seconds apart (`stream=False`: whole JSON, as a server that cannot stream);
    `stall_first`: the first that many completions send one token, then nothing. `freeze()`: from
    then on every request (and every answer in flight) is accepted and never answered, as a
    SIGSTOPped server; `thaw()` lets them go on."""

    TOKENS = (("    return", -0.5), (" 1\n", -0.25))

    def __init__(self, mode: str = "ok", *, fail_first: int | None = None, delay: float = 0.0, port: int = 0,
                 no_completions: bool = False, no_models: bool = False, model: str = "fake-model",
                 stream: bool = True, token_delay: float = 0.0, stall_first: int = 0):
        self.mode = mode
        self.stream = stream
        self.token_delay = token_delay
        self.stall_first = stall_first
        self.health_checks = 0
        self.awake = threading.Event()
        self.awake.set()
        self.model = model
        self.fail_first = fail_first
        self.delay = delay
        self.no_completions = no_completions
        self.no_models = no_models
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, data, headers: dict | None = None) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                fake.awake.wait(60)
                if self.path.endswith("/health"):
                    fake.health_checks += 1
                if self.path.endswith("/models") and not fake.no_models:
                    self._send(200, {"object": "list", "data": [{"id": fake.model, "object": "model", "owned_by": "test"}]})
                else:
                    self._send(404, {"detail": "Not Found"})

            def do_POST(self):
                fake.awake.wait(60)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if fake.no_completions or not self.path.endswith("/completions"):
                    self._send(404, {"detail": "Not Found"})
                    return
                if body.get("max_tokens") == 1:
                    self._ok(body)
                    return
                with fake._lock:
                    self.counted = True
                    fake.requests.append(body)
                    count = len(fake.requests)
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                    stalling = count <= fake.stall_first
                try:
                    failing = fake.mode in ("500", "429") and (fake.fail_first is None or count <= fake.fail_first)
                    if fake.mode == "hang":
                        fake._release.wait(60)
                        return
                    time.sleep(fake.delay)
                    if not stalling and not (body.get("stream") and fake.stream):
                        self._done()  # before the answer's last byte: the client may send its next request on reading it
                    if failing and fake.mode == "429":
                        self._send(429, {"error": {"message": "rate limited"}}, {"Retry-After": "0.3"})
                    elif failing:
                        self._send(500, {"error": {"message": "CUDA error: out of memory", "type": "server_error"}})
                    else:
                        self._ok(body, stall=stalling)
                finally:
                    self._done()

            def _done(self) -> None:
                with fake._lock:
                    if getattr(self, "counted", False):
                        fake.in_flight -= 1
                        self.counted = False

            def _ok(self, body, stall: bool = False):
                if body.get("stream") and fake.stream:
                    self._stream(stall)
                    return
                self._send(
                    200,
                    {
                        "choices": [{"text": "    return 1\n", "index": 0, "finish_reason": "stop", "logprobs": {"token_logprobs": [-0.5, -0.25]}}],
                        "usage": {"completion_tokens": 2},
                    },
                )

            def _stream(self, stall: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunks = [{"choices": [{"text": text, "index": 0, "finish_reason": None, "logprobs": {"token_logprobs": [lp]}}]} for text, lp in fake.TOKENS]
                chunks[-1]["choices"][0]["finish_reason"] = "stop"
                chunks.append({"choices": [], "usage": {"completion_tokens": len(fake.TOKENS)}})
                for i, chunk in enumerate([*chunks, "[DONE]"]):
                    if i:
                        time.sleep(fake.token_delay)
                    fake.awake.wait(60)  # frozen mid-answer
                    if chunk == "[DONE]":
                        self._done()
                    if stall and i == 1:
                        fake._release.wait(60)
                        return
                    data = chunk if isinstance(chunk, str) else json.dumps(chunk)
                    event = f"data: {data}\n\n".encode()
                    try:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                        self.wfile.flush()
                    except OSError:
                        return
                self.wfile.write(b"0\r\n\r\n")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def completions(self) -> int:
        """Completion requests received, the 1-token start-up probe excluded."""
        return len(self.requests)

    def __enter__(self) -> "FakeServer":
        self._thread.start()
        return self

    def freeze(self) -> None:
        self.awake.clear()

    def thaw(self) -> None:
        self.awake.set()

    def __exit__(self, *exc) -> None:
        self._release.set()
        self.awake.set()
        self.httpd.shutdown()
        self.httpd.server_close()
