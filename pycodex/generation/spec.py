"""A backend named by one string (the TUI's model setting, config.toml's `model`): parsed by the
registered kinds (pycodex.generation.registry), labelled, compared with a stored run's config and
turned into a Backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from pycodex.errors import UserError
from pycodex.generation import registry


@dataclass(frozen=True, eq=False)
class BackendSpec:
    kind: str  # a registered kind: RunConfig.backend
    options: Any = field(default_factory=registry.NoOptions)  # the kind's Options

    @classmethod
    def parse(cls, text: str) -> "BackendSpec":
        """The kind whose string form this is (the fallback kind, llama, takes any other text)."""
        ordered = sorted(registry.kinds().values(), key=lambda k: k.fallback)
        for kind in ordered:
            options = kind.parse(text)
            if options is not None:
                return cls(kind.kind, options)
        raise UserError(f"no backend is named {text!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "BackendSpec":
        """The backend a stored run (its RunConfig as a dict) was made with."""
        kind = str(config.get("backend") or "llama")
        return cls(kind, registry.options_of(kind, config))

    @property
    def _kind(self) -> type[registry.BackendKind]:
        return registry.backend_kind(self.kind)

    def __str__(self) -> str:
        return self._kind.spell(self.options)

    @property
    def label(self) -> str:
        return self._kind.label(self.options)

    @property
    def is_replay(self) -> bool:
        """Replays load instantly and need no model."""
        return registry.is_replay(self.kind)

    def __getattr__(self, name: str) -> Any:
        """An option by name (None where this kind has no such option but another kind has)."""
        if name.startswith("_"):
            raise AttributeError(name)
        options = self.__dict__.get("options")
        if options is not None and hasattr(options, name):
            return getattr(options, name)
        if any(name in registry.option_names(k.Options) for k in registry.kinds().values()):
            return None
        raise AttributeError(name)

    def __eq__(self, other: object) -> bool:
        """The same backend: the same kind and the options that determine results (the endpoints
        of a server, its threads… may differ)."""
        if not isinstance(other, BackendSpec):
            return NotImplemented
        return (self.kind, registry.result_options(self.options)) == (other.kind, registry.result_options(other.options))

    def __hash__(self) -> int:
        return hash((self.kind, tuple(registry.result_options(self.options).items())))

    def create(self, *, problem_set: Any = None, **overrides: Any) -> Any:
        from pycodex.generation import factory

        return factory.create_backend(self.kind, problem_set=problem_set, **(registry.options_dict(self.options) | overrides))
