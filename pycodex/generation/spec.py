"""A backend named by one string (the TUI's model setting, config.toml's `model`): parsed in one
place, labelled, compared with a stored run's config and turned into a Backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

DEFAULT_MODEL = "default"  # the bundled Gemma 3 270M GGUF through llama.cpp
CANONICAL_MODEL = "canonical"  # each problem's own solution, replayed (no model)
SAMPLES_PREFIX = "samples:"  # samples:FILE.jsonl, replayed
SERVER_PREFIX = "server:"  # server:URL [URL ...] [model=NAME] [chat]: OpenAI-compatible servers


@dataclass(frozen=True)
class BackendSpec:
    kind: str  # a RunConfig.backend: llama, canonical, samples
    model: str | None = None  # llama: a GGUF path or known name; None = the bundled default
    samples_file: str | None = None  # samples: the JSONL file replayed
    # server: the endpoints (where, not what: a run may be resumed on other ones), the model, chat
    servers: tuple[str, ...] = field(default=(), compare=False)
    server_model: str | None = None
    chat: bool = False

    @classmethod
    def parse(cls, text: str) -> "BackendSpec":
        if text.startswith(SERVER_PREFIX):
            return cls._parse_server(text[len(SERVER_PREFIX) :])
        if text == CANONICAL_MODEL:
            return cls("canonical")
        if text.startswith(SAMPLES_PREFIX):
            return cls("samples", samples_file=text[len(SAMPLES_PREFIX) :])
        if text == DEFAULT_MODEL:
            return cls("llama")
        return cls("llama", model=text)

    @classmethod
    def _parse_server(cls, rest: str) -> "BackendSpec":
        """`URL [URL ...] [model=NAME] [chat]`, words separated by spaces or commas; UserError when bad."""
        from pycodex.errors import UserError
        from pycodex.generation.server.backend import normalize_url

        urls: list[str] = []
        model, chat = None, False
        for word in rest.replace(",", " ").split():
            if word.startswith("model="):
                model = word[len("model=") :] or None
            elif word == "chat":
                chat = True
            else:
                urls.append(normalize_url(word))
        if not urls:
            raise UserError("a server needs its URL, e.g. server:http://127.0.0.1:8080/v1")
        return cls("server", servers=tuple(urls), server_model=model, chat=chat)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "BackendSpec":
        """The backend a stored run (its RunConfig as a dict) was made with."""
        kind = str(config.get("backend") or "llama")
        if kind == "server":
            return cls(kind, servers=tuple(config.get("servers") or ()), server_model=config.get("server_model"), chat=bool(config.get("chat")))
        return cls(kind, config.get("model"), config.get("samples_file"))

    def config_fields(self) -> dict[str, Any]:
        """The RunConfig fields that name this backend."""
        fields: dict[str, Any] = {"backend": self.kind, "model": self.model, "samples_file": self.samples_file}
        if self.kind == "server":
            fields.update(servers=list(self.servers), server_model=self.server_model, chat=self.chat)
        return fields

    def __str__(self) -> str:
        if self.kind == "server":
            words = [*self.servers] + ([f"model={self.server_model}"] if self.server_model else []) + (["chat"] if self.chat else [])
            return SERVER_PREFIX + " ".join(words)
        if self.kind == "canonical":
            return CANONICAL_MODEL
        if self.kind == "samples":
            return SAMPLES_PREFIX + (self.samples_file or "")
        return self.model or DEFAULT_MODEL

    @property
    def label(self) -> str:
        if self.kind == "server":
            where = (self.servers[0].split("://", 1)[-1] if self.servers else "?") + (f" +{len(self.servers) - 1}" if len(self.servers) > 1 else "")
            return f"server {where}" + (f" · {self.server_model}" if self.server_model else "") + (" · chat" if self.chat else "")
        if self.kind == "canonical":
            return "canonical replay"
        if self.kind == "samples":
            return f"samples {Path(self.samples_file or '').name}"
        return Path(self.model).name if self.model else "Gemma 3 270M (bundled)"

    @property
    def is_replay(self) -> bool:
        """Replays load instantly and need no model."""
        return self.kind in ("canonical", "samples")

    def create(self, *, problem_set=None, **llama_options: Any):
        from pycodex.generation.factory import create_backend

        if self.kind == "server":
            return create_backend("server", servers=list(self.servers), server_model=self.server_model, chat=self.chat)
        return create_backend(self.kind, model=self.model, samples_file=self.samples_file, problem_set=problem_set, **llama_options)
