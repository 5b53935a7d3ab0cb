"""`pycodex repl` in a pseudo-terminal (pexpect), with the real default model: typed as a user
types it (one session, recorded step by step by the `typed` fixture), then the same commands as
a script on standard input, then a restart that recalls the history."""

from __future__ import annotations

import io
import os
import re
import subprocess
import time
from pathlib import Path

import pexpect
import pytest

from conftest import pycodex_exe

pytestmark = pytest.mark.model

FLAGS = ["--n", "2", "--max-tokens", "24", "--seed", "3"]
DOCSTRING = ["Return the sum of a and b.", ">>> add(1, 2)", "3"]
NAMELESS = ["Return the answer.", ">>> 1 + 1", "2"]
# The commands typed, in order (a block is its lines then an empty line), each with what ends its
# output; the Ctrl-C part comes after them.
STEPS = [
    ("solve", DOCSTRING + [""], r"\d+ samples, \d+ tokens"),
    ("open", ["/open 0"], r"has_close_elements"),
    ("gen", ["/gen"], r"\d+/\d+ passed · "),
    ("diff", ["/diff 0"], r"--- canonical|canonical solution, line for line"),
    ("set", ["/set max_tokens 8"], r"max_tokens=8 seed=3"),
    ("gen8", ["/gen"], r"\d+/\d+ passed · "),
    ("bogus", ["/bogus"], r"error: unknown command /bogus[^\n]*"),
    ("range", ["/open 999"], r"error: unknown task id[^\n]*"),
    ("nameless", NAMELESS + [""], r"error: cannot tell the function's name[^\n]*"),
    ("show", ["/show 1"], r"HumanEval/0 · sample 1 · "),
]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")
RESULTS = re.compile(r"best of \d+ · sample \d+ · \d+/\d+ examples passed · mean log-prob -?[\d.]+|\d+/\d+ passed · pass@1 [\d.]+.*|^error: .*", re.M)


def plain(text: str) -> str:
    return ANSI.sub("", text)


def environment(data: Path) -> dict[str, str]:
    env = dict(os.environ, PYCODEX_DATA_DIR=str(data / "data"), PYCODEX_CONFIG_DIR=str(data / "config"), TERM="xterm")
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"  # pexpect does not answer the cursor position request
    env.pop("PYCODEX_MODEL", None)
    return env


def spawn(env: dict[str, str], flags: list[str] = FLAGS) -> pexpect.spawn:
    exe, *rest = pycodex_exe()
    child = pexpect.spawn(exe, [*rest, "repl", *flags], env=env, encoding="utf-8", dimensions=(50, 200), timeout=240)
    child.expect("pycodex>")
    return child


def descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def type_block(child: pexpect.spawn, lines: list[str]) -> None:
    for line in lines:
        child.send(line + "\r")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def typed(tmp_path_factory):
    """One typed session: every step's output, the Ctrl-C part, the processes it ran, its exit."""
    home = tmp_path_factory.mktemp("repl")
    env = environment(home)
    child = spawn(env)
    log = child.logfile_read = io.StringIO()
    out: dict = {"env": env}
    for name, lines, ending in STEPS:
        begin = len(log.getvalue())
        type_block(child, lines)
        child.expect(ending)
        child.expect("pycodex>")
        out[name] = plain(log.getvalue()[begin:])
    # Ctrl-C in the middle of a generation, then the backend still answers.
    type_block(child, ["/set max_tokens 300"])
    child.expect("pycodex>")
    child.send("/gen 8\r")
    child.expect("writing")
    out["workers"] = descendants(child.pid)
    child.sendintr()  # twice at once: the second must not break the first's stop
    for _ in range(10):  # under heavy load a Ctrl-C once went unseen: the job must stop at one of them
        child.sendintr()
        if child.expect([r"stopped: \d+ of 8 judged", r"8 passed · ", pexpect.TIMEOUT], timeout=2) != 2:
            break
    out["stopped"] = child.after
    child.expect("pycodex>")
    type_block(child, ["/set max_tokens 8", "/gen 2"])
    child.expect(r"(\d+)/(\d+) passed · ")
    out["after_stop"] = child.match.group(0)
    child.expect("pycodex>")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    out["exit"] = child.exitstatus
    out["home"] = home
    return out


