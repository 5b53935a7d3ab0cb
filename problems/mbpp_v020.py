"""MBPP+ v0.2.0 rebuilt from v0.1.0 by the edits EvalPlus documents, and compared with the release.

EvalPlus made v0.2.0 (378 tasks) from v0.1.0 (399) with its tools/mbpp/fix_v010.py (whose target
version reads v0.2.0 since evalplus commit 3de2268; tools/mbpp/fix_v020.py is the later v0.2.0 ->
v0.2.1 step: three canonical solutions): links removed from 18 prompts (evalplus#156) and 21 tasks
with wrong original tests dropped (evalplus#147), each row written back as json.dumps(row) + "\\n".
This script applies those edits (the task ids and the removed text are the data; the code is
ours) and prints the result's size and sha256 beside the release's. They differ: the rebuilt
file is 2,565,735 bytes (sha256 1e20ab83...), the release 2,592,369 (b54e7627...), 26,634 bytes
more, which the documented edits do not explain and the release itself is not here to diff.
So pycodex ships v0.1.0 (`mbpp-plus`). Run: python problems/mbpp_v020.py
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
RELEASE_SHA256, RELEASE_BYTES = "b54e762755248ca411b523c917fa9f93c07b5ff2966bf60b3917b853926a3dad", 2_592_369
DROPPED = (83, 115, 117, 143, 164, 229, 249, 295, 396, 400, 407, 431, 438, 442, 461, 574, 582, 595, 640, 746, 783)
LINKS_REMOVED = (734, 735, 736, 739, 740, 743, 745, 749, 751, 752, 753, 757, 763, 771, 780, 781, 782, 803)
_LINK = re.compile(r"https?://\S+/")  # each of those prompts holds one link, ending in "/" or ".php"
_PHP = re.compile(r"https?://\S+\.php")


def rebuild(source: Path = HERE / "MbppPlus-v0.1.0.jsonl.gz") -> bytes:
    rows = [json.loads(line) for line in gzip.decompress(source.read_bytes()).splitlines()]
    out = []
    for row in rows:
        number = int(row["task_id"].split("/")[1])
        if number in DROPPED:
            continue
        if number in LINKS_REMOVED:
            prompt = _PHP.sub("", row["prompt"], count=1)
            row["prompt"] = prompt if prompt != row["prompt"] else _LINK.sub("", row["prompt"], count=1)
        out.append(row)
    return b"".join((json.dumps(row) + "\n").encode() for row in out)


def main() -> int:
    data = rebuild()
    tasks, digest = data.count(b"\n"), hashlib.sha256(data).hexdigest()
    print(f"rebuilt: {tasks} tasks, {len(data):,} bytes, sha256 {digest}")
    print(f"release: 378 tasks, {RELEASE_BYTES:,} bytes, sha256 {RELEASE_SHA256}")
    print("byte-identical" if digest == RELEASE_SHA256 else f"differs by {RELEASE_BYTES - len(data):+,} bytes: v0.1.0 is shipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
