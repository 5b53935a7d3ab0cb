"""Time limits on what a sample used (limits.py): CPU time of its whole process tree and time spent
waiting, so that verdicts do not move with the machine's load."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from pycodex.execution import Executor
from pycodex.execution.limits import accounting
from pycodex.problems.problem import Problem

ONE = Problem("T/one", "def f():\n", "f", "    return 1\n", "def check(candidate):\n    assert candidate() == 1\n")
LIMIT = 1.0  # seconds of CPU (and of waiting) per sample in these tests

needs_schedstat = pytest.mark.skipif(accounting() != "schedstat", reason="no /proc/PID/schedstat on this machine")


def burn(seconds: float) -> str:
    """A correct completion that uses `seconds` of CPU time of its own process."""
    return (f"    import time\n    start = time.process_time()\n    while time.process_time() - start < {seconds}:\n"
            "        pass\n    return 1\n")


def burn_in_children(seconds: float, children: int) -> str:
    """A correct completion whose children use `seconds` of CPU between them, one after the other."""
    return ("    import os, time\n"
            f"    for _ in range({children}):\n"
            "        pid = os.fork()\n"
            "        if pid == 0:\n"
            f"            start = time.process_time()\n            while time.process_time() - start < {seconds / children}:\n"
            "                pass\n"
            "            os._exit(0)\n"
            "        os.waitpid(pid, 0)\n"
            "    return 1\n")


def hide_in_autoreaped_children(seconds: float, children: int) -> str:
    """A child that ignores SIGCHLD (the sample's own thread may not: it is not the main one),
    whose children, auto-reaped, would leave no trace in anyone's rusage: they use `seconds` of
    CPU, one after the other, each telling the child on a pipe when it is done."""
    return ("    import os, signal, time\n"
            "    if os.fork() == 0:\n"
            "        try:\n"
            "            signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n"
            "        except OSError:\n"
            "            pass\n"
            "        os.mkfifo('done')  # (a FIFO in the scratch: samples may not make pipes)\n"
            "        done_r = done_w = os.open('done', os.O_RDWR)\n"
            f"        for _ in range({children}):\n"
            "            if os.fork() == 0:\n"
            f"                start = time.process_time()\n                while time.process_time() - start < {seconds / children}:\n"
            "                    pass\n"
            "                os.write(done_w, b'.')\n"
            "                os._exit(0)\n"
            "            os.read(done_r, 1)\n"
            "        os._exit(0)\n"
            "    os.wait()\n"
            "    return 1\n")


SAMPLES = {
    "half the limit": (burn(LIMIT / 2), "passed"),
    "half the limit in two reaped children": (burn_in_children(LIMIT / 2, 2), "passed"),
    "spins": ("    while True:\n        pass\n", "timed out"),
    "sleeps": ("    import time\n    time.sleep(3600)\n", "timed out"),
    "spins in a thread and a child": ("    import os, threading\n    threading.Thread(target=lambda: [0 for _ in iter(int, 1)]).start()\n"
                                      "    os.fork()\n    while True:\n        pass\n", "timed out"),
}


def statuses(workers: int) -> dict[str, str]:
    with Executor(workers=workers, timeout=LIMIT) as executor:
        futures = {name: executor.submit(ONE, completion) for name, (completion, _) in SAMPLES.items()}
        return {name: future.result(timeout=300).status for name, future in futures.items()}


@needs_schedstat
def test_verdicts_are_the_same_idle_and_under_three_busy_processes_per_core():
    cores = os.cpu_count() or 1
    idle = statuses(cores)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3 * cores)]
    try:
        time.sleep(0.2)
        loaded = statuses(cores)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    expected = {name: status for name, (_, status) in SAMPLES.items()}
    assert idle == expected
    assert loaded == expected


def test_sleeping_is_stopped_by_the_waiting_bound_within_seconds():
    with Executor(workers=1, timeout=LIMIT) as executor:
        start = time.monotonic()
        verdict = executor.submit(ONE, "    import time\n    time.sleep(3600)\n").result(timeout=60)
    assert verdict.status == "timed out" and time.monotonic() - start < 10
    if accounting() != "wall":
        assert verdict.detail.startswith("waiting limit")


@pytest.mark.skipif(accounting() == "wall", reason="no /proc here: wall-clock limits")
def test_cpu_of_children_counts_even_when_they_exit_quickly():
    """A sample cannot hide CPU time in children: reaped ones count through the parent's rusage,
    auto-reaped ones (SIGCHLD ignored) through what they were last seen using or, when too quick
    to be seen, as time the tree looked idle (waiting)."""
    many = burn_in_children(1.6 * LIMIT, 8)
    hidden = hide_in_autoreaped_children(1.6 * LIMIT, 32)
    with Executor(workers=2, timeout=LIMIT) as executor:
        reaped, autoreaped = executor.run([(ONE, many), (ONE, hidden)])
    assert reaped.status == "timed out" and reaped.detail.startswith("CPU time limit"), reaped
    assert autoreaped.status == "timed out", autoreaped


@pytest.mark.parametrize("mode", ["schedstat", "stat"])
def test_the_meter_counts_cpu_and_waiting_with_and_without_schedstat(mode):
    """A trusted child spins 0.4 s of CPU, then sleeps 0.6 s; the meter reads its parent's tree."""
    from pycodex.execution.limits import Meter

    if accounting() == "wall" or (mode == "schedstat" and accounting() != "schedstat"):
        pytest.skip(f"no {mode} here")
    program = ("import os, time\nif os.fork() == 0:\n    start = time.process_time()\n"
               "    while time.process_time() - start < 0.4:\n        pass\n    time.sleep(0.6)\n    os._exit(0)\nos.wait()\n")
    parent = subprocess.Popen([sys.executable, "-c", program])
    meter = Meter(parent.pid, 10.0, 10.0, mode=mode)
    meter.start(time.monotonic())
    while parent.poll() is None:
        time.sleep(0.02)
        meter.read(time.monotonic())
    assert 0.35 <= meter.cpu <= 0.6, meter.cpu
    assert 0.4 <= meter.waiting <= 0.9, meter.waiting
    assert meter.exceeded() is None


def test_without_proc_the_limit_is_the_wall_clock():
    from pycodex.execution.limits import Meter

    meter = Meter(os.getpid(), 1.0, 1.0, mode="wall")
    meter.start(100.0)
    meter.read(100.9)
    assert meter.exceeded() is None
    meter.read(101.1)
    assert meter.exceeded().startswith("wall-clock limit")


def test_slow_samples_do_not_block_fast_ones():
    """One worker, three samples spinning first and fast ones after them: once a spinning sample
    has used half its limit (watch.SLOW_CPU, at most 1 s), more work starts beside it (its limit
    is CPU time, so sharing the CPU changes no verdict); the fast samples are all judged while the
    last spinning one still runs, not after every spinning one in turn."""
    done: list[str] = []
    items = [(ONE, "    while True:\n        pass\n")] * 3 + [(ONE, "    return 1\n")] * 8
    with Executor(workers=1, timeout=LIMIT) as executor:
        verdicts = executor.run(items, on_result=lambda i, v: done.append("spin" if i < 3 else "fast"))
        threads = len(executor.slots)
    assert [v.status for v in verdicts] == ["timed out"] * 3 + ["passed"] * 8
    assert done[-1] == "spin" and done.count("fast") == 8
    assert 1 < threads <= 1 + 3
