"""A backend named by one string (the TUI's model setting, config.toml's `model`): parsed in one
place, labelled, compared with a stored run's config and turned into a Backend."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

DEFAULT_MODEL = "default"  # the bundled Gemma 3 270M GGUF through llama.cpp
CANONICAL_MODEL = "canonical"  # each problem's own solution, replayed (no model)
SAMPLES_PREFIX = "samples:"  # samples:FILE.jsonl, replayed


@dataclass(frozen=True)
class BackendSpec:
    kind: str  # a RunConfig.backend: llama, canonical, samples
    model: str | None = None  # llama: a GGUF path or known name; None = the bundled default
    samples_file: str | None = None  # samples: the JSONL file replayed

    @classmethod
    def parse(cls, text: str) -> "BackendSpec":
        if text == CANONICAL_MODEL:
            return cls("canonical")
        if text.startswith(SAMPLES_PREFIX):
            return cls("samples", samples_file=text[len(SAMPLES_PREFIX) :])
        if text == DEFAULT_MODEL:
            return cls("llama")
        return cls("llama", model=text)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "BackendSpec":
        """The backend a stored run (its RunConfig as a dict) was made with."""
        return cls(str(config.get("backend") or "llama"), config.get("model"), config.get("samples_file"))

    def __str__(self) -> str:
        if self.kind == "canonical":
            return CANONICAL_MODEL
        if self.kind == "samples":
            return SAMPLES_PREFIX + (self.samples_file or "")
        return self.model or DEFAULT_MODEL

    @property
    def label(self) -> str:
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

        return create_backend(self.kind, model=self.model, samples_file=self.samples_file, problem_set=problem_set, **llama_options)
