"""Generation on OpenAI-compatible inference servers: llama-server, vLLM, Ollama, llama_cpp.server.

`ServerBackend(["http://gpu1:8080/v1", "http://gpu2:8080/v1"])` is a backend like the llama one
(`generate()`, `generate_many()`, `describe()`, `close()`), so the pipeline, the store, resume and
the TUI work unchanged.

- **One request per sample**, `n: 1`, with a seed of its own derived from the chunk's seed and the
  sample's index (`sample_seed`). Not every server honours `n > 1` (llama_cpp.server ignores it and
  answers one choice), one request per sample spreads evenly over slots and endpoints, and a resume
  asks for exactly the missing samples.
- **The paper's sampling, sent explicitly**: temperature, top_p, max_tokens, the five stops, the seed,
  and `UNTRUNCATED`: the knobs llama-server and llama_cpp.server otherwise apply by default (top_k 40,
  min_p 0.05, a repeat penalty) set to their off values. `describe()` records the exact request, so the
  run record says what was sent.
- **Log-probs from the API** (`logprobs: 1`; both the completions format, `token_logprobs`, and the
  chat format, `content[].logprob`, are read): the sum and mean log-prob of each sample. A server
  that cannot give them is found by the start-up probe: samples then carry log-prob 0 and the run
  record says `logprobs: false`.
- **Many requests in flight**: each endpoint takes as many as it has slots (llama-server's
  `/props` says `total_slots`; otherwise `--server-slots`, default `DEFAULT_SLOTS`); a sample goes to
  the least busy endpoint that is up.
- **Streamed** (`stream: true`, server-sent events, `stream.py`): each sample's text goes on as
  TextDeltas while it comes; a server that answers whole, or ends streams early, is read whole.
- **Stalls**: no token for `timeout` seconds once they come, or no answer by then and none to a
  health probe (a queued request's server answers it): the request is retried like a failure; a
  retried sample's shown text is voided by a `TextDelta(restart=True)`.
- **Retries**: a connection error, a stall, 429 or 5xx puts the endpoint down for a backoff
  (0.5 s doubling to 30 s, or the server's Retry-After) and the request goes to another endpoint or
  waits. A down endpoint gets one request at a time (the probe: `GET /models` with a 10 s timeout,
  then the sample) once its backoff is over; an answer brings it back (it rejoins). When every endpoint has failed more than `retries` times in a row the
  stream stops with a `ServerError`: every sample already yielded is stored, `--resume` finishes the
  run. Any other 4xx is a `ServerError` at once, with the server's own message.

The HTTP client is httpx (asyncio, one event loop on a thread of its own per backend); the
generator the pipeline reads runs on the caller's thread.
"""

from __future__ import annotations

import asyncio
import functools
import os
import queue
import threading
import time
from typing import Any, Callable, Hashable, Iterable, Iterator, Sequence

from pycodex.errors import UserError
from pycodex.generation.base import GenerationEvent, SampleFinished, SamplingParams, TextDelta

from pycodex.generation.server.pool import EndpointPool
from pycodex.generation.server.http import request_body
from pycodex.generation.server.stream import QUEUE_LIMIT, Answer, Clock, CutShort, Deltas, read_answer, read_sync, watch
from pycodex.generation.server.http import (  # noqa: F401  (the backend's public names stay importable from here)
    API_KEY_ENV,
    BACKOFF_CAP,
    BACKOFF_START,
    CHAT_PATH,
    COMPLETIONS_PATH,
    CONNECT_TIMEOUT,
    DEFAULT_RETRIES,
    DEFAULT_SLOTS,
    DEFAULT_TIMEOUT,
    describe_error,
    Endpoint,
    list_models,
    log,
    LOGPROBS_FIELD,
    normalize_url,
    sample_seed,
    ServerError,
    token_logprobs,
    UNTRUNCATED,
    _Fatal,
    _get_models,
    _headers,
    _Job,
    _retry_after,
    _Retryable,
    _root,
    _status_line,
)


