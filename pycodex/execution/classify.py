"""W's reading of how a sample ended: the verdict from its messages, the strict judge's word and
its exit status. Standard library only (used by worker.py)."""

from __future__ import annotations

import hashlib
import os
import signal
import struct


def wait_status(siginfo: bytes) -> int:
    """The waitpid()-style status of Z's report (a siginfo_t from waitid: si_code, si_status)."""
    code, status = struct.unpack_from("=i", siginfo, 8)[0], struct.unpack_from("=i", siginfo, 24)[0]
    if code == 1:  # CLD_EXITED
        return (status & 0xFF) << 8
    return (status & 0x7F) | (0x80 if code == 3 else 0)  # CLD_KILLED, CLD_DUMPED


def _signalled(status: int | None) -> tuple[str, str] | None:
    if status is None or not os.WIFSIGNALED(status):
        return None
    signum = os.WTERMSIG(status)
    if signum == signal.SIGXCPU:
        return "timed out", "CPU time limit"
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = str(signum)
    return "crashed", f"signal {name}"


def classify_strict(messages: list[dict], verdict: dict | None, judge_alive: bool, timed_out: bool,
                     output: str, exit_status: int | None) -> tuple[str, str]:
    """The strict judge's verdict, the only source of a pass. The sample's own messages (on the
    result pipe) only say that it started; its exit status, from Z, explains a sample that went away."""
    commit = next((m for m in messages if m.get("kind") == "commit"), None)
    if commit is None:
        setup = next((m for m in messages if m.get("kind") == "setup error"), None)
        return "crashed", "sandbox setup failed: " + (setup["detail"] if setup else "no response")
    kind = verdict.get("kind") if verdict else None
    if kind == "passed":
        return "passed", ""
    if verdict and kind in ("failed", "out of memory", "syntax error"):
        return kind, str(verdict.get("detail", ""))
    if timed_out:
        return "timed out", ""
    if verdict is None and not judge_alive:
        return "crashed", "the judge process died"
    status = exit_status  # (never an "exit" message the sample wrote itself)
    signalled = _signalled(status)
    if signalled:
        return signalled
    if "MemoryError" in output[-2000:]:
        return "out of memory", "MemoryError"
    code = os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else "unknown"
    return "failed", f"exited (status {code}) before the tests finished"


def classify(messages: list[dict], timed_out: bool, output: str) -> tuple[str, str]:
    commit = next((m for m in messages if m.get("kind") == "commit"), None)
    if commit is None:
        setup = next((m for m in messages if m.get("kind") == "setup error"), None)
        return "crashed", "sandbox setup failed: " + (setup["detail"] if setup else "no response")
    after = messages[messages.index(commit) + 1 :]
    for message in after:
        proof = message.get("proof")
        if message.get("kind") == "passed" and isinstance(proof, str):
            if hashlib.sha256(proof.encode()).hexdigest() == commit.get("hash"):
                return "passed", ""
    if timed_out:
        return "timed out", ""
    exits = [m["status"] for m in after if m.get("kind") == "exit" and isinstance(m.get("status"), int)]
    status = exits[-1] if exits else None
    signalled = _signalled(status)  # a signal outranks what the sample managed to report
    if signalled is not None:
        return signalled
    finals = [m for m in after if m.get("kind") in ("failed", "out of memory", "syntax error")]
    if finals:
        return finals[-1]["kind"], str(finals[-1].get("detail", ""))
    if "MemoryError" in output[-2000:]:
        return "out of memory", "MemoryError"
    code = os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else "unknown"
    return "failed", f"exited (status {code}) before the tests finished"
