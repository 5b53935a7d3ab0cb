"""Startup benchmarks for the TUI and the CLI, measured from process spawn.

    python benchmarks/bench_tui.py [--runs 5]

- first frame: `pycodex` (no arguments, the real entry point) in a pseudo-terminal; the clock stops
  when the first full frame (the problem table) arrives on the terminal. The app is started with
  PYCODEX_TUI_EXIT_AFTER_FIRST_FRAME=1 so it quits right after drawing it.
- `pycodex --help`: spawn to exit.
- with --responsiveness: UI-thread timer lateness (a 50 ms interval timer) while the real model
  generates 4 samples for HumanEval/55 in the app (headless pilot): the UI must never freeze.
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


def _reap(proc: subprocess.Popen, timeout: float = 10.0) -> float:
    """Wait for the child and return its CPU time (user + sys), a load-independent figure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        time.sleep(0.01)
    proc.kill()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def first_frame_seconds(env: dict, cols: int = 100, rows: int = 30, timeout: float = 20.0) -> tuple[float, float]:
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
        # Drain the terminal while the app draws its last frame and exits.
        while proc.poll() is None:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    if not os.read(master, 65536):
                        break
                except OSError:
                    break
        cpu = _reap(proc)
        os.close(master)
    if elapsed is None:
        raise RuntimeError(f"no first frame within {timeout}s; output tail: {seen[-400:]!r}")
    return elapsed, cpu


def help_seconds(env: dict) -> tuple[float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen([*pycodex_cmd(), "--help"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cpu = _reap(proc, timeout=30)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.read().decode(errors="replace"))
    return elapsed, cpu


def report(name: str, samples: list[tuple[float, float]], goal: float) -> None:
    walls = [w for w, _ in samples]
    cpus = [c for _, c in samples]
    median = statistics.median(walls)
    ratio = median / goal
    verdict = "OK" if median <= goal else "OVER GOAL"
    spread = f"min {min(walls):.3f}  max {max(walls):.3f}"
    print(
        f"{name:<28} median {median:.3f} s  ({spread})  goal {goal:.2f} s  ratio {ratio:.2f}x  {verdict}"
        f"  | process CPU median {statistics.median(cpus):.3f} s"
    )


def responsiveness(model: str = "default", n: int = 4, max_tokens: int = 96) -> None:
    import asyncio

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from textual.widgets import Input
    from tui_helpers import make_app, run_done, wait_for

    async def run() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            app = make_app(Path(tmp), model=model)
            late: list[float] = []
            async with app.run_test(size=(100, 30)) as pilot:
                await pilot.press("slash", *"fib", "enter", "g")
                app.screen.query_one("#n", Input).value = str(n)
                app.screen.query_one("#max_tokens", Input).value = str(max_tokens)
                started = time.perf_counter()
                await pilot.press("enter")
                last = [time.perf_counter()]

                def tick() -> None:
                    now = time.perf_counter()
                    late.append(now - last[0] - 0.05)
                    last[0] = now

                app.set_interval(0.05, tick)
                await wait_for(pilot, lambda: run_done(app.screen), timeout=600)
                seconds = time.perf_counter() - started
                samples = list(app.screen.samples.values())
            late.sort()
            tokens = sum(s.tokens for s in samples)
            print(
                f"UI while generating          {len(samples)} samples, {tokens} tokens in {seconds:.1f} s "
                f"({tokens / seconds:.1f} tok/s incl. model load); verdicts {[s.status for s in samples]}"
            )
            print(
                f"UI timer lateness            median {late[len(late) // 2] * 1000:.1f} ms  p95 {late[int(len(late) * 0.95)] * 1000:.1f} ms"
                f"  max {late[-1] * 1000:.1f} ms over {len(late)} ticks"
            )

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--responsiveness", action="store_true", help="also measure UI lateness while the real model generates")
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
    load = os.getloadavg()[0]
    print(f"pycodex startup, {args.runs} runs each, {os.cpu_count()} cpus, load average {load:.1f}, python {sys.version.split()[0]}")
    if load > (os.cpu_count() or 1):
        print("note: the machine is busy (load > cpus): wall times are inflated; process CPU time is the steadier figure")
    report("TUI first frame (spawn)", frames, GOAL_FIRST_FRAME)
    report("pycodex --help (spawn)", helps, GOAL_HELP)
    if args.responsiveness:
        responsiveness()


if __name__ == "__main__":
    main()
