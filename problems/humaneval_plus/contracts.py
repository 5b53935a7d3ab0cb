"""Preconditions of the 164 HumanEval problems, read from their docstrings, as predicates.

CONTRACTS[n](*args) is True when `args` are a valid input of HumanEval/n: what the docstring
promises (types, ranges, formats), plus bounds that keep the canonical solution fast (a recursive
fib, an O(n) primality test). The generator keeps only mutated inputs that satisfy the contract.

CANONICAL_WRONG[n] = (predicate, reason): valid inputs on which the canonical solution contradicts
its own docstring. Inputs matching the predicate are excluded from the extra tests (the oracle
would encode the bug); each entry says what is wrong.

SPECIAL_CHECK: problems whose answer is not unique; their extra test checks a property instead
of comparing with the canonical output.
"""

from __future__ import annotations

import re

PLANETS = ("Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune")
NUMERALS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def is_int(x) -> bool:
    return type(x) is int


def is_num(x) -> bool:
    return type(x) in (int, float)


def ints(xs, lo=-10**9, hi=10**9, max_len=60) -> bool:
    return type(xs) is list and len(xs) <= max_len and all(is_int(x) and lo <= x <= hi for x in xs)


def nums(xs, max_len=60) -> bool:
    return type(xs) is list and len(xs) <= max_len and all(is_num(x) and abs(x) <= 1e9 for x in xs)


def text(s, max_len=300, alphabet=None) -> bool:
    return type(s) is str and len(s) <= max_len and (alphabet is None or all(c in alphabet for c in s))


def strs(xs, max_len=40) -> bool:
    return type(xs) is list and len(xs) <= max_len and all(text(x, 100) for x in xs)


def rng(x, lo, hi) -> bool:
    return is_int(x) and lo <= x <= hi


def balanced(s: str) -> bool:
    depth = 0
    for c in s:
        depth += 1 if c == "(" else -1
        if depth < 0:
            return False
    return depth == 0


def paren_groups(s: str) -> bool:
    """Space-separated groups, each balanced, non-empty and top-level (not two groups glued)."""
    for group in s.split(" "):
        if not group or not balanced(group):
            return False
        depth = 0
        for i, c in enumerate(group):
            depth += 1 if c == "(" else -1
            if depth == 0 and i != len(group) - 1:
                return False
    return True


def c1(s):
    if not text(s, alphabet="() "):
        return False
    compact = s.replace(" ", "")
    return balanced(compact)


def c17(s):
    return text(s) and (s == "" or all(t in ("o", "o|", ".|") for t in s.split(" ")))


def c19(s):
    return text(s) and (s == "" or all(t in NUMERALS for t in s.split(" ")))


def c32(xs):
    # even number of coefficients, largest non-zero: an odd-degree polynomial has a real root
    return ints(xs, -10, 10, 10) and len(xs) >= 2 and len(xs) % 2 == 0 and xs[-1] != 0


def c67(s, n):
    m = re.fullmatch(r"(\d+) apples and (\d+) oranges", s) if type(s) is str else None
    return bool(m) and is_int(n) and n >= int(m.group(1)) + int(m.group(2)) and n <= 10**6


def c81(grades):
    return type(grades) is list and len(grades) <= 40 and all(is_num(g) and 0 <= g <= 4.0 for g in grades)


def c87(lst, x):
    return type(lst) is list and len(lst) <= 20 and all(ints(row, -100, 100, 20) for row in lst) and is_int(x)


def c95(d):
    return type(d) is dict and len(d) <= 20 and all(type(k) in (str, int) for k in d) and all(type(v) is str for v in d.values())


def c99(value):
    return type(value) is str and re.fullmatch(r"-?\d{1,8}(\.\d{1,6})?", value) is not None


