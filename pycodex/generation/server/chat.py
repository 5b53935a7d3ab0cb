"""Chat models: the prompt as a user message, and the function body taken back out of the reply.

A chat model does not continue the prompt; it answers it, usually with the whole function in a
fenced block, often with the signature and docstring repeated, imports or helpers around it, and
prose or tests after it. `extract_body(reply, prompt)` turns that into what a completion model
would have written: the body of the prompt's last function, indented as the prompt expects, so
`prompt + body` is the program the harness runs. What it keeps:

- the code of the fenced block that defines the function (else the first python block, else the
  first block; an unterminated fence, a reply cut at max_tokens, runs to the end; no fence: the
  reply itself);
- the body under the repeated signature, up to the first line that is not indented under it;
- imports, helper functions and classes defined at the top level beside the function, moved to the
  start of the body (nested definitions work the same way, and a helper after the function would
  otherwise be lost);
- without a signature, the reply's code is taken as the body itself (outside a fence: the indented
  lines, or a first paragraph that parses as Python; a reply of prose alone gives an empty body).

Trailing prose, `if __name__ == "__main__":` blocks, prints and asserts are dropped.
"""

from __future__ import annotations

import ast
import re
import textwrap

INSTRUCTION = (
    "Complete the following Python function. Reply with the complete function in one ```python code block, "
    "without tests, examples or explanations."
)
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.S | re.M)
_DEF = re.compile(r"^([ \t]*)(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)[ \t]*\(", re.M)
_TOP_LEVEL_KEEP = re.compile(r"(?:import|from|def|class|async)\b|@")


def chat_message(prompt: str) -> str:
    """The user message for a prompt: the instruction, then the prompt in a python block."""
    return f"{INSTRUCTION}\n\n```python\n{prompt.rstrip()}\n```"


def entry_point(prompt: str) -> str | None:
    """The function the prompt asks for: its last `def`."""
    found = _DEF.findall(prompt)
    return found[-1][1] if found else None


def body_indent(prompt: str) -> str:
    """The indentation of the prompt's function body: the last def's plus four spaces."""
    found = _DEF.findall(prompt)
    return (found[-1][0] if found else "") + "    "


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def pick_code(reply: str, name: str | None) -> tuple[str, bool]:
    """(the code in the reply, whether it came from a fenced block)."""
    blocks = [(lang.lower(), code) for lang, code in _FENCE.findall(reply)]
    if not blocks:
        return reply, False
    if name:
        for _lang, code in blocks:
            if re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(", code, re.M):
                return code, True
    for lang, code in blocks:
        if lang in ("python", "py", "python3"):
            return code, True
    return blocks[0][1], True


def _signature_end(lines: list[str], start: int) -> int:
    """The index of the line that ends the signature starting at `start` (brackets balanced, then ':')."""
    depth = 0
    for i in range(start, len(lines)):
        for ch in lines[i]:
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
        if depth <= 0 and lines[i].split("#", 1)[0].rstrip().endswith(":"):
            return i
    return start


def _blocks(lines: list[str], column: int) -> list[tuple[int, int]]:
    """(start, end) of each statement at `column`: its first line and the lines indented under it."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or _indent_of(line) != column:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or _indent_of(lines[j]) > column):
            j += 1
        out.append((i, j))
        i = j
    return out


def _reindent(lines: list[str], indent: str) -> str:
    text = textwrap.dedent("\n".join(lines).expandtabs(4)).strip("\n")
    if not text.strip():
        return ""
    return "\n".join(indent + line if line.strip() else "" for line in text.split("\n")) + "\n"


def extract_body(reply: str, prompt: str) -> str:
    """The body of the prompt's function from a chat reply, indented to follow the prompt."""
    name = entry_point(prompt)
    indent = body_indent(prompt)
    code, fenced = pick_code(reply, name)
    lines = code.replace("\r\n", "\n").split("\n")
    signature = None
    if name:
        pattern = re.compile(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(")
        signature = next((i for i, line in enumerate(lines) if pattern.match(line)), None)
    if signature is None:
        return _bare_body(lines, fenced, indent)
    column = _indent_of(lines[signature])
    end = _signature_end(lines, signature)
    body: list[str] = []
    after = end + 1
    while after < len(lines) and (not lines[after].strip() or _indent_of(lines[after]) > column):
        body.append(lines[after])
        after += 1
    # Definitions and imports beside the function (before or after it) move into the body.
    helpers: list[str] = []
    for start, stop in _blocks(lines[:signature], column) + [(after + a, after + b) for a, b in _blocks(lines[after:], column)]:
        head = lines[start].lstrip()
        if _TOP_LEVEL_KEEP.match(head) and not head.startswith("def test"):
            helpers.extend(lines[start:stop])
    helper_text = _reindent(helpers, indent) if helpers else ""
    return helper_text + _reindent(body, indent)


def _is_code(body: str) -> bool:
    try:
        ast.parse("def f():\n" + textwrap.indent(textwrap.dedent(body), "    "))
    except SyntaxError:
        return False
    return True


def _bare_body(lines: list[str], fenced: bool, indent: str) -> str:
    """Code without the signature: the body itself. Outside a fence, prose around it is dropped."""
    start = 0
    if not fenced:  # skip prose before the first indented (code) line
        while start < len(lines) and (not lines[start].strip() or _indent_of(lines[start]) == 0):
            start += 1
        if start == len(lines):  # nothing indented: the first paragraph, if it is code at all
            start = 0
            while start < len(lines) and not lines[start].strip():
                start += 1
            stop = start
            while stop < len(lines) and lines[stop].strip():
                stop += 1
            body = _reindent(lines[start:stop], indent)
            return body if _is_code(body) else ""
        stop = start
        while stop < len(lines) and (not lines[stop].strip() or _indent_of(lines[stop]) > 0):
            stop += 1
        return _reindent(lines[start:stop], indent)
    return _reindent(lines, indent)
