"""Where a worker's processes run (execution/cpus.py): fast samples on their worker's CPU, one
worker per CPU in turn; a slow sample let loose on every CPU. Verdicts never depend on it."""

import os
import signal
import subprocess
import sys
import time

import pytest

from pycodex.execution import Executor, cpus
from pycodex.problems.problem import Problem

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this system")

CPUS = cpus.allowed()

AFFINITY = Problem(
    task_id="test/affinity", prompt="def f():\n", entry_point="f", canonical_solution="",
    test="def check(candidate):\n    assert candidate() == 1\n",
)


def test_places_spread_fast_threads_over_the_cpus_and_keep_a_thread_where_it_was():
    places = cpus.Places([0, 1, 2])
    assert [places.take(None) for _ in range(3)] == [0, 1, 2]
    assert places.take(None) == 0  # a fourth: the first of the least used
    places.give_back(1)
    assert places.take(0) == 1  # thread on 0 takes a place again: 1 has fewest now
    places.give_back(2)
    places.give_back(1)
    assert places.take(2) == 2  # a tie with its own CPU: it stays
    assert cpus.Places([]).take(None) is None  # no affinity: nothing is pinned


def test_tasks_below_finds_every_thread_of_a_process_tree_and_not_its_root():
    code = ("import os, threading, time\n"
            "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
            "if os.fork() == 0:\n    time.sleep(30)\n"
            "print('ready', flush=True)\ntime.sleep(30)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "ready\n"
        own = {int(t) for t in os.listdir(f"/proc/{parent.pid}/task")}
        below = set(cpus.tasks_below(os.getpid()))
        assert own <= below and len(below) >= len(own) + 1  # its two threads and its child
        assert os.getpid() not in below
        assert not set(cpus.tasks_below(parent.pid)) & own
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()


def _affinity_sample(spin: float) -> str:
    return (f"    import os, time\n    end = time.process_time() + {spin}\n"
            "    while time.process_time() < end:\n        pass\n"
            "    print(sorted(os.sched_getaffinity(0)), flush=True)\n    return 1\n")


@pytest.mark.skipif(len(CPUS) < 2, reason="needs two CPUs")
@pytest.mark.parametrize("judge", ["strict", "classic"])
def test_fast_samples_run_on_their_workers_cpu_one_worker_per_cpu(judge):
    with Executor(workers=2, judge=judge) as executor:
        verdicts = executor.run([(AFFINITY, _affinity_sample(0.0))] * 20)
    assert all(v.passed for v in verdicts), verdicts[0]
    seen = {v.output.strip() for v in verdicts}
    assert seen <= {f"[{cpu}]" for cpu in CPUS}
    assert len(seen) == 2  # two workers, two CPUs


@pytest.mark.skipif(len(CPUS) < 2, reason="needs two CPUs")
def test_a_slow_sample_is_let_loose_on_every_cpu_and_the_next_one_is_pinned_again():
    with Executor(workers=1) as executor:
        start = time.monotonic()
        slow, fast = executor.run([(AFFINITY, _affinity_sample(1.3)), (AFFINITY, _affinity_sample(0.0))])
    assert slow.passed and fast.passed, (slow, fast)
    assert slow.output.strip() == str(CPUS)  # past watch.SLOW_CPU it may run anywhere
    assert fast.output.strip() in {f"[{cpu}]" for cpu in CPUS}
    assert time.monotonic() - start < 30