class ServerBackend(EndpointPool):
    """Samples from one or more OpenAI-compatible servers serving the same model."""

    name = "server"

    def __init__(
        self,
        urls: Sequence[str],
        *,
        model: str | None = None,
        chat: bool = False,
        slots: int | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        api_key: str | None = None,
        backoff_start: float = BACKOFF_START,
    ):
        import httpx

        if not urls:
            raise UserError("no --server given")
        if slots is not None and slots < 1:
            raise UserError(f"bad --server-slots {slots}: must be at least 1")
        if timeout is not None and not timeout > 0:
            raise UserError(f"bad --server-timeout {timeout}: must be a positive number of seconds")
        if retries is not None and retries < 0:
            raise UserError(f"bad --server-retries {retries}: must be 0 or more")
        unique: list[str] = []
        for url in urls:
            base = normalize_url(url)
            if base not in unique:
                unique.append(base)
        self.endpoints = [Endpoint(u) for u in unique]
        self.requested_model = model
        self.chat = chat
        self.slots = slots
        self.timeout = timeout or DEFAULT_TIMEOUT
        self.retries = DEFAULT_RETRIES if retries is None else retries
        self.backoff_start = backoff_start
        self._headers = _headers(api_key)
        self.logprobs = True
        self.stream = True
        self._alive_checks: dict[str, asyncio.Future] = {}
        self.warnings: list[str] = []
        self._httpx_version = httpx.__version__
        self._preflight()

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pycodex-server-client", daemon=True)
        self._thread.start()
        self._client: httpx.AsyncClient | None = None
        self._cond: asyncio.Condition | None = None
        self._call(self._setup())
        self._futures: set = set()
        self._closed = False

    # -- start-up ---------------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        return sum(e.slots for e in self.endpoints)

    @property
    def model(self) -> str | None:
        return self.requested_model or next((e.model for e in self.endpoints if e.model), None)

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning(message)

    def _preflight(self) -> None:
        """Every endpoint's models and slots, then one 1-token request: a wrong URL, a refused
        connection or a server without the endpoint is one line here, before a run is created."""
        import httpx

        unreachable: dict[str, str] = {}
        with httpx.Client(timeout=httpx.Timeout(30.0, connect=CONNECT_TIMEOUT), headers=self._headers) as client:
            for e in self.endpoints:
                try:
                    models = _get_models(client, e.url, 30.0)
                except UserError as exc:
                    if str(exc).startswith("cannot reach"):
                        unreachable[e.url] = str(exc).split(": ", 1)[-1]
                        e.failures, e.down_until, e.last_error = 1, time.monotonic() + self.backoff_start, unreachable[e.url]
                        e.slots, e.slots_from = (self.slots, "--server-slots") if self.slots else (DEFAULT_SLOTS, "default")
                        continue
                    raise
                e.models = [m["id"] for m in models]
                e.owned_by = next((str(m.get("owned_by")) for m in models if m.get("owned_by")), None)
                e.model = self._choose_model(e)
                self._read_slots(client, e)
            live = [e for e in self.endpoints if e.failures == 0]
            if not live:
                if len(unreachable) == 1:
                    url, why = next(iter(unreachable.items()))
                    raise UserError(f"cannot reach the server at {url}: {why}")
                raise UserError("cannot reach any server: " + "; ".join(f"{u} ({w})" for u, w in unreachable.items()))
            for url, why in unreachable.items():
                self._warn(f"server {url} is not reachable ({why}); the others start, it joins when it answers")
            fallback = live[0].model
            for e in self.endpoints:
                e.model = e.model or fallback
            names = {os.path.basename(e.model or "") for e in live}
            if len(names) > 1:
                self._warn(f"the servers name their models differently ({', '.join(sorted(names))}): make sure they serve the same model")
            self._probe(client, live[0])

    def _choose_model(self, e: Endpoint) -> str | None:
        if self.requested_model is not None:
            if e.models and self.requested_model not in e.models:
                raise UserError(f"server {e.url} does not serve model {self.requested_model!r} (it serves: {', '.join(e.models)})")
            return self.requested_model
        if len(e.models) > 1:
            raise UserError(f"server {e.url} serves several models ({', '.join(e.models)}): choose one with --server-model NAME")
        return e.models[0] if e.models else None

    def _read_slots(self, client, e: Endpoint) -> None:
        if self.slots:
            e.slots, e.slots_from = self.slots, "--server-slots"
            return
        try:
            response = client.get(_root(e.url) + "/props")
            total = response.json().get("total_slots") if response.status_code == 200 else None
        except Exception:
            total = None
        if isinstance(total, int) and total > 0:
            e.slots, e.slots_from = total, "props"

    def _probe(self, client, e: Endpoint) -> None:
        """One 1-token request, streamed and with log-probs, then without what the server refuses
        (400 or 422): whether it streams (one that ignores `stream` answers whole, which works too)
        and whether it gives log-probs."""
        import httpx

        params = SamplingParams(n=1, temperature=0.0, max_tokens=1, stop=())
        path = CHAT_PATH if self.chat else COMPLETIONS_PATH
        first_error = ""
        for stream, with_logprobs in ((True, True), (True, False), (False, True), (False, False)):
            body = request_body(e.model, "def f():\n", params, None, chat=self.chat, logprobs=with_logprobs, stream=stream)
            try:
                status, answer, line = read_sync(client, e.url + path, body)
            except (httpx.ConnectError, httpx.TimeoutException) as exc:
                raise UserError(f"server {e.url} did not answer a 1-token request to {path}: {describe_error(exc, 30.0)}") from None
            except httpx.HTTPError as exc:  # the answer broke off (llama_cpp.server asked for log-probs it cannot give)
                status, answer, line = 0, None, describe_error(exc, 30.0)
            if status in (404, 405):
                hint = "" if self.chat else " (a chat-only server? try --chat)"
                raise UserError(f"server {e.url} has no {path} endpoint ({line}){hint}")
            if status == 200:
                if answer is None:
                    raise UserError(f"server {e.url} answered {path} without choices: not an OpenAI-compatible server")
                self.stream = stream
                self.logprobs = with_logprobs and answer.has_logprobs
                if not stream:
                    self._warn(f"server {e.url} refused a streamed request ({first_error}): its answers come whole")
                if not self.logprobs:
                    self._warn(self._no_logprobs(e, first_error if not with_logprobs else "no logprobs in its answer"))
                return
            first_error = first_error or line
            if not (400 <= status < 500 and status not in (400, 422)):
                continue
            break
        raise UserError(f"server {e.url} refused a 1-token request to {path}: {first_error}")

    @staticmethod
    def _no_logprobs(e: Endpoint, why: str) -> str:
        return (
            f"server {e.url} gives no log-probs ({why}): samples are stored with log-prob 0, so ranking by mean "
            "log-prob is off (llama_cpp.server needs --logits_all True)"
        )

    async def _setup(self) -> None:
        import httpx

        limits = httpx.Limits(max_connections=self.capacity + 2 * len(self.endpoints), max_keepalive_connections=self.capacity + len(self.endpoints))
        self._client = httpx.AsyncClient(  # silence is watched by stream.watch; this read timeout is its outer bound
            timeout=httpx.Timeout(QUEUE_LIMIT + self.timeout, connect=CONNECT_TIMEOUT), limits=limits, headers=self._headers
        )
        self._cond = asyncio.Condition()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    # -- requests ---------------------------------------------------------------------------

    def request_body(self, e: Endpoint, prompt: str, params: SamplingParams, seed: int | None) -> dict[str, Any]:
        """The JSON sent for one sample: the paper's sampling, stated in full."""
        return request_body(e.model, prompt, params, seed, chat=self.chat, logprobs=self.logprobs, stream=self.stream and e.stream)

    async def _health(self, e: Endpoint) -> None:
        """Before a down endpoint gets a sample again: its model list, quickly."""
        import httpx

        assert self._client is not None
        timeout = min(self.timeout, CONNECT_TIMEOUT)
        try:
            response = await self._client.get(e.url + "/models", timeout=timeout)
        except httpx.HTTPError as exc:
            raise _Retryable(describe_error(exc, timeout)) from None
        if response.status_code != 200:
            raise _Retryable(_status_line(response))

    def _alive(self, e: Endpoint) -> asyncio.Future:
        """Is the server there at all: any HTTP answer to GET /health within the stall bound (a
        server that has no /health answers 404, which will do). One probe per endpoint at a time,
        shared by every request that asks."""
        import httpx

        assert self._client is not None
        client, timeout = self._client, self.timeout

        async def probe() -> None:
            try:
                await client.get(_root(e.url) + "/health", timeout=timeout)
            except httpx.HTTPError as exc:
                raise _Retryable(describe_error(exc, timeout)) from None

        check = self._alive_checks.get(e.url)
        if check is None or check.done():
            check = self._alive_checks[e.url] = asyncio.ensure_future(probe())
        return check

    async def _attempt(self, e: Endpoint, job: _Job, answer: Answer, deltas: Deltas) -> None:
        """One try of a sample on `e`: its answer read as it comes, its silence watched."""
        assert self._client is not None
        path = CHAT_PATH if self.chat else COMPLETIONS_PATH
        body = self.request_body(e, job.prompt, job.params, job.seed)
        clock = Clock()
        reader = asyncio.ensure_future(read_answer(self._client, e.url, path, body, answer, clock, deltas.send, self.timeout))
        try:
            await watch(reader, clock, self.timeout, lambda: self._alive(e))
        finally:
            if not reader.done():
                reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _run_job(self, job: _Job, emit: Callable[[TextDelta], None]) -> SampleFinished:
        while True:
            e, probe = await self._acquire()
            started = time.perf_counter()
            answer = Answer(self.chat)
            deltas = Deltas(job, answer, emit)
            error: _Retryable | None = None
            try:
                if probe:  # a quick look first: a dead or frozen machine fails in seconds
                    await self._health(e)
                await self._attempt(e, job, answer, deltas)
            except _Retryable as exc:
                error = exc
            except _Fatal as exc:
                await self._release(e, probe, None)
                raise ServerError(str(exc)) from None
            except BaseException:  # cancelled
                await self._release(e, probe, None, answered=False)
                raise
            if isinstance(error, CutShort) and answer.done and e.stream:
                e.stream = False  # an orderly end without a finish reason: llama_cpp.server's interruption
                self._warn(f"server {e.url} ends streamed answers early ({error}; llama_cpp.server does so when another "
                           "request waits, unless started with --interrupt_requests False): its answers are now asked whole")
            await self._release(e, probe, error, answered=not (isinstance(error, CutShort) and answer.done))
            if error is None:
                deltas.send(final=True)
                return answer.sample(job, time.perf_counter() - started, self.logprobs)
            if deltas.streamed:  # what this try showed is void: the sample starts again
                emit(TextDelta(job.index, "", restart=True))
            job.attempts += 1
            reason = self._gave_up()
            if reason is None and job.attempts > 3 * (self.retries + 1):
                reason = f"one request failed {job.attempts} times ({e.url}: {error})"
            if reason is not None:
                raise ServerError(reason)

    # -- the Backend interface -------------------------------------------------------------

    def generate(self, prompt: str, params: SamplingParams, task_id: str | None = None) -> Iterator[GenerationEvent]:
        for _key, event in self.generate_many([(None, prompt, params, None)]):
            yield event

    def generate_many(self, requests: Iterable, keep_token_ids: bool = False) -> Iterator[tuple[Hashable, GenerationEvent]]:
        """(key, event) for every request, pulled lazily: about two samples per slot are sent or
        queued at any time; each sample's deltas come as its tokens do, then its SampleFinished
        (samples in any order)."""
        if self._closed:
            raise RuntimeError("the server backend is closed")
        results: queue.Queue = queue.Queue()
        futures: set = set()
        source = iter(requests)
        exhausted = False

        def done(future, key) -> None:
            if not future.cancelled():
                exc = future.exception()
                results.put((future, key, exc if exc is not None else future.result()))

        try:
            while True:
                while not exhausted and len(futures) < 2 * self.capacity:
                    try:
                        request = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    key, prompt, params = request[0], request[1], request[2]
                    indices = request[3] if len(request) > 3 and request[3] is not None else range(params.n)
                    emit = functools.partial(_put_delta, results, key)
                    for j in indices:
                        job = _Job(key, j, prompt, params, sample_seed(params.seed, j))
                        future = asyncio.run_coroutine_threadsafe(self._run_job(job, emit), self._loop)
                        futures.add(future)
                        future.add_done_callback(functools.partial(done, key=key))
                if not futures:
                    return
                future, key, item = results.get()
                if future is not None:
                    futures.discard(future)
                if isinstance(item, BaseException):
                    raise item
                yield key, item
        finally:
            for future in futures:
                future.cancel()

    def describe(self) -> dict[str, Any]:
        probe = Endpoint("")
        probe.model = self.model
        body = self.request_body(probe, "", SamplingParams(), None)
        sent = {k: v for k, v in body.items() if k not in ("prompt", "messages", "model", "max_tokens", "temperature", "top_p", "stop")}
        return {
            "kind": self.name,
            "model": self.model,
            "api": "chat" if self.chat else "completions",
            "endpoints": [e.to_dict() for e in self.endpoints],
            "request": {
                **sent,
                "seed": "per sample: sha256(chunk seed, sample index), 31 bits",
                "stop": "none sent; the paper's stops cut the extracted body" if self.chat else "the run's stop sequences",
            },
            "one_request_per_sample": True,
            "logprobs": self.logprobs,
            "stream": self.stream,
            "stall_seconds": self.timeout,
            "retries": self.retries,
            "client": f"httpx {self._httpx_version}",
            "warnings": list(self.warnings),
        }

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._client is not None:
                self._call(self._client.aclose())
        except Exception:
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()


def _put_delta(results: queue.Queue, key: Hashable, delta: TextDelta) -> None:
    results.put((None, key, delta))
