"""The `chains` problem set: the paper's section 6, docstrings that chain string manipulations.

Each problem's docstring is the paper's lead sentence then one "-" line per block; its canonical
solution is one line of code per block, in order. Deterministic from SEED: the same problems,
tests and ids on every machine. Test inputs are short sentences (words, capitals, spaces and
punctuation) so that every block changes something.
"""

from __future__ import annotations

import random

from pycodex.problems.problem import Problem, ProblemSet

SEED = 6
LENGTHS = range(1, 14)  # chains of 1 to 13 blocks (each block at most once)
PER_LENGTH = 10
TESTS_PER_PROBLEM = 10
VERSION = f"1-seed{SEED}"
ENTRY_POINT = "string_manipulation"
LEAD = ("This function takes a string as input, then returns the result of performing\n"
        "    the following sequence of manipulations on that string:")

# block number -> (the docstring line, the line of code); the 13 blocks of PAPER.md in its order
BLOCKS: dict[int, tuple[str, str]] = {
    1: ("remove all instances of the letter e from the string", 's = s.replace("e", "")'),
    2: ("replace all spaces with exclamation points in the string", 's = s.replace(" ", "!")'),
    3: ("convert the string s to lowercase", "s = s.lower()"),
    4: ("remove the first and last two characters of the string", "s = s[2:-2]"),
    5: ("removes all vowels from the string", 's = "".join(c for c in s if c not in "aeiouAEIOU")'),
    6: ("remove every third character from the string", 's = "".join(c for i, c in enumerate(s) if i % 3 != 0)'),
    7: ("drop the last half of the string, as computed by characters", "s = s[: len(s) // 2]"),
    8: ("replace spaces with triple spaces", 's = s.replace(" ", "   ")'),
    9: ("reverse the order of words in the string", 's = " ".join(s.split(" ")[::-1])'),
    10: ("drop the first half of the words in the string", 's = " ".join(s.split(" ")[len(s.split(" ")) // 2:])'),
    11: ("add the word apples after every word in the string", 's = " ".join(w + " apples" for w in s.split(" "))'),
    12: ("make every other character in the string uppercase", 's = "".join(c.upper() if i % 2 == 0 else c for i, c in enumerate(s))'),
    13: ("delete all exclamation points, question marks, and periods from the string", 's = "".join(c for c in s if c not in ".!?")'),
}

WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "apple", "tree", "sees", "every",
         "green", "house", "Eleven", "Queen", "river", "open", "idea", "sky", "blue", "here", "Hello", "world")


def _sentence(rnd: random.Random) -> str:
    words = [rnd.choice(WORDS) for _ in range(rnd.randint(2, 8))]
    if rnd.random() < 0.5:
        words[0] = words[0].capitalize()
    for i in range(len(words)):
        if rnd.random() < 0.2:
            words[i] += rnd.choice(".!?")
    return " ".join(words)


def apply_chain(chain: tuple[int, ...], s: str) -> str:
    """The canonical solution's value, computed here from the same lines of code (trusted text)."""
    scope = {"s": s}
    for block in chain:
        exec(BLOCKS[block][1], {}, scope)  # noqa: S102 - our own constant code, never a sample
    return scope["s"]


def _problem(number: int, chain: tuple[int, ...], rnd: random.Random) -> Problem:
    lines = "\n".join(f"    -{BLOCKS[b][0]}" for b in chain)
    prompt = f'def {ENTRY_POINT}(s: str) -> str:\n    """{LEAD}\n{lines}\n    """\n'
    canonical = "".join(f"    {BLOCKS[b][1]}\n" for b in chain) + "    return s\n"
    inputs = [_sentence(rnd) for _ in range(TESTS_PER_PROBLEM)]
    pairs = [(s, apply_chain(chain, s)) for s in inputs]
    test = (
        f"# chain {list(chain)}\n"
        f"PAIRS = {pairs!r}\n\n\n"
        "def check(candidate):\n"
        "    for s, expected in PAIRS:\n"
        "        assert candidate(s) == expected, s\n"
    )
    return Problem(task_id=f"Chains/{number}", prompt=prompt, entry_point=ENTRY_POINT,
                   canonical_solution=canonical, test=test, chain=chain)


def chain_problems(seed: int = SEED) -> list[Problem]:
    rnd = random.Random(seed)
    problems: list[Problem] = []
    for length in LENGTHS:
        seen: set[tuple[int, ...]] = set()
        while len(seen) < PER_LENGTH:
            chain = tuple(rnd.sample(sorted(BLOCKS), length))
            if chain in seen:
                continue
            seen.add(chain)
            problems.append(_problem(len(problems), chain, rnd))
    return problems


def load_chains() -> ProblemSet:
    return ProblemSet(chain_problems(), name="chains", version=VERSION)
