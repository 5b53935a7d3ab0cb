"""Line diffs of a sample against the canonical solution, for display (headless: the TUI and the REPL draw them)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class DiffRow:
    tag: str  # equal / delete / insert (replace is split into delete + insert rows, or paired in side-by-side)
    left: str | None
    right: str | None
    left_no: int | None
    right_no: int | None


def _key(line: str, ignore_whitespace: bool) -> str:
    return re.sub(r"\s+", "", line) if ignore_whitespace else line.rstrip("\n")


def diff_rows(left: str, right: str, *, ignore_whitespace: bool = False, side_by_side: bool = False) -> list[DiffRow]:
    """Rows comparing left (canonical) with right (sample). Side-by-side pairs replaced lines."""
    a = left.rstrip("\n").splitlines()
    b = right.rstrip("\n").splitlines()
    if ignore_whitespace:
        # Blank lines carry no meaning either.
        a_idx = [i for i, line in enumerate(a) if line.strip()]
        b_idx = [j for j, line in enumerate(b) if line.strip()]
    else:
        a_idx, b_idx = list(range(len(a))), list(range(len(b)))
    ka = [_key(a[i], ignore_whitespace) for i in a_idx]
    kb = [_key(b[j], ignore_whitespace) for j in b_idx]
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(None, ka, kb, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for i, j in zip(range(i1, i2), range(j1, j2)):
                rows.append(DiffRow("equal", a[a_idx[i]], b[b_idx[j]], a_idx[i] + 1, b_idx[j] + 1))
            continue
        dels = [(a_idx[i] + 1, a[a_idx[i]]) for i in range(i1, i2)]
        ins = [(b_idx[j] + 1, b[b_idx[j]]) for j in range(j1, j2)]
        if side_by_side:
            for pos in range(max(len(dels), len(ins))):
                d = dels[pos] if pos < len(dels) else (None, None)
                s = ins[pos] if pos < len(ins) else (None, None)
                row_tag = "replace" if d[1] is not None and s[1] is not None else ("delete" if d[1] is not None else "insert")
                rows.append(DiffRow(row_tag, d[1], s[1], d[0], s[0]))
        else:
            rows.extend(DiffRow("delete", line, None, no, None) for no, line in dels)
            rows.extend(DiffRow("insert", None, line, None, no) for no, line in ins)
    return rows


def similarity(left: str, right: str, *, ignore_whitespace: bool = False) -> float:
    a = [_key(x, ignore_whitespace) for x in left.splitlines() if not ignore_whitespace or x.strip()]
    b = [_key(x, ignore_whitespace) for x in right.splitlines() if not ignore_whitespace or x.strip()]
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
