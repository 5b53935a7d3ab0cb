"""The REPL's sampling settings: what `/set` changes and the bottom toolbar shows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pycodex.errors import UserError
from pycodex.generation.base import DEFAULT_TOP_P, SamplingParams

# An interactive question wants an answer in seconds: fewer samples than `pycodex solve` (10).
DEFAULT_SAMPLES = 5
DEFAULT_TEMPERATURE = 0.8  # the paper's best temperature for many samples
DEFAULT_MAX_TOKENS = 192  # a HumanEval-sized body

# /set's names (and their aliases) -> the field
NAMES = {
    "n": "n",
    "t": "temperature",
    "temp": "temperature",
    "temperature": "temperature",
    "top_p": "top_p",
    "top-p": "top_p",
    "p": "top_p",
    "max_tokens": "max_tokens",
    "max-tokens": "max_tokens",
    "tokens": "max_tokens",
    "seed": "seed",
}
FIELDS = ("n", "temperature", "top_p", "max_tokens", "seed")


@dataclass(frozen=True)
class Settings:
    n: int = DEFAULT_SAMPLES
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    max_tokens: int = DEFAULT_MAX_TOKENS
    seed: int | None = None

    def params(self) -> SamplingParams:
        return SamplingParams(n=self.n, temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, seed=self.seed)

    def with_value(self, name: str, text: str) -> "Settings":
        """`/set NAME VALUE`: a new Settings, or a UserError naming the setting and the value."""
        field_name = NAMES.get(name.lower())
        if field_name is None:
            raise UserError(f"unknown setting {name!r}: choose one of {', '.join(FIELDS)}")
        value: Any = _parse(field_name, text)
        changed = replace(self, **{field_name: value})
        _check(field_name, changed)
        return changed

    def line(self) -> str:
        seed = "random" if self.seed is None else str(self.seed)
        return f"n={self.n} T={self.temperature:g} top_p={self.top_p:g} max_tokens={self.max_tokens} seed={seed}"


def _parse(field_name: str, text: str) -> int | float | None:
    text = text.strip()
    if field_name == "seed" and text.lower() in ("none", "random", "off", "-"):
        return None
    try:
        return float(text) if field_name in ("temperature", "top_p") else int(text)
    except ValueError:
        kind = "a number" if field_name in ("temperature", "top_p") else "a whole number"
        raise UserError(f"{field_name} must be {kind} (got {text!r})") from None


def _check(field_name: str, settings: Settings) -> None:
    value = getattr(settings, field_name)
    if field_name in ("n", "max_tokens") and value < 1:
        raise UserError(f"{field_name} must be at least 1 (got {value})")
    if field_name == "temperature" and value < 0:
        raise UserError(f"temperature must be >= 0 (got {value:g})")
    if field_name == "top_p" and not 0 < value <= 1:
        raise UserError(f"top_p must be in (0, 1] (got {value:g})")
