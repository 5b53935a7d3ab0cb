"""EvalPlus data: expected outputs shipped beside each release (sha256-checked), each input's CPU
time measured on this machine in the sandbox once per task (cached in the data dir), and nothing of
either on commands that only show problems."""

from __future__ import annotations

import json
import lzma
import shutil
from dataclasses import replace

import pytest
from conftest import run_cli

from pycodex.errors import UserError


def _timing_cache(data_dir):
    return sorted((data_dir / "evalplus").glob("*.cpu.json")) if (data_dir / "evalplus").exists() else []


def test_list_and_show_compute_nothing(tmp_path):
    env = {"PYCODEX_DATA_DIR": str(tmp_path / "data")}
    listed = run_cli("problems", "list", "--problem-set", "mbpp-plus", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 399 and {"task_id": "Mbpp/2", "asserts": 3, "extra_inputs": 108} == {k: rows[0][k] for k in ("task_id", "asserts", "extra_inputs")}
    shown = run_cli("problems", "show", "Mbpp/2", "--problem-set", "mbpp-plus", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    test = json.loads(shown.stdout)["test"]
    assert "# 3 base inputs:\nsimilar_elements((3, 4, 5, 6), (5, 7, 4, 10))\n" in test and "108 plus inputs" in test
    assert _timing_cache(tmp_path / "data") == []  # nothing was timed
    assert "timing" not in listed.stderr + shown.stderr


def test_the_cli_shows_the_timing_once(tmp_path):
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "Mbpp/3", "solution": "def is_not_prime(n):\n    return n > 1 and any(n % d == 0 for d in range(2, n))\n"}) + "\n")
    env = {"PYCODEX_DATA_DIR": str(tmp_path / "data")}
    first = run_cli("evaluate", str(samples), "--problem-set", "mbpp-plus", "--k", "1", env=env)
    again = run_cli("evaluate", str(samples), "--problem-set", "mbpp-plus", "--k", "1", env=env)
    assert first.returncode == again.returncode == 0, first.stderr[-2000:]
    assert "timing mbpp-plus on this machine (once)" in first.stderr and "timing" not in again.stderr
    assert len(_timing_cache(tmp_path / "data")) == 1


def test_cpu_times_measured_in_the_sandbox_once_and_cached(tmp_path, monkeypatch):
    from pycodex.problems import cpu_times
    from pycodex.problems.sets import load_named, prepare

    mbpp = load_named("mbpp-plus")
    first = [mbpp.get("Mbpp/2"), mbpp.get("Mbpp/793")]  # (/793 has no plus inputs: its plus_input is {})
    prepare(first)
    (cache,) = _timing_cache(tmp_path / "data")
    assert set(json.loads(cache.read_text())["tasks"]) == {"Mbpp/2", "Mbpp/793"}
    assert first[0].cpu_limits[0] >= 3 * 1.0 + 1 and "_BASE = " in first[0].base_test  # three base inputs, >= 1 s each, + 1

    def no_sandbox(*args, **kwargs):
        raise AssertionError("measured again")

    monkeypatch.setattr(cpu_times, "_run", no_sandbox)
    again = load_named("mbpp-plus")
    assert again.get("Mbpp/793").test == first[1].test and "_PLUS = ([], [], [])" in first[1].plus_test  # from the cache
    plain = replace(again.get("Mbpp/2"), prompt="")  # (evalplus's "solution" format)
    assert type(plain).__name__ == "Problem" and plain.test == first[0].test and plain.cpu_limits == first[0].cpu_limits


def test_the_canonical_solution_is_timed_as_a_sample_not_in_this_process(tmp_path):
    from pycodex.problems import cpu_times

    canary = tmp_path / "canary"
    row = {"task_id": "X/1", "prompt": "", "entry_point": "f", "base_input": [[1]], "plus_input": [[2], [3]],
           "canonical_solution": (f"import os, time\ndef f(x):\n    open({str(canary)!r}, 'w').close() if os.path.isdir({str(tmp_path)!r}) else None\n"
                                  "    end = time.process_time() + (0.3 if x == 3 else 0)\n    while time.process_time() < end:\n        pass\n")}
    slow = cpu_times._run("test", [row], workers=1)["X/1"]
    assert not canary.exists()  # the sandbox's own root: the host's files are out of reach
    assert [index for index, _ in slow] == [2] and 0.3 <= slow[0][1] < 5
    assert cpu_times.seconds(slow, 1, 2) == ([0.0], [0.0, slow[0][1]])


def test_a_timing_answer_must_be_complete():
    from pycodex.problems.cpu_times import parse

    assert parse("T", "#pycodex-cpu 1 0.500000\nnoise\n#pycodex-cpu end 3\n", 3) == [[1, 0.5]]
    for output in ("#pycodex-cpu 1 0.500000\n", "#pycodex-cpu end 2\n", ""):  # cut short, or a count that differs
        with pytest.raises(UserError, match="no complete answer"):
            parse("T", output, 3)


def test_shipped_outputs_are_checked(tmp_path, monkeypatch):
    from pycodex import locations
    from pycodex.problems import expected
    from pycodex.problems.evalplus import RELEASES

    release = RELEASES["humaneval-plus-mini"]
    source = locations.bundled_problems_dir()
    data = lzma.decompress((source / release.outputs_file).read_bytes())
    table = expected.read(release)
    assert len(table) == 164 and len(table["HumanEval/0"]) == 4
    (tmp_path / release.outputs_file).write_bytes(lzma.compress(data[:-1] + bytes([data[-1] ^ 1])))
    shutil.copy(source / release.file, tmp_path)
    monkeypatch.setattr(locations, "bundled_problems_dir", lambda: tmp_path)
    with pytest.raises(UserError, match=f"sha256 .* not {release.outputs_sha256}: reinstall"):
        expected.read(release)


def test_shipped_outputs_are_decoded_task_by_task_and_checked_frame_by_frame(tmp_path):
    """read() finds every task's frame at once and decodes one when it is read; a frame
    whose head or body is not a task's is refused with one line."""
    from pycodex.problems import expected
    from pycodex.problems.evalplus import RELEASES

    release = RELEASES["humaneval-plus-mini"]
    table = expected.read(release)
    assert not table.decoded and list(table)[:2] == ["HumanEval/0", "HumanEval/1"]
    assert len(table["HumanEval/3"][2]) == len(table["HumanEval/3"][2]) > 0 and table.decoded == {"HumanEval/3"}
    good = expected.frame("T/1", ([1], [], [2], []))
    cut = expected.frame("T/2", ([1], [], [2], []))
    cut = (len(cut) - 6).to_bytes(4, "big") + cut[4:-2]  # a task's head, its values cut short
    shapeless = expected.frame("T/3", ([1], [], [2]))  # values, not the four lists of a task
    outputs = expected.Outputs(good + cut + shapeless, tmp_path)
    assert outputs["T/1"] == ([1], [], [2], []) and list(outputs) == ["T/1", "T/2", "T/3"]
    for task_id in ("T/2", "T/3"):
        with pytest.raises(UserError, match=f"malformed .{task_id}"):
            outputs[task_id]
    for head in (b"\x00\x00\x00\x05\x00\x09T/1", good[:-1]):  # a task id past its frame, a frame past the data
        with pytest.raises(UserError, match="malformed .frame at byte 0"):
            expected.Outputs(head, tmp_path)
