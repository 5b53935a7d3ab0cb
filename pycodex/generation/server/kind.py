"""The server backend's kind: OpenAI-compatible servers (llama-server, vLLM, Ollama).

String form: `server:URL [URL ...] [model=NAME] [chat]`, words separated by spaces or commas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pycodex.errors import UserError
from pycodex.generation.registry import BackendKind, register_backend, runtime

SERVER_PREFIX = "server:"


@dataclass(frozen=True)
class ServerOptions:
    # the endpoints are where, not what: a run may be resumed on other ones
    servers: tuple[str, ...] = runtime(())
    server_model: str | None = None  # the model they serve
    chat: bool = False  # a chat model: the function body is taken out of its reply
    server_slots: int | None = runtime()
    server_timeout: float | None = runtime()
    server_retries: int | None = runtime()


@register_backend
class ServerKind(BackendKind):
    kind = "server"
    Options = ServerOptions
    about = "OpenAI-compatible servers, --server URL"

    @classmethod
    def parse(cls, text: str) -> ServerOptions | None:
        if not text.startswith(SERVER_PREFIX):
            return None
        from pycodex.generation.server.backend import normalize_url

        urls: list[str] = []
        model, chat = None, False
        for word in text[len(SERVER_PREFIX) :].replace(",", " ").split():
            if word.startswith("model="):
                model = word[len("model=") :] or None
            elif word == "chat":
                chat = True
            else:
                urls.append(normalize_url(word))
        if not urls:
            raise UserError("a server needs its URL, e.g. server:http://127.0.0.1:8080/v1")
        return ServerOptions(servers=tuple(urls), server_model=model, chat=chat)

    @classmethod
    def spell(cls, options: Any) -> str:
        words = [*options.servers] + ([f"model={options.server_model}"] if options.server_model else []) + (["chat"] if options.chat else [])
        return SERVER_PREFIX + " ".join(words)

    @classmethod
    def label(cls, options: Any) -> str:
        servers = options.servers
        where = (servers[0].split("://", 1)[-1] if servers else "?") + (f" +{len(servers) - 1}" if len(servers) > 1 else "")
        return f"server {where}" + (f" · {options.server_model}" if options.server_model else "") + (" · chat" if options.chat else "")

    @classmethod
    def check(cls, options: Any) -> None:
        if not options.servers:
            raise UserError("--backend server needs --server URL")

    @classmethod
    def create(cls, options: Any, *, problem_set: Any = None) -> Any:
        from pycodex.generation.server.backend import ServerBackend

        if not options.servers:
            raise UserError("the server backend needs --server URL")
        return ServerBackend(
            list(options.servers), model=options.server_model, chat=options.chat,
            slots=options.server_slots, timeout=options.server_timeout, retries=options.server_retries,
        )
