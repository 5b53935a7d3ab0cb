"""The HTTP side of the server backend: endpoints, the requests' constants, errors as one line,
retryable and fatal answers, log-probs from either API format, and `models --server`."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Hashable
from urllib.parse import urlsplit, urlunsplit

from pycodex.errors import UserError
from pycodex.generation.base import SamplingParams

log = logging.getLogger("pycodex.server")

DEFAULT_SLOTS = 4  # requests in flight per endpoint when the server does not say how many slots it has
DEFAULT_TIMEOUT = 20.0  # seconds of silence that make a request stalled (see stream.watch)
DEFAULT_RETRIES = 8  # consecutive failures of every endpoint before the stream gives up (~90 s of backoff)
CONNECT_TIMEOUT = 10.0
BACKOFF_START = 0.5
BACKOFF_CAP = 30.0
API_KEY_ENV = "PYCODEX_API_KEY"  # sent as `Authorization: Bearer ...` (vLLM and llama-server --api-key)

# Sampling knobs that servers default to values which truncate or distort the distribution; the paper
# samples from the full softmax at temperature T, then nucleus top_p, nothing else.
UNTRUNCATED: dict[str, Any] = {
    "top_k": 0,  # llama-server / llama_cpp.server default 40; vLLM: 0 (or -1) means off
    "min_p": 0.0,  # llama-server / llama_cpp.server default 0.05
    "repeat_penalty": 1.0,  # llama.cpp's name (llama_cpp.server default 1.1)
    "repetition_penalty": 1.0,  # vLLM's name
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "typical_p": 1.0,
    "mirostat": 0,  # llama-server
    "mirostat_mode": 0,  # llama_cpp.server
}
LOGPROBS_FIELD = 1  # `logprobs: 1`: the sampled token's log-prob (llama-server returns none for 0)

CHAT_PATH = "/chat/completions"
COMPLETIONS_PATH = "/completions"


class ServerError(UserError):
    """The servers failed (after retries, or with an answer no retry can fix): one line, exit 1."""

    exit_code = 1


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class _Fatal(Exception):
    pass


def normalize_url(text: str) -> str:
    """A --server value as the API's base URL: http(s)://host[:port]/path, no trailing slash; a bare
    host gets /v1, and a pasted .../completions endpoint is cut back to its base."""
    value = text.strip()
    bad = UserError(f"bad --server {text!r}: expected an OpenAI-compatible base URL like http://127.0.0.1:8080/v1")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise bad from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad
    path = parts.path.rstrip("/")
    for suffix in (CHAT_PATH, COMPLETIONS_PATH, "/models"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return urlunsplit((parts.scheme, parts.netloc, path or "/v1", "", ""))


def sample_seed(chunk_seed: int | None, index: int) -> int | None:
    """Sample `index` of a chunk: its own seed, a stable hash of (chunk seed, index), 31 bits."""
    if chunk_seed is None:
        return None
    digest = hashlib.sha256(f"{chunk_seed}\x00{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def describe_error(exc: BaseException, timeout: float | None = None) -> str:
    """An httpx exception as a few words a user understands."""
    import httpx

    text = str(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no answer to the connection within {CONNECT_TIMEOUT:g}s"
    if isinstance(exc, httpx.ConnectError):
        low = " ".join(_causes(exc)).lower()
        if "refused" in low:
            return "connection refused"
        if "name or service" in low or "nodename" in low or "getaddrinfo" in low or "name resolution" in low:
            return "unknown host"
        return f"cannot connect ({text or type(exc).__name__})"
    if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout)):
        return f"no answer within {timeout:g}s" if timeout else "no answer in time"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection without an answer"
    if isinstance(exc, httpx.ReadError):
        return f"the connection broke ({text or type(exc).__name__})"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _causes(exc: BaseException, depth: int = 0) -> list[str]:
    """The messages of an exception and of what caused it (asyncio connects report "All connection
    attempts failed" with the refusal in an exception group underneath)."""
    out = [str(exc)]
    if isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED:
        out.append("connection refused")
    if depth < 5:
        for inner in (exc.__cause__, exc.__context__, *getattr(exc, "exceptions", ())):
            if inner is not None and inner is not exc:
                out.extend(_causes(inner, depth + 1))
    return out


def _server_message(response) -> str:
    """The error message a server put in its answer (OpenAI's {"error": {"message"}}, FastAPI's
    {"detail"}, or the text), on one line and short."""
    message = ""
    try:
        data = response.json()
    except Exception:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            message = str(error.get("message") or "")
        elif isinstance(error, str):
            message = error
        if not message and "detail" in data:
            message = str(data["detail"])
        if not message and "message" in data:
            message = str(data["message"])
    if not message:
        try:
            message = response.text
        except Exception:
            message = ""
    message = " ".join(message.split())
    return message[:200] + ("…" if len(message) > 200 else "")


def _status_line(response) -> str:
    message = _server_message(response)
    return f"HTTP {response.status_code}" + (f": {message}" if message else "")


def _retry_after(response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, min(float(value), BACKOFF_CAP)) if value is not None else None
    except ValueError:
        return None


def token_logprobs(logprobs: Any) -> list[float] | None:
    """The sampled tokens' log-probs from a choice's `logprobs`, in either API format, or None."""
    if not isinstance(logprobs, dict):
        return None
    values = logprobs.get("token_logprobs")
    if isinstance(values, list):
        return [float(v) for v in values if isinstance(v, (int, float))]
    content = logprobs.get("content")
    if isinstance(content, list):
        return [float(c["logprob"]) for c in content if isinstance(c, dict) and isinstance(c.get("logprob"), (int, float))]
    return None


def _root(url: str) -> str:
    """The server's root (llama-server serves /props beside /v1)."""
    return url[: -len("/v1")] if url.endswith("/v1") else url


@dataclass
class Endpoint:
    url: str
    slots: int = DEFAULT_SLOTS
    slots_from: str = "default"  # "props" (llama-server's total_slots), "--server-slots" or "default"
    models: list[str] = field(default_factory=list)
    model: str | None = None  # the model id sent in requests
    owned_by: str | None = None
    busy: int = 0
    failures: int = 0  # consecutive failures; 0 = up
    down_until: float = 0.0
    probing: bool = False
    stream: bool = True  # off once the server has ended a streamed answer early (llama_cpp.server's interruption)
    last_error: str | None = None
    completed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "slots": self.slots,
            "slots_from": self.slots_from,
            "model": self.model,
            "models": list(self.models),
            "owned_by": self.owned_by,
        }


