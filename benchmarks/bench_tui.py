"""Startup benchmarks for the TUI and the CLI, measured from process spawn.

    python benchmarks/bench_tui.py [--runs 5]

- first frame: `pycodex` (no arguments, the real entry point) in a pseudo-terminal; the clock stops
  when the first full frame (the problem table) arrives on the terminal. The app is started with
  PYCODEX_TUI_EXIT_AFTER_FIRST_FRAME=1 so it quits right after drawing it.
- `pycodex --help`: spawn to exit.
Goals: first frame <= 1.0 s, --help <= 0.3 s (2 shared cores). Prints medians and ratio to goal.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_FIRST_FRAME = 1.0
GOAL_HELP = 0.3
MARKER = b"HumanEval/1"  # a row of the problem table: the first frame is on screen


def pycodex_cmd() -> list[str]:
    exe = shutil.which("pycodex", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "pycodex"]


def first_frame_seconds(env: dict, cols: int = 100, rows: int = 30, timeout: float = 20.0) -> float:
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    started = time.perf_counter()
    proc = subprocess.Popen(pycodex_cmd(), stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    seen = b""
    elapsed = None
    deadline = started + timeout
    try:
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
                if elapsed is None and MARKER in seen:
                    elapsed = time.perf_counter() - started
                    break
            elif proc.poll() is not None:
                break
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(master)
    if elapsed is None:
        raise RuntimeError(f"no first frame within {timeout}s; output tail: {seen[-400:]!r}")
    return elapsed


def help_seconds(env: dict) -> float:
    started = time.perf_counter()
    out = subprocess.run([*pycodex_cmd(), "--help"], env=env, capture_output=True)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(out.stderr.decode(errors="replace"))
    return elapsed


def report(name: str, samples: list[float], goal: float) -> None:
    median = statistics.median(samples)
    ratio = median / goal
    verdict = "OK" if median <= goal else "OVER GOAL"
    spread = f"min {min(samples):.3f}  max {max(samples):.3f}"
    print(f"{name:<28} median {median:.3f} s  ({spread})  goal {goal:.2f} s  ratio {ratio:.2f}x  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env.update(
            PYCODEX_DATA_DIR=str(Path(tmp) / "data"),
            PYCODEX_CONFIG_DIR=str(Path(tmp) / "config"),
            PYCODEX_TUI_EXIT_AFTER_FIRST_FRAME="1",
            TERM=env.get("TERM", "xterm-256color") if env.get("TERM") not in (None, "", "dumb") else "xterm-256color",
        )
        env.pop("TEXTUAL", None)
        help_seconds(env)  # warm the OS file cache once; every measured run is a fresh process
        first_frame_seconds(env)
        frames = [first_frame_seconds(env) for _ in range(args.runs)]
        helps = [help_seconds(env) for _ in range(args.runs)]
    print(f"pycodex startup, {args.runs} runs each, {os.cpu_count()} cpus, python {sys.version.split()[0]}")
    report("TUI first frame (spawn)", frames, GOAL_FIRST_FRAME)
    report("pycodex --help (spawn)", helps, GOAL_HELP)


if __name__ == "__main__":
    main()
