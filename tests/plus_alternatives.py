"""Correct solutions written differently from the canonical ones (for humaneval-plus: no false
failure). Each value is a completion: the body after the problem's prompt."""

ALTERNATIVES = {
    0: """    s = sorted(numbers)
    return any(b - a < threshold for a, b in zip(s, s[1:]))
""",
    2: """    import math
    return number - math.floor(number)
""",
    3: """    import itertools
    return any(total < 0 for total in itertools.accumulate(operations))
""",
    4: """    m = sum(numbers) / len(numbers)
    return sum(map(lambda x: abs(x - m), numbers)) / len(numbers)
""",
    5: """    out = []
    for i, x in enumerate(numbers):
        if i:
            out.append(delimeter)
        out.append(x)
    return out
""",
    7: """    return list(filter(lambda s: substring in s, strings))
""",
    8: """    import math
    return (sum(numbers), math.prod(numbers))
""",
    9: """    import itertools
    return list(itertools.accumulate(numbers, max))
""",
    11: """    return ''.join('1' if x != y else '0' for x, y in zip(a, b))
""",
    12: """    if not strings:
        return None
    best = strings[0]
    for s in strings[1:]:
        if len(s) > len(best):
            best = s
    return best
""",
    13: """    import math
    return math.gcd(a, b)
""",
    14: """    return [string[:i] for i in range(1, len(string) + 1)]
""",
    15: """    return ' '.join(map(str, range(n + 1)))
""",
    16: """    return len({c.lower() for c in string})
""",
    18: """    return sum(1 for i in range(len(string)) if string.startswith(substring, i))
""",
    19: """    order = 'zero one two three four five six seven eight nine'.split()
    return ' '.join(sorted(numbers.split(), key=order.index))
""",
    23: """    n = 0
    for _ in string:
        n += 1
    return n
""",
    24: """    for d in range(2, n + 1):
        if n % d == 0:
            return n // d
    return 1
""",
    25: """    out, d = [], 2
    while n > 1:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
        if d * d > n and n > 1:
            out.append(n)
            break
    return out
""",
    27: """    return string.swapcase()
""",
    28: """    out = ''
    for s in strings:
        out += s
    return out
""",
    30: """    return list(filter(lambda x: x > 0, l))
""",
    31: """    if n < 2:
        return False
    d = 2
    while d * d <= n:
        if n % d == 0:
            return False
        d += 1
    return True
""",
    34: """    return sorted(set(l))
""",
    35: """    best = l[0]
    for x in l:
        best = x if x > best else best
    return best
""",
    42: """    return list(map(lambda x: x + 1, l))
""",
    43: """    seen = set()
    for x in l:
        if -x in seen:
            return True
        seen.add(x)
    return False
""",
    44: """    digits = []
    while x:
        x, r = divmod(x, base)
        digits.append(str(r))
    return ''.join(reversed(digits))
""",
    45: """    return 0.5 * a * h
""",
    46: """    a, b, c, d = 0, 0, 2, 0
    for _ in range(n):
        a, b, c, d = b, c, d, a + b + c + d
    return a
""",
    48: """    return all(text[i] == text[-1 - i] for i in range(len(text) // 2))
""",
    49: """    return pow(2, n, p)
""",
    52: """    return not any(x >= t for x in l)
""",
    55: """    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
""",
    56: """    depth = 0
    for c in brackets:
        depth += 1 if c == '<' else -1
        if depth < 0:
            return False
    return depth == 0
""",
    58: """    return sorted(set(l1) & set(l2))
""",
    60: """    return n * (n + 1) // 2
""",
    62: """    return [i * c for i, c in enumerate(xs)][1:]
""",
    66: """    return sum(ord(c) for c in s if 'A' <= c <= 'Z')
""",
    79: """    return 'db' + format(decimal, 'b') + 'db'
""",
    85: """    return sum(x for i, x in enumerate(lst) if i % 2 == 1 and x % 2 == 0)
""",
    86: """    return ' '.join(''.join(sorted(w)) for w in s.split(' '))
""",
    97: """    return (abs(a) % 10) * (abs(b) % 10)
""",
    100: """    return list(range(n, 3 * n, 2))
""",
    121: """    return sum(x for x in lst[::2] if x % 2 == 1)
""",
    122: """    return sum(x for x in arr[:k] if -100 < x < 100)
""",
    128: """    if not arr:
        return None
    sign = 1
    for x in arr:
        if x == 0:
            return 0
        if x < 0:
            sign = -sign
    return sign * sum(abs(x) for x in arr)
""",
    131: """    odd = [int(c) for c in str(n) if int(c) % 2]
    if not odd:
        return 0
    out = 1
    for d in odd:
        out *= d
    return out
""",
    136: """    neg = [x for x in lst if x < 0]
    pos = [x for x in lst if x > 0]
    return (max(neg) if neg else None, min(pos) if pos else None)
""",
    139: """    import math
    out = 1
    for i in range(1, n + 1):
        out *= math.factorial(i)
    return out
""",
    152: """    return [abs(a - b) for a, b in zip(game, guess)]
""",
    155: """    digits = str(abs(num))
    even = sum(1 for c in digits if int(c) % 2 == 0)
    return (even, len(digits) - even)
""",
    157: """    x, y, z = sorted((a, b, c))
    return x * x + y * y == z * z
""",
    162: """    import hashlib
    return hashlib.md5(text.encode()).hexdigest() if text else None
""",
}