@dataclass
class _Job:
    key: Hashable
    index: int
    prompt: str
    params: SamplingParams
    seed: int | None
    attempts: int = 0


def list_models(url: str, *, timeout: float = 30.0, api_key: str | None = None) -> list[dict[str, Any]]:
    """GET /models of one server: [{"id", "owned_by", ...}]; one-line UserError when it cannot."""
    import httpx

    base = normalize_url(url)
    with httpx.Client(timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT), headers=_headers(api_key)) as client:
        return _get_models(client, base, timeout)


def _headers(api_key: str | None) -> dict[str, str]:
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    return {"Authorization": f"Bearer {key}"} if key else {}


def _get_models(client, base: str, timeout: float) -> list[dict[str, Any]]:
    import httpx

    try:
        response = client.get(base + "/models")
    except httpx.HTTPError as exc:
        raise UserError(f"cannot reach the server at {base}: {describe_error(exc, timeout)}") from None
    if response.status_code in (401, 403):
        raise UserError(f"server {base} refused the request ({_status_line(response)}): set {API_KEY_ENV} to its API key")
    if response.status_code != 200:
        raise UserError(
            f"{base} is not an OpenAI-compatible server (GET {base}/models: {_status_line(response)}): "
            "give the API's base URL, e.g. http://host:8080/v1"
        )
    try:
        data = response.json()
        models = [m for m in data["data"] if isinstance(m, dict) and isinstance(m.get("id"), str)]
    except Exception:
        raise UserError(f"{base} is not an OpenAI-compatible server (GET {base}/models did not answer a model list)") from None
    return models


def request_body(
    model: str | None, prompt: str, params: SamplingParams, seed: int | None, *, chat: bool, logprobs: bool, stream: bool = True
) -> dict[str, Any]:
    """The JSON sent for one sample: the paper's sampling, stated in full; streamed as server-sent
    events (with the token count at the end) unless `stream` is off."""
    body: dict[str, Any] = {}
    if model:
        body["model"] = model
    if chat:
        from pycodex.generation.server.chat import chat_message

        body["messages"] = [{"role": "user", "content": chat_message(prompt)}]
    else:
        body["prompt"] = prompt
        body["stop"] = list(params.stop)
    body.update(
        {
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "n": 1,
            "stream": stream,
            **UNTRUNCATED,
        }
    )
    if stream:
        body["stream_options"] = {"include_usage": True}
    if seed is not None:
        body["seed"] = seed
    if logprobs:
        if chat:
            body["logprobs"] = True
            body["top_logprobs"] = 0
        else:
            body["logprobs"] = LOGPROBS_FIELD
    return body