def test_a_multiline_docstring_is_solved_with_the_real_model(typed):
    assert re.search(r"best of 2 · sample \d · \d/1 examples passed · mean log-prob -\d\.\d+", typed["solve"])
    assert "def add(a, b):" in typed["solve"]


def test_a_problem_is_opened_and_its_samples_judged_live(typed):
    assert "def has_close_elements(numbers: List[float], threshold: float) -> bool:" in typed["open"]
    gen = typed["gen"]
    # a line per verdict as it comes, then the table and pass@k
    assert len(re.findall(r"HumanEval/0 sample \d: (passed|failed|timed out|crashed|syntax error)", gen)) == 2
    assert re.search(r"\d/2 passed · pass@1 \d\.\d{3}  pass@2 \d\.\d{3}", gen)


def test_a_diff_is_shown(typed):
    assert "--- canonical" in typed["diff"] or "is the canonical solution" in typed["diff"]


def test_a_changed_setting_is_used_by_the_next_generation(typed):
    assert "n=2 T=0.8 top_p=0.95 max_tokens=8 seed=3" in typed["set"]
    gen8 = typed["gen8"]
    assert "HumanEval/0 · n=2 T=0.8 top_p=0.95 max_tokens=8 seed=3" in gen8
    rows = re.findall(r"│\s+(\d)\s+│\s+\w[\w ]*?\s+│\s+(\d+)\s+│", gen8)
    assert len(rows) == 2 and all(int(tokens) <= 8 for _, tokens in rows)


def test_bad_input_is_one_line_and_the_samples_stay(typed):
    assert "error: unknown command /bogus: /help lists the commands" in typed["bogus"]
    assert "error: unknown task id '999'" in typed["range"]
    assert "error: cannot tell the function's name" in typed["nameless"]
    assert "HumanEval/0 · sample 1 · " in typed["show"]  # the samples of before are still there


def test_ctrl_c_stops_a_generation_and_the_backend_still_answers(typed):
    assert re.fullmatch(r"stopped: [0-7] of 8 judged", typed["stopped"])
    assert re.fullmatch(r"\d/2 passed · ", typed["after_stop"])


def test_ctrl_d_exits_0_and_leaves_no_process(typed):
    assert typed["exit"] == 0
    assert typed["workers"], "the executor's workers were running"
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in typed["workers"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in typed["workers"] if alive(pid)]


def test_a_script_on_stdin_gives_what_was_typed(typed):
    script = "\n".join(line for _, lines, _ in STEPS for line in lines) + "\n"
    exe = pycodex_exe()
    result = subprocess.run([*exe, "repl", *FLAGS], input=script, capture_output=True, text=True, env=typed["env"], timeout=600)
    assert result.returncode == 2  # three bad inputs
    typed_text = "\n".join(typed[name] for name, _, _ in STEPS)
    assert RESULTS.findall(plain(typed_text)) == RESULTS.findall(result.stdout + result.stderr) != []


def test_history_is_recalled_after_a_restart(typed):
    child = spawn(typed["env"], ["--model", "canonical"])  # no model needed to read the history
    child.send("\x1b[A")  # Up: the last input of the session before, highlighted
    child.expect(r"/(\x1b\[[0-9;]*m)*gen (\x1b\[[0-9;]*m)*2")
    child.sendintr()  # clears the line
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "/open 0" in (typed["home"] / "data" / "repl_history").read_text()


def test_solve_with_no_text_on_a_terminal_opens_the_repl_with_its_settings(typed):
    exe, *rest = pycodex_exe()
    child = pexpect.spawn(exe, [*rest, "solve", "--n", "3", "--seed", "4"], env=typed["env"], encoding="utf-8", dimensions=(50, 200), timeout=240)
    child.expect("pycodex>")
    child.send("/set\r")
    child.expect(r"n=3 T=0\.8 top_p=0\.95 max_tokens=192 seed=4")  # solve's flags and defaults
    child.expect("pycodex>")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