def c101(s):
    return text(s, alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,")


def c111(s):
    return text(s) and (s == "" or all(len(t) == 1 and t.islower() and t.isalpha() for t in s.split(" ")))


def c115(grid, capacity):
    if type(grid) is not list or not 1 <= len(grid) <= 20 or not rng(capacity, 1, 10):
        return False
    width = len(grid[0]) if type(grid[0]) is list else -1
    return width >= 1 and all(type(r) is list and len(r) == width and all(v in (0, 1) and is_int(v) for v in r) for r in grid)


def c119(lst):
    return type(lst) is list and len(lst) == 2 and all(text(s, 40, "()") for s in lst)


def c124(date):
    return text(date, 20)


def c129(grid, k):
    if type(grid) is not list or not 2 <= len(grid) <= 6 or not rng(k, 1, 12):
        return False
    n = len(grid)
    if not all(type(r) is list and len(r) == n and all(is_int(v) for v in r) for r in grid):
        return False
    return sorted(v for r in grid for v in r) == list(range(1, n * n + 1))


def c137(a, b):
    def real(v):
        if type(v) is str:
            return re.fullmatch(r"-?\d{1,6}([.,]\d{1,4})?", v) is not None
        return is_num(v) and abs(v) < 1e6

    return real(a) and real(b)


def c144(x, n):
    pattern = r"[1-9]\d{0,3}/[1-9]\d{0,3}"
    return type(x) is str and type(n) is str and re.fullmatch(pattern, x) is not None and re.fullmatch(pattern, n) is not None


def c153(class_name, extensions):
    return text(class_name, 40) and type(extensions) is list and 1 <= len(extensions) <= 20 and all(text(e, 40) for e in extensions)


def c160(operator, operand):
    if type(operator) is not list or type(operand) is not list:
        return False
    if not (1 <= len(operator) == len(operand) - 1 <= 6):
        return False
    if not all(o in ("+", "-", "*", "//", "**") for o in operator):
        return False
    if not all(rng(v, 0, 20) for v in operand):
        return False
    # '**' is right-associative: keep towers small enough to evaluate at once
    return operator.count("**") <= 1 or max(operand) <= 4


CONTRACTS = {
    0: lambda numbers, threshold: nums(numbers) and is_num(threshold) and threshold >= 0,
    1: c1,
    2: lambda number: type(number) is float and 0 < number < 1e6,
    3: lambda ops: ints(ops),
    4: lambda numbers: nums(numbers) and len(numbers) >= 1,
    5: lambda numbers, d: ints(numbers) and is_int(d),
    6: lambda s: text(s, alphabet="() ") and paren_groups(s),
    7: lambda strings, sub: strs(strings) and text(sub, 20),
    8: lambda numbers: ints(numbers, -1000, 1000, 20),
    9: lambda numbers: ints(numbers),
    10: lambda s: text(s, 60),
    11: lambda a, b: text(a, 60, "01") and text(b, 60, "01") and len(a) == len(b),
    12: lambda strings: strs(strings),
    13: lambda a, b: rng(a, 1, 10**9) and rng(b, 1, 10**9),
    14: lambda s: text(s, 60),
    15: lambda n: rng(n, 0, 500),
    16: lambda s: text(s),
    17: c17,
    18: lambda s, sub: text(s, 100) and text(sub, 20) and len(sub) >= 1,
    19: c19,
    20: lambda numbers: nums(numbers) and len(numbers) >= 2,
    21: lambda numbers: nums(numbers) and len(numbers) >= 2 and min(numbers) != max(numbers),
    22: lambda values: type(values) is list and len(values) <= 40,
    23: lambda s: text(s),
    24: lambda n: rng(n, 2, 100_000),
    25: lambda n: rng(n, 2, 10**9),
    26: lambda numbers: ints(numbers),
    27: lambda s: text(s),
    28: lambda strings: strs(strings),
    29: lambda strings, prefix: strs(strings) and text(prefix, 20),
    30: lambda lst: nums(lst),
    31: lambda n: rng(n, -100, 20_000),
    32: c32,
    33: lambda lst: ints(lst),
    34: lambda lst: ints(lst),
    35: lambda lst: nums(lst) and len(lst) >= 1,
    36: lambda n: rng(n, 0, 20_000),
    37: lambda lst: ints(lst),
    38: lambda s: text(s, 100),
    39: lambda n: rng(n, 1, 10),
    40: lambda lst: ints(lst, max_len=30),
    41: lambda n: rng(n, 0, 10**6),
    42: lambda lst: ints(lst),
    43: lambda lst: ints(lst, max_len=40),
    44: lambda x, base: rng(x, 1, 10**9) and rng(base, 2, 9),
    45: lambda a, h: is_num(a) and is_num(h) and 0 < a < 1e6 and 0 < h < 1e6,
    46: lambda n: rng(n, 0, 200),
    47: lambda lst: nums(lst) and len(lst) >= 1,
    48: lambda s: text(s),
    49: lambda n, p: rng(n, 0, 10_000) and rng(p, 1, 10**6),
    50: lambda s: text(s, 100, "abcdefghijklmnopqrstuvwxyz"),
    51: lambda s: text(s),
    52: lambda lst, t: nums(lst) and is_num(t),
    53: lambda x, y: is_int(x) and is_int(y),
    54: lambda a, b: text(a, 60) and text(b, 60),
    55: lambda n: rng(n, 1, 22),
    56: lambda s: text(s, 100, "<>"),
    57: lambda lst: nums(lst) and len(lst) >= 1,
    58: lambda a, b: ints(a) and ints(b),
    59: lambda n: rng(n, 4, 20_000) and any(n % d == 0 for d in range(2, int(n ** 0.5) + 1)),
    60: lambda n: rng(n, 1, 10_000),
    61: lambda s: text(s, 100, "()"),
    62: lambda xs: ints(xs) and len(xs) >= 1,
    63: lambda n: rng(n, 0, 16),
    64: lambda s: text(s, 60, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    65: lambda x, shift: rng(x, 0, 10**12) and rng(shift, 0, 200),
    66: lambda s: text(s),
    67: c67,
    68: lambda arr: ints(arr, 0, 10**6, 40),
    69: lambda lst: ints(lst, 1, 100, 40) and len(lst) >= 1,
    70: lambda lst: ints(lst),
    71: lambda a, b, c: all(is_num(v) and 0 < v < 1e4 for v in (a, b, c)),
    72: lambda q, w: ints(q, -1000, 1000) and is_int(w),
    73: lambda arr: ints(arr),
    74: lambda a, b: strs(a) and strs(b),
    75: lambda a: rng(a, 1, 99),
    76: lambda x, n: rng(x, 1, 10**9) and rng(n, 1, 1000),
    77: lambda a: rng(a, -10**6, 10**6),
    78: lambda num: text(num, 60, "0123456789ABCDEF"),
    79: lambda d: rng(d, 0, 10**9),
    80: lambda s: text(s, 60, "abcdefghijklmnopqrstuvwxyz"),
    81: c81,
    82: lambda s: text(s, 200),
    83: lambda n: rng(n, 1, 18),
    84: lambda n: rng(n, 0, 10_000),
    85: lambda lst: ints(lst) and len(lst) >= 1,
    86: lambda s: text(s),
    87: c87,
    88: lambda arr: ints(arr, 0, 10**6),
    89: lambda s: text(s, 60, "abcdefghijklmnopqrstuvwxyz"),
    90: lambda lst: ints(lst),
    91: lambda s: text(s),
    92: lambda x, y, z: all(is_num(v) for v in (x, y, z)),
    93: lambda s: text(s, 100, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ "),
    94: lambda lst: ints(lst, 0, 10**6, 40),
    95: c95,
    96: lambda n: rng(n, 0, 1000),
    97: lambda a, b: is_int(a) and is_int(b),
    98: lambda s: text(s),
    99: c99,
    100: lambda n: rng(n, 1, 500),
    101: c101,
    102: lambda x, y: rng(x, 1, 10**6) and rng(y, 1, 10**6),
    103: lambda n, m: rng(n, 1, 10**5) and rng(m, 1, 10**5),
    104: lambda x: ints(x, 1, 10**9),
    105: lambda arr: ints(arr),
    106: lambda n: rng(n, 0, 60),
    107: lambda n: rng(n, 1, 1000),
    108: lambda arr: ints(arr),
    109: lambda arr: ints(arr) and len(set(arr)) == len(arr),
    110: lambda a, b: ints(a) and ints(b) and len(a) >= 1 and len(b) >= 1,
    111: c111,
    112: lambda s, c: text(s, 100) and text(c, 20),
    113: lambda lst: strs(lst) and all(x.isdigit() and x.isascii() for x in lst),
    114: lambda nums_: ints(nums_) and len(nums_) >= 1,
    115: c115,
    116: lambda arr: ints(arr, 0, 10**6),
    117: lambda s, n: text(s, 200, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ") and rng(n, 0, 30),
    118: lambda w: text(w, 60, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    119: c119,
    120: lambda arr, k: ints(arr, -1000, 1000, 40) and len(arr) >= 1 and rng(k, 0, len(arr)),
    121: lambda lst: ints(lst) and len(lst) >= 1,
    122: lambda arr, k: ints(arr) and len(arr) >= 1 and rng(k, 1, len(arr)),
    123: lambda n: rng(n, 1, 10**6),
    124: c124,
    125: lambda s: text(s),
    126: lambda lst: ints(lst, 0, 10**6),
    127: lambda a, b: all(type(t) is tuple and len(t) == 2 and all(is_int(v) for v in t) and t[0] <= t[1] for t in (a, b)),
    128: lambda arr: ints(arr),
    129: c129,
    130: lambda n: rng(n, 0, 200),
    131: lambda n: rng(n, 1, 10**12),
    132: lambda s: text(s, 100, "[]"),
    133: lambda lst: nums(lst),
    134: lambda s: text(s),
    135: lambda arr: ints(arr) and len(set(arr)) == len(arr),
    136: lambda lst: ints(lst),
    137: c137,
    138: lambda n: rng(n, 1, 10**6),
    139: lambda n: rng(n, 1, 30),
    140: lambda s: text(s),
    141: lambda s: text(s, 60),
    142: lambda lst: ints(lst),
    143: lambda s: text(s, 100, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ") and "  " not in s and s == s.strip() and len(s) >= 1,
    144: c144,
    145: lambda lst: ints(lst),
    146: lambda lst: ints(lst),
    147: lambda n: rng(n, 1, 40),
    148: lambda a, b: text(a, 20) and text(b, 20),
    149: lambda lst: strs(lst),
    150: lambda n, x, y: rng(n, 1, 10**5) and is_int(x) and is_int(y),
    151: lambda lst: nums(lst, 120),
    152: lambda a, b: ints(a) and ints(b) and len(a) == len(b),
    153: c153,
    154: lambda a, b: text(a, 40) and text(b, 40),
    155: lambda n: rng(n, -10**12, 10**12),
    156: lambda n: rng(n, 1, 1000),
    157: lambda a, b, c: all(rng(v, 1, 10**4) for v in (a, b, c)),
    158: lambda words: strs(words) and len(words) >= 1,
    159: lambda number, need, remaining: all(rng(v, 0, 1000) for v in (number, need, remaining)),
    160: c160,
    161: lambda s: text(s),
    162: lambda s: text(s),
    163: lambda a, b: rng(a, 1, 10**4) and rng(b, 1, 10**4),
}

CANONICAL_WRONG: dict = {
    # "the product of their unit digits": the canonical takes abs(a % 10), so multiply(19, -1) is 81
    # (-1 % 10 == 9) where the unit digits 9 and 1 give 9. Right whenever x % 10 is the unit digit.
    97: (lambda a, b: any(x < 0 and x % 10 != abs(x) % 10 for x in (a, b)),
         "abs(a % 10) is not the unit digit of a negative number"),
    # "elements with at most two digits": the canonical tests len(str(x)) <= 2, so -30 (two digits)
    # is left out and -5 is kept; wrong for every negative number of two digits in arr[:k].
    122: (lambda arr, k: any(-100 < x <= -10 for x in arr[:k]),
          "len(str(x)) counts the minus sign as a digit"),
}

SPECIAL_CHECK = {
    # find_zero: any root will do; the test checks |poly(xs, x)| < 1e-4 as HumanEval's own test does
    32: "root",
}
