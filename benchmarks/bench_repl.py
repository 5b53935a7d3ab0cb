"""Benchmark: the first token of a second question, in the REPL against a second `pycodex solve`.

    python benchmarks/bench_repl.py              # 3 rounds each, the bundled model
    python benchmarks/bench_repl.py --rounds 5

Both run the installed `pycodex` in a pseudo-terminal (pexpect) with the same docstring and the
same settings (n, max tokens, seed), and the clock stops when the live view first shows a sample
"writing" (the first token on the screen; the view draws a row's new state at once).
  * REPL: one `pycodex repl` process; a first question, then the timed ones (Enter to first token):
    the model and the sandbox are warm.
  * solve: a first `pycodex solve` process (it fills the page cache), then timed ones, each a new
    process (start to first token): the model is loaded and the sandbox started every time.
Prints the medians, their ratio (solve / REPL, the issue asks for at least 5) and the load
(`uptime`): both are measured in the same run, so the ratio holds on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect

QUESTION = ["Return the sum of a and b.", ">>> add(1, 2)", "3"]
FLAGS = ["--n", "2", "--max-tokens", "16", "--seed", "1"]


def pycodex() -> str:
    exe = Path(sys.executable).parent / "pycodex"
    return str(exe) if exe.exists() else "pycodex"


def environment(home: Path) -> dict[str, str]:
    env = dict(os.environ, PYCODEX_DATA_DIR=str(home / "data"), PYCODEX_CONFIG_DIR=str(home / "config"), TERM="xterm")
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"
    return env


def repl_rounds(rounds: int, env: dict[str, str]) -> list[float]:
    child = pexpect.spawn(pycodex(), ["repl", *FLAGS], env=env, encoding="utf-8", dimensions=(50, 200), timeout=300)
    child.expect("pycodex>")
    times = []
    try:
        for round_ in range(rounds + 1):  # the first question warms the REPL up, the others are timed
            for line in QUESTION:
                child.send(line + "\r")
                time.sleep(0.05)
            started = time.perf_counter()
            child.send("\r")  # the empty line that runs the block
            child.expect("writing")
            if round_:
                times.append(time.perf_counter() - started)
            child.expect(r"\d+ samples, \d+ tokens")
            child.expect("pycodex>")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    return times


def solve_rounds(rounds: int, env: dict[str, str]) -> list[float]:
    times = []
    for round_ in range(rounds + 1):  # the first process fills the page cache
        started = time.perf_counter()
        child = pexpect.spawn(pycodex(), ["solve", "\n".join(QUESTION), *FLAGS], env=env, encoding="utf-8", dimensions=(50, 200), timeout=300)
        try:
            child.expect("writing")
            if round_:
                times.append(time.perf_counter() - started)
            child.expect(pexpect.EOF)
        finally:
            child.close(force=True)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="timed questions of each kind")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-repl-") as home:
        env = environment(Path(home))
        solve = solve_rounds(args.rounds, env)
        repl = repl_rounds(args.rounds, env)
    solve_median, repl_median = statistics.median(solve), statistics.median(repl)
    print(f"load: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"first token of a second question, median of {args.rounds}:")
    print(f"  pycodex solve (a new process)  {solve_median:7.3f} s   {', '.join(f'{t:.3f}' for t in solve)}")
    print(f"  pycodex repl  (warm)           {repl_median:7.3f} s   {', '.join(f'{t:.3f}' for t in repl)}")
    ratio = solve_median / repl_median
    print(f"  ratio solve / repl: {ratio:.1f}x ({'meets' if ratio >= 5 else 'below'} the 5x asked)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
