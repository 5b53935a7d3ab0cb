"""One sample's answer as it arrives, and the watch on a request that has gone silent.

- `Answer` reads a streamed answer (server-sent events: `data: {chunk}` lines, then `data: [DONE]`)
  or a whole one (a server that ignores `stream: true` answers JSON), in the completions format
  (`choices[0].text`) or the chat format (`choices[0].delta.content`), with the sampled tokens'
  log-probs in either of their formats (`token_logprobs`: llama_cpp.server, vLLM, Ollama;
  `content[].logprob`: llama-server).
- `watch()` waits for the request's reader. Silence (no byte) for `timeout` seconds once tokens
  come is a stall. Before the first token (the request waits in the server's queue, its prompt is
  read, or the server answers whole) silence is asked about: a health probe (any HTTP answer from
  the server's root `/health`) that answers means the server lives and the request is queued, so
  it waits on, up to `QUEUE_LIMIT`; a probe without an answer within `timeout` is a stall. A stall
  is therefore noticed within 2 x timeout.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from pycodex.generation.base import FINISH_LENGTH, FINISH_STOP, SampleFinished, TextDelta, cut_at_stop, safe_delta
from pycodex.generation.server.http import _Fatal, _Job, _retry_after, _Retryable, _status_line, describe_error, token_logprobs

QUEUE_LIMIT = 600.0  # seconds a request may wait for its first token while the server answers probes


@dataclass
class Answer:
    """The answer to one request so far."""

    chat: bool
    text: str = ""
    logprobs: list[float] = field(default_factory=list)
    has_logprobs: bool = False
    finish: str | None = None
    usage_tokens: int | None = None
    pieces: int = 0  # chunks that added text (a token each on llama-server, llama_cpp.server, vLLM)
    choices: int = 0
    done: bool = False  # `data: [DONE]` came
    streamed: bool = False

    def feed_line(self, line: str) -> str:
        """One line of an event stream; returns the text it adds."""
        if not line.startswith("data:"):
            return ""  # blank lines, comments (keep-alives), event names
        payload = line[5:].strip()
        if payload == "[DONE]":
            self.done = True
            return ""
        self.streamed = True
        try:
            data = json.loads(payload)
        except ValueError:
            raise _Retryable("the server sent an event that is not JSON") from None
        return self.feed(data)

    def feed(self, data: Any) -> str:
        """One chunk of a stream, or a whole answer; returns the text it adds."""
        if not isinstance(data, dict):
            raise _Retryable("the server answered something other than a JSON object")
        if data.get("error"):
            error = data["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise _Retryable(f"the server reported an error mid-answer: {' '.join(str(message).split())[:200]}")
        usage = data.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
            self.usage_tokens = usage["completion_tokens"]
        choices = data.get("choices")
        if not choices:
            return ""  # the usage chunk of `stream_options.include_usage`
        choice = choices[0]
        if not isinstance(choice, dict):
            raise _Retryable("the server answered without a choice")
        self.choices += 1
        if self.chat:
            part = choice.get("delta") if self.streamed else choice.get("message")
            piece = str((part or {}).get("content") or "") if isinstance(part, dict) else ""
        else:
            piece = str(choice.get("text") or "")
        values = token_logprobs(choice.get("logprobs"))
        if values is not None:
            self.has_logprobs = True
            self.logprobs.extend(values)
        if choice.get("finish_reason"):
            self.finish = str(choice["finish_reason"])
        if piece:
            self.pieces += 1
            self.text += piece
        return piece

    def check_complete(self) -> None:
        """A streamed answer must end with a finish reason: one without it was cut short (a dying
        server, or llama_cpp.server, which ends a stream early when another request waits)."""
        if not self.choices:
            raise _Retryable("the server answered without a choice")
        if self.streamed and self.finish is None:
            raise CutShort("the server ended the answer early" if self.done else "the answer's stream broke off")

    def sample(self, job: _Job, seconds: float, with_logprobs: bool) -> SampleFinished:
        raw = None
        if self.chat:
            from pycodex.generation.server.chat import extract_body

            raw = self.text
            text = extract_body(raw, job.prompt)
        else:
            text = self.text
        completion, cut = cut_at_stop(text, job.params.stop)
        values = self.logprobs if with_logprobs and self.has_logprobs else []
        if values:
            tokens, total = len(values), sum(values)
        else:
            tokens, total = (self.usage_tokens if self.usage_tokens is not None else self.pieces), 0.0
        return SampleFinished(
            index=job.index,
            completion=completion,
            finish_reason=FINISH_LENGTH if self.finish == "length" and not cut else FINISH_STOP,
            tokens=tokens,
            sum_logprob=total,
            mean_logprob=total / len(values) if values else 0.0,
            seconds=seconds,
            raw=raw,
        )


class CutShort(_Retryable):
    """A streamed answer that ended without a finish reason."""


@dataclass
class Clock:
    """When the request last received a byte, and whether tokens have started to come."""

    last: float = field(default_factory=time.monotonic)
    generating: bool = False

    def tick(self, generating: bool) -> None:
        self.last = time.monotonic()
        self.generating = self.generating or generating


@dataclass
class Deltas:
    """The text of one try of a sample, sent on as TextDeltas while it comes: for completions, what
    is safe (never past a stop sequence, nor a tail that may begin one), so that the deltas add up
    to the completion; for chat, the reply as it is written (the body is taken from it at the end)."""

    job: _Job
    answer: Answer
    emit: Callable[[TextDelta], None]
    streamed: int = 0

    def send(self, final: bool = False) -> None:
        text = self.answer.text
        if self.answer.chat:
            delta, self.streamed = text[self.streamed :], len(text)
        else:
            delta, self.streamed = safe_delta(text, self.streamed, self.job.params.stop, final)
        if delta:
            self.emit(TextDelta(self.job.index, delta))


async def read_answer(
    client, base: str, path: str, body: dict[str, Any], answer: Answer, clock: Clock, on_text: Callable[[], None], timeout: float
) -> None:
    """POST one request and read its answer as it comes (an event stream, or whole JSON)."""
    import httpx

    try:
        async with client.stream("POST", base + path, json=body) as response:
            clock.tick(False)
            if response.status_code != 200:
                await response.aread()
                raise refusal(response, base, path)
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                async for line in response.aiter_lines():
                    data = line.startswith("data:")
                    clock.tick(data)
                    if data and answer.feed_line(line):
                        on_text()
                    if answer.done:
                        break
            else:  # a server that answers whole: its text is sent at the end, in one delta
                answer.feed(_json(await response.aread()))
    except httpx.HTTPError as exc:
        raise _Retryable(describe_error(exc, timeout)) from None
    answer.check_complete()


def read_sync(client, url: str, body: dict[str, Any]) -> tuple[int, Answer | None, str]:
    """The start-up probe's request on a blocking client: (status, 0 for an answer that broke off;
    the answer, or None; the status line or what broke)."""
    answer = Answer(chat="messages" in body)
    with client.stream("POST", url, json=body) as response:
        if response.status_code != 200:
            response.read()
            return response.status_code, None, _status_line(response)
        try:
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                for line in response.iter_lines():
                    answer.feed_line(line)
                    if answer.done:
                        break
            else:
                answer.feed(_json(response.read()))
            answer.check_complete()
        except _Retryable as exc:  # a stream that breaks (llama_cpp.server asked for log-probs it cannot give)
            return 0, None, str(exc)
    return 200, answer, "HTTP 200"


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        raise _Retryable("the server's answer is not JSON") from None


def refusal(response, base: str, path: str) -> Exception:
    """The error for a non-200 answer: 408, 429 and 5xx are retried, any other is fatal."""
    status = response.status_code
    if status in (408, 429) or status >= 500:
        return _Retryable(_status_line(response), _retry_after(response) if status == 429 else None)
    return _Fatal(f"server {base} refused a request to {path}: {_status_line(response)}")


async def watch(reader: asyncio.Future, clock: Clock, timeout: float, probe: Callable[[], asyncio.Future]) -> None:
    """Wait for `reader`; raise `_Retryable` when its request stalls (see the module's doc)."""
    sent = time.monotonic()
    while True:
        wait = clock.last + timeout - time.monotonic()
        if wait > 0:
            done, _ = await asyncio.wait({reader}, timeout=wait)
            if done:
                return reader.result()
            continue
        if clock.generating:
            raise _Retryable(f"stalled: no token for {timeout:g}s")
        if time.monotonic() - sent > QUEUE_LIMIT:
            raise _Retryable(f"no answer within {QUEUE_LIMIT:g}s")
        check = probe()  # shared with the endpoint's other requests: not cancelled here
        done, _ = await asyncio.wait({reader, check}, return_when=asyncio.FIRST_COMPLETED)
        if reader in done:
            return reader.result()
        try:
            check.result()
        except _Retryable as exc:
            raise _Retryable(f"stalled: no answer for {timeout:g}s, and none to a health probe ({exc})") from None
        clock.last = time.monotonic()  # the server lives: the request is queued (or its prompt is long)
