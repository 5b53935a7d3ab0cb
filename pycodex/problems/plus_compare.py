"""EvalPlus's differential check, as evalplus 0.3.1 judges (its eval/__init__.py, unsafe_execute).

This module's source is embedded in the test of every EvalPlus problem (pycodex/problems/plus_test.py)
and runs where the test runs: in the strict judge's trusted process, never in the sample. Standard
library only. What it does, input by input, in order:

* the call has a CPU-time limit of max(1 s, 4 x the canonical solution's CPU time on that input)
  (evalplus: the same of wall-clock time), set on the channel before the call when the judge offers
  one (`__call_limit__`);
* `out == exp`, with the oracles evalplus special-cases (MBPP: any answer for are_equivalent, 0 too
  for sum_div, its own surface_Area and digit_distance_nums, set equality for 8 tasks, "not None"
  for 3 whose outputs are objects; HumanEval: find_zero passes when |poly(xs, out)| <= atol);
* a tolerance only where the problem declares one, or where the expected value is a float (or a
  non-empty list or tuple of floats): from then on atol is at least 1e-6 *for the rest of the
  inputs of that run* (evalplus rebinds its atol); with a tolerance, a mismatch still passes when
  `type(out) is type(exp)`, lists and tuples have the same length and numpy's
  `allclose(out, exp, rtol=1e-7, atol=atol)` holds, emulated here on plain data (`allclose`).
"""

import math
from itertools import product

_INT_LOW, _INT_HIGH = -(1 << 63), 1 << 64  # numpy makes int64 or uint64 arrays of these; others are objects


def _poly(xs, x):
    return sum([coeff * math.pow(x, i) for i, coeff in enumerate(xs)])


def _surface_area(base_edge, height):  # Mbpp/581: the height is the pyramid's perpendicular height
    slant = math.sqrt((base_edge / 2) ** 2 + height ** 2)
    return round(base_edge ** 2 + 4 * (base_edge * slant) / 2)


def _digit_distance(num1, num2):  # Mbpp/558: the shorter number padded with zeros
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width)))


def is_floats(x) -> bool:
    if isinstance(x, float):
        return True
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(isinstance(i, float) for i in x)


def _array(x, wide):
    """(shape, flat elements) of numpy's asarray(x) for plain data; TypeError or ValueError where
    numpy's isclose raises (strings, None, ragged nesting; ints beyond 64 bits unless `wide`: numpy
    keeps them, and None or a dict, as Python objects, which it can subtract but not test with isfinite)."""
    if isinstance(x, (list, tuple)):
        parts = [_array(v, wide) for v in x]
        shapes = {shape for shape, _ in parts}
        if len(shapes) > 1:
            raise ValueError("inhomogeneous shape")
        inner = parts[0][0] if parts else ()
        return (len(x),) + inner, [e for _, flat in parts for e in flat]
    if type(x) is int and not wide and not _INT_LOW <= x < _INT_HIGH:
        raise TypeError("an int beyond 64 bits")
    if type(x) in (bool, int, float, complex) or (wide and type(x) not in (str, bytes)):
        return (), [x]  # (wide: an object array, whose other elements fail only where compared)
    raise TypeError(f"not a number: {type(x).__name__}")


def _broadcast(a, b):
    a, b = (1,) * (len(b) - len(a)) + a, (1,) * (len(a) - len(b)) + b
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)):
        raise ValueError("shapes do not broadcast")
    return a, b, tuple(max(x, y) if 0 not in (x, y) else 0 for x, y in zip(a, b))


def _flat_index(index, shape):
    flat = 0
    for i, n in zip(index, shape):
        flat = flat * n + (i if n != 1 else 0)
    return flat


def _close(a, b, atol, rtol) -> bool:
    if isinstance(a, complex) or isinstance(b, complex):
        a, b = complex(a), complex(b)
        finite = all(map(math.isfinite, (a.real, a.imag, b.real, b.imag)))
    else:
        a, b = float(a), float(b)
        finite = math.isfinite(a) and math.isfinite(b)
    if finite:
        return abs(a - b) <= atol + rtol * abs(b)
    return a == b


