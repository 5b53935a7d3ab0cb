"""--chat: the function body taken out of real-looking chat replies, checked by running it
against the problem's own tests in the sandbox (prompt + body is the program the harness runs)."""

from __future__ import annotations

import ast

import pytest

from pycodex.generation.server.chat import chat_message, entry_point, extract_body
from pycodex.problems.problem import load

FENCE = "```"


@pytest.fixture(scope="module")
def problems():
    return load()


@pytest.fixture(scope="module")
def executor():
    from pycodex.execution import Executor

    with Executor(workers=2) as ex:
        yield ex


def passes(executor, problem, body: str) -> bool:
    ast.parse(problem.prompt + body)  # a program, whatever the verdict
    return executor.submit(problem, body).result(timeout=60).passed


REPLIES = {
    # The whole function repeated in a fence, docstring and import included, an example after it, prose around.
    "HumanEval/0": f"""Here's the implementation of `has_close_elements`:

{FENCE}python
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    \"\"\"
    for i in range(len(numbers)):
        for j in range(i + 1, len(numbers)):
            if abs(numbers[i] - numbers[j]) < threshold:
                return True
    return False


# Example usage
print(has_close_elements([1.0, 2.0, 3.0], 0.5))  # False
{FENCE}

This compares every pair of numbers, so it runs in O(n²) time.""",
    # Only the body, two-space indented, in an unlabelled fence.
    "HumanEval/2": f"""{FENCE}
  return number - int(number)
{FENCE}""",
    # No fence at all: prose, the function, more prose.
    "HumanEval/7": """Sure! You can use a list comprehension:

def filter_by_substring(strings: List[str], substring: str) -> List[str]:
    return [s for s in strings if substring in s]

This keeps only the strings that contain the substring.""",
    # A helper defined after the function, and a __main__ block with tests.
    "HumanEval/13": f"""{FENCE}python
def greatest_common_divisor(a: int, b: int) -> int:
    return _gcd(a, b)


def _gcd(x, y):
    while y:
        x, y = y, x % y
    return abs(x)


if __name__ == "__main__":
    assert greatest_common_divisor(3, 5) == 1
    print("all tests passed")
{FENCE}""",
    # A shell block first, then the python block; a multi-line signature; an import inside.
    "HumanEval/23": f"""Install nothing:
{FENCE}bash
python3 strlen.py
{FENCE}
{FENCE}py
import operator

def strlen(
    string: str,
) -> int:
    return len(string)
{FENCE}""",
    # Cut at max_tokens inside the fence: no closing fence.
    "HumanEval/15": f"""{FENCE}python
def string_sequence(n: int) -> str:
    return ' '.join(str(i) for i in range(n + 1))
""",
}


@pytest.mark.parametrize("task_id", sorted(REPLIES))
def test_the_body_from_a_chat_reply_passes_the_problems_tests(task_id, problems, executor):
    problem = problems.get(task_id)
    body = extract_body(REPLIES[task_id], problem.prompt)
    assert body.startswith("    ") and "```" not in body
    assert "print(" not in body and "__main__" not in body and "This " not in body and "Sure" not in body
    assert passes(executor, problem, body), body


def test_what_is_kept_and_dropped(problems):
    prompt = problems.get("HumanEval/0").prompt
    body = extract_body(REPLIES["HumanEval/0"], prompt)
    assert body.splitlines()[0] == "    from typing import List"  # the import moved into the body
    assert "    for i in range(len(numbers)):" in body and body.rstrip().endswith("return False")
    helper = extract_body(REPLIES["HumanEval/13"], problems.get("HumanEval/13").prompt)
    assert helper.index("def _gcd") < helper.index("return _gcd(a, b)")  # defined before it is called
    assert extract_body(REPLIES["HumanEval/2"], problems.get("HumanEval/2").prompt) == "    return number - int(number)\n"


def test_a_reply_without_code_is_an_empty_or_failing_body_never_an_error(problems, executor):
    problem = problems.get("HumanEval/2")
    for reply in ("", "I cannot help with that.", f"{FENCE}python\n{FENCE}"):
        body = extract_body(reply, problem.prompt)
        assert not passes(executor, problem, body) if body.strip() else body == ""


def test_the_message_holds_the_prompt_and_the_instruction(problems):
    prompt = problems.get("HumanEval/0").prompt
    message = chat_message(prompt)
    assert prompt.rstrip() in message and message.startswith("Complete the following Python function")
    assert entry_point(prompt) == "has_close_elements"
