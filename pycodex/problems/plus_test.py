"""The test source of an EvalPlus problem: its inputs, the canonical solution's outputs and the
comparison of pycodex/problems/plus_compare.py, as one ordinary `check(candidate)`.

The strict judge runs it in its trusted process: every value is compared there. The comparison's
source sits inside a function, so that none of its names can shadow a sample's under the classic
judge. Values are written as Python source that compile() reads back exactly (inf, nan, -0.0,
complex, sets, bytes, deep nesting included).
"""

from __future__ import annotations

import inspect
import math
import textwrap
from functools import lru_cache

MIN_LIMIT, LIMIT_FACTOR, RUN_CAP = 1.0, 4.0, 60.0  # evalplus 0.3.1: DEFAULT_MIN_TIME_LIMIT, DEFAULT_GT_TIME_LIMIT_FACTOR, EVALPLUS_TIMEOUT_PER_TASK

# The oracles evalplus special-cases, by dataset and entry point.
_MBPP_ORACLES = {"are_equivalent": "are_equivalent", "sum_div": "sum_div", "surface_Area": "surface_area",
                 "digit_distance_nums": "digit_distance", "check_str": "not_none", "text_match_three": "not_none",
                 "text_starta_endb": "not_none"} | dict.fromkeys(
    ("similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly", "larg_nnum",
     "intersection_array", "find_dissimilar", "Diff"), "set")
NOT_NONE = frozenset(name for name, oracle in _MBPP_ORACLES.items() if oracle == "not_none")


def oracle(dataset: str, entry_point: str) -> str:
    if dataset == "humaneval":
        return "find_zero" if entry_point == "find_zero" else ""
    return _MBPP_ORACLES.get(entry_point, "")


def call_limits(cpu_seconds: list[float]) -> list[float]:
    """Each input's CPU-time limit: max(1 s, 4 x the canonical solution's CPU time on it)."""
    return [round(max(MIN_LIMIT, LIMIT_FACTOR * t), 3) for t in cpu_seconds]


def run_limit(limits: list[float]) -> float:
    """The CPU seconds of one run (base or plus): evalplus's min(60, sum of the limits) + 1."""
    return round(min(RUN_CAP, sum(limits)) + 1.0, 3)


class Digest:
    """An expected output too long to embed (expected.DIGEST_OVER): the sha256 of its repr. Its
    own repr is its literal in the test (plus_compare's Digest)."""

    __slots__ = ("hex",)

    def __init__(self, hex: str):
        self.hex = hex

    def __repr__(self) -> str:
        return f"_Digest({self.hex!r})"


def literal(value) -> str:
    """Python source that evaluates to `value` (plain data, or a Digest): its repr where that reads
    back (no inf or nan in it, no int too long for a decimal literal), else built piece by piece."""
    try:
        text = repr(value)
    except ValueError:  # an int over sys.get_int_max_str_digits()
        text = "inf"
    if "inf" not in text and "nan" not in text:
        return text
    return _literal(value)


def _literal(value) -> str:
    kind = type(value)
    if kind is Digest:
        return repr(value)
    if kind is float:
        if math.isnan(value):
            return "float('nan')"
        if math.isinf(value):
            return "float('inf')" if value > 0 else "float('-inf')"
        return repr(value)
    if kind is complex:
        return f"complex({_literal(value.real)}, {_literal(value.imag)})"
    if kind in (list, tuple):
        inner = ", ".join(_literal(v) for v in value)
        return f"[{inner}]" if kind is list else (f"({inner},)" if len(value) == 1 else f"({inner})")
    if kind is dict:
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if kind in (set, frozenset):
        inner = "[" + ", ".join(_literal(v) for v in value) + "]"
        return f"{kind.__name__}({inner})"
    if kind is int and abs(value) >= 1 << 8000:  # a decimal literal this long needs sys.set_int_max_str_digits
        return hex(value)
    if value is None or kind in (bool, int, str, bytes):
        return repr(value)
    raise TypeError(f"not plain data: {kind.__name__}")


@lru_cache(maxsize=1)
def _compare_source() -> str:
    from pycodex.problems import plus_compare

    body = textwrap.indent(inspect.getsource(plus_compare), "    ")
    return f"def _plus_compare():\n{body}\n    return run, Digest\n\n\n_plus_run, _Digest = _plus_compare()\n"


def _run_source(name: str, inputs, expected, limits) -> str:
    return f"{name} = ({literal(list(inputs))}, {literal(list(expected))}, {literal(limits)})\n"


def test_sources(base: tuple, plus: tuple, atol: float, oracle_name: str, plus_count: int) -> tuple[str, str, str]:
    """A task's test, base test and plus test: `check(candidate)` judging the runs (name, inputs,
    expected, limits) base then plus, base alone (no plus count), plus alone; each run's literals
    written once (they are most of the building's time)."""
    base_run, plus_run = (base[0], _run_source(*base)), (plus[0], _run_source(*plus))
    return (_assemble([base_run, plus_run], atol, oracle_name, plus_count), _assemble([base_run], atol, oracle_name, 0),
            _assemble([plus_run], atol, oracle_name, plus_count))


def _assemble(runs: list[tuple[str, str]], atol: float, oracle_name: str, plus_count: int) -> str:
    parts = [_compare_source(), f"_PLUS_COUNT = {plus_count}\n_ATOL = {atol!r}\n_ORACLE = {oracle_name!r}\n",
             "_OPAQUE_RETURNS = True\n" if oracle_name == "not_none" else ""]
    parts += [source for _, source in runs]
    calls = "".join(f"    _plus_run(candidate, *{name}, _ATOL, _ORACLE, _set_limit, _plan)\n" for name, _ in runs)
    parts.append("\n\ndef check(candidate):\n    _set_limit, _plan = globals().get('__call_limit__'), globals().get('__call_plan__')\n"
                 f"{calls or '    pass'}\n")
    return "".join(parts)