def allclose(out, exp, atol: float, rtol: float = 1e-07) -> bool:
    """numpy.allclose(out, exp, rtol, atol) (numpy 2) on plain data: False where numpy raises.
    numpy leaves a scalar `out` as it is and makes `exp` float (a Python int scalar through float())."""
    try:
        (shape_a, flat_a), (shape_b, flat_b) = _array(out, True), _array(exp, not isinstance(exp, (list, tuple)))
        shape_a, shape_b, shape = _broadcast(shape_a, shape_b)
        for index in product(*(range(n) for n in shape)):
            if not _close(flat_a[_flat_index(index, shape_a)], flat_b[_flat_index(index, shape_b)], atol, rtol):
                return False
        return True
    except (TypeError, ValueError, OverflowError):
        return False


def _decimal_digits(n):
    """str(n) of an int n >= 0 in O(n log^2 n), where str() takes O(n^2) (HumanEval/83's outputs
    of a million digits: 12 s each, 0.2 s here). CPython 3.12's _pylong.int_to_decimal_string."""
    import decimal

    powers: dict = {}

    def pow2(w):
        result = powers.get(w)
        if result is None:
            if w <= 128:
                result = decimal.Decimal(2) ** w
            elif w - 1 in powers:
                result = powers[w - 1] + powers[w - 1]
            else:
                result = pow2(w >> 1) * pow2(w - (w >> 1))
            powers[w] = result
        return result

    def inner(n, w):
        if w <= 128:
            return decimal.Decimal(n)
        half = w >> 1
        high = n >> half
        return inner(n - (high << half), half) + inner(high, w - half) * pow2(half)

    with decimal.localcontext() as ctx:
        ctx.prec, ctx.Emax, ctx.Emin = decimal.MAX_PREC, decimal.MAX_EMAX, decimal.MIN_EMIN
        ctx.traps[decimal.Inexact] = True
        return str(inner(n, n.bit_length()))


def _repr(out):
    if type(out) is int and out.bit_length() > 30_000:
        return "-" + _decimal_digits(-out) if out < 0 else _decimal_digits(out)
    return repr(out)


class Digest:
    """An expected output kept as the sha256 of its repr (one longer than a million characters)."""

    __slots__ = ("hex",)

    def __init__(self, hex):
        self.hex = hex

    def matches(self, out):
        import hashlib
        import sys

        sys.set_int_max_str_digits(0)  # as in the child that made the digest
        return hashlib.sha256(_repr(out).encode("utf-8", "surrogatepass")).hexdigest() == self.hex


def _match(oracle, out, exp, args, atol):
    """evalplus's exact_match, special oracles included."""
    exact = exp.matches(out) if type(exp) is Digest else out == exp
    if oracle == "are_equivalent":
        return True
    if oracle == "sum_div":
        return exact or out == 0
    if oracle == "surface_area":
        return exact or abs(out - _surface_area(*args)) <= atol
    if oracle == "digit_distance":
        return exact or out == _digit_distance(*args)
    if oracle == "set":
        return set(out) == set(exp)
    if oracle == "not_none":
        return out == exp if isinstance(out, bool) else exp == (out is not None)
    return exact


def run(candidate, inputs, expected, limits, atol, oracle, set_limit=None, plan=None):
    """Judge the inputs of one run (base or plus) in order (evalplus: fast_check); the first that
    fails raises AssertionError("input #N: ...") naming it. A call over its limit fails with a
    TimeoutError. plan: the strict judge's `__call_plan__`, told the calls to come (it sends them
    in batches)."""
    if plan is not None:
        plan(inputs, limits)
    for index, args in enumerate(inputs):
        try:
            atol = _judge_one(candidate, args, expected[index], limits[index], atol, oracle, set_limit)
        except Exception as exc:
            raise AssertionError(f"input #{index}: {type(exc).__name__}: {exc}"[:1000]) from None


def _judge_one(candidate, args, exp, limit, atol, oracle, set_limit):
    """One input; returns the atol for the next (evalplus rebinds it)."""
    if set_limit is not None:
        set_limit(limit)
    out = candidate(*args)
    if oracle == "find_zero":
        assert abs(_poly(args[0], out)) <= atol, "not a root"  # (find_zero takes xs alone)
        return atol
    exact = _match(oracle, out, exp, args, atol)
    if atol == 0 and is_floats(exp):
        atol = 1e-6
    if not exact and atol != 0:
        same_shape = type(out) is type(exp) and (not isinstance(exp, (list, tuple)) or len(out) == len(exp))
        assert same_shape and allclose(out, exp, atol), "not close to the expected output"
    else:
        assert exact, "not the expected output"
    return atol
