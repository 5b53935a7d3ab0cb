"""The backend registry: every generation backend declares itself here, in one class.

A backend kind is a class registered with `@register_backend` (as inspect_ai's `@modelapi` or
llm's model `Options`). It declares:

- `kind`: its name (`--backend KIND`, `RunConfig.backend`, the store's `backend` column);
- `Options`: a frozen dataclass of its own settings, stored in the run's config; a field made
  with `runtime(...)` changes no result (threads, endpoints…): a resume may give it again;
- `parse(text)` / `spell(options)`: its one-string form (the TUI's model, config.toml's `model`);
- `label(options)`: how it is shown; `replay`: it answers from stored text (loads at once, no model);
- `check(options)`: what a new run needs (one line, exit 2); `create(options, problem_set=)`: the
  `Backend` (a class whose instances generate may be the registered class itself, or a light class
  that imports a heavy one only in `create`).

Nothing outside this module decides by the name of a kind: the factory, `RunConfig`, the CLI's
`--backend`, the TUI's model string and the pipeline ask the registry. The built-in kinds live in
BUILTIN_MODULES, imported on first use.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Mapping, TypeVar

from pycodex.errors import UserError

BUILTIN_MODULES = ("pycodex.generation.llama.kind", "pycodex.generation.replay", "pycodex.generation.server.kind")


def runtime(default: Any = None, **kwargs: Any) -> Any:
    """An option that changes no result (a resume may set it again): `threads: int | None = runtime()`."""
    return field(default=default, metadata={"runtime": True}, **kwargs)


@dataclass(frozen=True)
class NoOptions:
    """The options of a kind that has none."""


class BackendKind:
    """The defaults of a registered kind: no options, its string form is its name."""

    kind: ClassVar[str]
    Options: ClassVar[type] = NoOptions
    replay: ClassVar[bool] = False  # answers from stored text: instant, no model
    generates: ClassVar[bool] = True  # False: a run of this kind is only judged (imported samples)
    fallback: ClassVar[bool] = False  # parse() takes any text: tried after every other kind
    about: ClassVar[str] = ""  # what it is, in a few words (`--backend`'s help)

    @classmethod
    def parse(cls, text: str) -> Any | None:
        """The options this text names, or None when it names another kind."""
        return cls.Options() if text == cls.kind else None

    @classmethod
    def spell(cls, options: Any) -> str:
        return cls.kind

    @classmethod
    def label(cls, options: Any) -> str:
        return cls.kind

    @classmethod
    def check(cls, options: Any) -> None:
        """What a new run of this kind needs (UserError when missing)."""

    @classmethod
    def create(cls, options: Any, *, problem_set: Any = None) -> Any:
        """The Backend (the registered class itself, built from its options, by default)."""
        return cls(options)  # type: ignore[call-arg]


K = TypeVar("K", bound=type)
_KINDS: dict[str, type[BackendKind]] = {}
_loaded = False


def register_backend(cls: K) -> K:
    """Class decorator: make `cls.kind` a backend kind (a later registration of a name replaces it)."""
    _KINDS[cls.kind] = cls  # type: ignore[attr-defined]
    return cls


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILTIN_MODULES:
            importlib.import_module(module)


def kinds() -> dict[str, type[BackendKind]]:
    """Every registered kind by name: the built-in ones in BUILTIN_MODULES' order, then the others
    in registration order (whichever module was imported first: the order stays the same)."""
    _load_builtins()

    def place(item: tuple[str, type[BackendKind]]) -> int:
        module = item[1].__module__
        return BUILTIN_MODULES.index(module) if module in BUILTIN_MODULES else len(BUILTIN_MODULES)

    return dict(sorted(_KINDS.items(), key=place))  # a stable sort: registration order within a module


def choosable() -> list[str]:
    """The kinds a run may be asked to generate with (`--backend`)."""
    return [name for name, k in kinds().items() if k.generates]


def choices_text() -> str:
    """The choosable kinds, each with its `about`: `--backend`'s help ("llama (…), canonical (…) or samples")."""
    named = [f"{name} ({k.about})" if k.about else name for name, k in kinds().items() if k.generates]
    return ", ".join(named[:-1]) + " or " + named[-1] if len(named) > 1 else "".join(named)


def backend_kind(name: str) -> type[BackendKind]:
    """The registered kind of this name; UserError (one line, exit 2) when there is none."""
    found = kinds().get(name)
    if found is None:
        raise UserError(f"unknown backend {name!r}: choose one of {', '.join(choosable())}")
    return found


def find_kind(name: str) -> type[BackendKind] | None:
    return kinds().get(name)


def is_replay(name: str) -> bool:
    found = find_kind(name)
    return bool(found and found.replay)


def option_names(options_type: type) -> list[str]:
    return [f.name for f in fields(options_type)]


def runtime_names(options_type: type) -> list[str]:
    return [f.name for f in fields(options_type) if f.metadata.get("runtime")]


def all_runtime_names() -> set[str]:
    """The runtime options of every kind (a resume may pass any; each run takes its own kind's)."""
    return {name for k in kinds().values() for name in runtime_names(k.Options)}


def options_of(name: str, values: Mapping[str, Any]) -> Any:
    """The options of kind `name` from a flat mapping (a stored config, flags): its own fields
    only, sequences as tuples; an unregistered kind (a test's fake) has none."""
    found = find_kind(name)
    options_type = found.Options if found else NoOptions
    given = {}
    for f in fields(options_type):
        if f.name in values:
            value = values[f.name]
            given[f.name] = tuple(value) if isinstance(value, list) else value
    return options_type(**given)


def options_dict(options: Any) -> dict[str, Any]:
    """The options as stored in a run's config (flat, sequences as lists)."""
    return {f.name: (list(v) if isinstance(v := getattr(options, f.name), tuple) else v) for f in fields(options)}


def result_options(options: Any) -> dict[str, Any]:
    """The options that determine results (the runtime ones left out)."""
    runtime_only = set(runtime_names(type(options)))
    return {k: v for k, v in options_dict(options).items() if k not in runtime_only}


def replace_options(options: Any, **changes: Any) -> Any:
    return dataclasses.replace(options, **{k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()})
