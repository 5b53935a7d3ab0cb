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
- **Retries**: a connection error, a timeout, 429 or 5xx puts the endpoint down for a backoff
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
from typing import Any, Hashable, Iterable, Iterator, Sequence

from pycodex.errors import UserError
from pycodex.generation.base import (
    FINISH_LENGTH,
    FINISH_STOP,
    GenerationEvent,
    SampleFinished,
    SamplingParams,
    TextDelta,
    cut_at_stop,
)

from pycodex.generation.server.pool import EndpointPool
from pycodex.generation.server.http import request_body
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
        import httpx

        params = SamplingParams(n=1, temperature=0.0, max_tokens=1, stop=())
        path = CHAT_PATH if self.chat else COMPLETIONS_PATH
        url = e.url + path
        first_error = ""
        for with_logprobs in (True, False):
            body = self.request_body(e, "def f():\n", params, None, logprobs=with_logprobs)
            try:
                response = client.post(url, json=body)
            except httpx.HTTPError as exc:
                raise UserError(f"server {e.url} did not answer a 1-token request to {path}: {describe_error(exc, 30.0)}") from None
            if response.status_code in (404, 405):
                hint = "" if self.chat else " (a chat-only server? try --chat)"
                raise UserError(f"server {e.url} has no {path} endpoint ({_status_line(response)}){hint}")
            if response.status_code == 200:
                try:
                    choice = response.json()["choices"][0]
                except Exception:
                    raise UserError(f"server {e.url} answered {path} without choices: not an OpenAI-compatible server") from None
                if with_logprobs and token_logprobs(choice.get("logprobs")) is None:
                    break  # answered, but without log-probs
                self.logprobs = with_logprobs
                if not with_logprobs:
                    self._warn(self._no_logprobs(e, first_error))
                return
            first_error = _status_line(response)
            if not with_logprobs or 400 <= response.status_code < 500 and response.status_code not in (400, 422):
                raise UserError(f"server {e.url} refused a 1-token request to {path}: {first_error}")
        self.logprobs = False
        self._warn(self._no_logprobs(e, "no logprobs in its answer"))

    @staticmethod
    def _no_logprobs(e: Endpoint, why: str) -> str:
        return (
            f"server {e.url} gives no log-probs ({why}): samples are stored with log-prob 0, so ranking by mean "
            "log-prob is off (llama_cpp.server needs --logits_all True)"
        )

    async def _setup(self) -> None:
        import httpx

        limits = httpx.Limits(max_connections=self.capacity + len(self.endpoints), max_keepalive_connections=self.capacity + len(self.endpoints))
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout, connect=CONNECT_TIMEOUT), limits=limits, headers=self._headers
        )
        self._cond = asyncio.Condition()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    # -- requests ---------------------------------------------------------------------------

    def request_body(self, e: Endpoint, prompt: str, params: SamplingParams, seed: int | None, *, logprobs: bool | None = None) -> dict[str, Any]:
        """The JSON sent for one sample: the paper's sampling, stated in full."""
        return request_body(e.model, prompt, params, seed, chat=self.chat, logprobs=self.logprobs if logprobs is None else logprobs)

    async def _health(self, e: Endpoint) -> None:
        import httpx

        assert self._client is not None
        try:
            response = await self._client.get(e.url + "/models", timeout=CONNECT_TIMEOUT)
        except httpx.HTTPError as exc:
            raise _Retryable(describe_error(exc, CONNECT_TIMEOUT)) from None
        if response.status_code != 200:
            raise _Retryable(_status_line(response))

    async def _post(self, e: Endpoint, job: _Job) -> dict[str, Any]:
        import httpx

        assert self._client is not None
        path = CHAT_PATH if self.chat else COMPLETIONS_PATH
        body = self.request_body(e, job.prompt, job.params, job.seed)
        try:
            response = await self._client.post(e.url + path, json=body)
        except httpx.HTTPError as exc:
            raise _Retryable(describe_error(exc, self.timeout)) from None
        status = response.status_code
        if status == 429 or status >= 500 or status == 408:
            raise _Retryable(_status_line(response), _retry_after(response) if status == 429 else None)
        if status != 200:
            raise _Fatal(f"server {e.url} refused a request to {path}: {_status_line(response)}")
        try:
            data = response.json()
            choice = data["choices"][0]
            if not isinstance(choice, dict):
                raise TypeError
        except Exception:
            raise _Retryable("the server answered without a choice") from None
        return data

    async def _run_job(self, job: _Job) -> SampleFinished:
        while True:
            e, probe = await self._acquire()
            started = time.perf_counter()
            error: _Retryable | None = None
            try:
                if probe:  # a quick look first: a dead or frozen machine fails in seconds, not a whole --server-timeout
                    await self._health(e)
                data = await self._post(e, job)
            except _Retryable as exc:
                error = exc
            except _Fatal as exc:
                await self._release(e, probe, None)
                raise ServerError(str(exc)) from None
            except BaseException:  # cancelled
                await self._release(e, probe, None, answered=False)
                raise
            await self._release(e, probe, error)
            if error is None:
                return self._finished(job, data, time.perf_counter() - started)
            job.attempts += 1
            reason = self._gave_up()
            if reason is None and job.attempts > 3 * (self.retries + 1):
                reason = f"one request failed {job.attempts} times ({e.url}: {error})"
            if reason is not None:
                raise ServerError(reason)

    def _finished(self, job: _Job, data: dict[str, Any], seconds: float) -> SampleFinished:
        choice = data["choices"][0]
        reason = choice.get("finish_reason")
        raw = None
        if self.chat:
            from pycodex.generation.server.chat import extract_body

            raw = str((choice.get("message") or {}).get("content") or "")
            text = extract_body(raw, job.prompt)
        else:
            text = str(choice.get("text") or "")
        completion, cut = cut_at_stop(text, job.params.stop)
        finish = FINISH_LENGTH if reason == "length" and not cut else FINISH_STOP
        values = token_logprobs(choice.get("logprobs")) if self.logprobs else None
        if values:
            tokens, total = len(values), sum(values)
        else:
            usage = data.get("usage")
            tokens, total = int((usage.get("completion_tokens") if isinstance(usage, dict) else 0) or 0), 0.0
        return SampleFinished(
            index=job.index,
            completion=completion,
            finish_reason=finish,
            tokens=tokens,
            sum_logprob=total,
            mean_logprob=total / len(values) if values else 0.0,
            seconds=seconds,
            raw=raw,
        )

    # -- the Backend interface -------------------------------------------------------------

    def generate(self, prompt: str, params: SamplingParams, task_id: str | None = None) -> Iterator[GenerationEvent]:
        for _key, event in self.generate_many([(None, prompt, params, None)]):
            yield event

    def generate_many(self, requests: Iterable, keep_token_ids: bool = False) -> Iterator[tuple[Hashable, GenerationEvent]]:
        """(key, event) for every request, pulled lazily: about two samples per slot are sent or
        queued at any time; each sample's events come when its answer does (in any order)."""
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
                    for j in indices:
                        job = _Job(key, j, prompt, params, sample_seed(params.seed, j))
                        future = asyncio.run_coroutine_threadsafe(self._run_job(job), self._loop)
                        futures.add(future)
                        future.add_done_callback(functools.partial(done, key=key))
                if not futures:
                    return
                future, key, item = results.get()
                futures.discard(future)
                if isinstance(item, BaseException):
                    raise item
                if item.completion:
                    yield key, TextDelta(item.index, item.completion)
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
            "timeout_seconds": self.timeout,
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
