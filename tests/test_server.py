"""Generation on a real inference server: llama-cpp-python's own `llama_cpp.server` with the
default model, started on loopback by the test; pycodex drives it with `--server URL`.

That server answers one choice whatever `n` is (it drops the field), so pycodex sends one
request per sample with a seed of its own; it returns log-probs (`token_logprobs`) only when
started with `--logits_all True`, and spends about half a second per token on them (it sorts the
262k-token vocabulary in Python), so the runs here are short.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from pycodex.generation.base import STOP_SEQUENCES, SampleFinished, SamplingParams, TextDelta
from pycodex.generation.server.backend import ServerBackend
from pycodex.store.database import Store
from servers import LlamaCppServer

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LlamaCppServer(log=tmp_path_factory.mktemp("server") / "server.log") as srv:
        yield srv


def test_a_run_stores_every_sample_with_a_verdict_and_a_log_prob(cli, server, tmp_path):
    db = tmp_path / "runs.db"
    result = cli("eval", "--server", server.url, "-p", "0,2", "-n", "4", "--max-tokens", "8", "--seed", "5", "-t", "0.8", "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "finished" and out["totals"]["generated"] == 8 and out["totals"]["executed"] == 8
    with Store(db) as store:
        record = store.get_run(out["run_id"])
        samples = store.samples(out["run_id"])
    assert len(samples) == 8 and {(s.task_id, s.index) for s in samples} == {(f"HumanEval/{t}", i) for t in (0, 2) for i in range(4)}
    for s in samples:
        assert s.judged and s.status in ("passed", "failed", "error", "timeout") or s.status, s
        assert 0 < s.tokens <= 8
        assert s.mean_logprob < 0 and s.sum_logprob == pytest.approx(s.mean_logprob * s.tokens)
        assert s.finish_reason in ("stop", "length")
    assert len({s.completion for s in samples}) > 1  # distinct seeds, distinct samples
    # this server ends a streamed answer when another request waits: pycodex asks it for whole answers
    assert "ends streamed answers early" in result.stderr
    info = record.backend_info
    assert record.backend == "server" and record.model.endswith(".gguf")
    assert info["logprobs"] is True and info["one_request_per_sample"] is True
    assert {k: info["request"][k] for k in ("n", "top_k", "min_p", "repeat_penalty", "logprobs")} == {
        "n": 1, "top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0, "logprobs": 1,
    }  # fmt: skip
    assert info["endpoints"][0]["url"] == server.url
    assert record.config["params"]["stop"] == list(STOP_SEQUENCES) and record.config["params"]["top_p"] == 0.95


def test_tokens_stream_as_deltas_before_the_sample_ends_with_the_same_sample_and_log_probs(server):
    """One request at a time (llama_cpp.server ends a stream early when another waits): the tokens
    come as deltas while the request is still in flight; the sample and its log-probs are those of
    the same request asked whole, with the same seed."""
    import httpx

    backend = ServerBackend([server.url], slots=1)
    params = SamplingParams(n=1, temperature=0.8, max_tokens=8, seed=21, stop=())
    from pycodex.problems.problem import load

    prompt = load().get("HumanEval/0").prompt
    try:
        events, in_flight = [], []
        for event in backend.generate(prompt, params):
            events.append(event)
            in_flight.append(backend.endpoints[0].busy)
        body = backend.request_body(backend.endpoints[0], prompt, params, None)
    finally:
        backend.close()
    deltas = [i for i, e in enumerate(events) if isinstance(e, TextDelta)]
    (done,) = [e for e in events if isinstance(e, SampleFinished)]
    assert len(deltas) >= 3 and any(in_flight[i] for i in deltas)  # tokens seen while the request was open
    assert "".join(events[i].text for i in deltas) == done.completion and done.tokens == 8
    from pycodex.generation.server.http import sample_seed, token_logprobs

    whole = httpx.post(server.url + "/completions", json={**body, "stream": False, "seed": sample_seed(21, 0)}, timeout=120).json()
    values = token_logprobs(whole["choices"][0]["logprobs"])
    assert whole["choices"][0]["text"] == done.completion
    assert values is not None and done.sum_logprob == pytest.approx(sum(values), abs=1e-3)


def test_models_lists_what_the_server_serves(cli, server):
    listed = cli("models", "--server", server.url, "--json")
    assert listed.returncode == 0, listed.stderr
    (entry,) = json.loads(listed.stdout)
    assert entry["server"] == server.url and [m["id"] for m in entry["models"]][0].endswith(".gguf")
    wrong = cli("eval", "--server", server.url, "--server-model", "gpt-9", "-p", "0", "--max-tokens", "4")
    assert wrong.returncode == 2 and "does not serve model 'gpt-9' (it serves:" in wrong.stderr


def _stored(db) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT task_id, idx, completion, seed, session, created_at FROM samples ORDER BY task_id, idx").fetchall()


def _wait_for_samples(db, count: int, proc, deadline: float = 240) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {count} samples: {proc.communicate()[1]}")
        try:
            if len(_stored(db)) >= count:
                return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} samples stored in {deadline}s")


def _eval(db, url, *extra):
    from conftest import pycodex_exe

    args = [*pycodex_exe(), "eval", "--server", url, "-p", "0,2", "-n", "4", "--max-tokens", "8", "--seed", "9", "--db", str(db), *extra]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_server_killed_and_restarted_mid_run_the_run_finishes(tmp_path):
    """SIGKILL the server with requests in flight, start it again on the same port: the client's
    retries carry the run to the end; every sample is stored once, those stored before the kill unchanged."""
    db = tmp_path / "runs.db"
    srv = LlamaCppServer(logits_all=False, log=tmp_path / "server.log").start()
    try:
        proc = _eval(db, srv.url, "--server-retries", "30")
        _wait_for_samples(db, 2, proc)
        srv.kill()
        before = _stored(db)
        time.sleep(1.0)
        srv.start()
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "dropped" in err and "rejoins" in err
    finally:
        srv.stop()
    after = _stored(db)
    assert len(after) == 8 and len({(t, i) for t, i, *_ in after}) == 8
    assert set(before) <= set(after) and {row[4] for row in after} == {1}
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 8


def test_server_frozen_mid_answer_is_noticed_and_the_run_finishes_when_it_resumes(server, tmp_path):
    """SIGSTOP the server while it streams a sample (one slot, so it streams), SIGCONT it later: the
    silence is a stall within the bound (--server-timeout 4), the sample is asked again once the
    server answers; every sample is stored once."""
    db = tmp_path / "runs.db"
    proc = _eval(db, server.url, "--server-slots", "1", "--server-timeout", "4", "--server-retries", "30", "-p", "0", "-n", "3")
    try:
        _wait_for_samples(db, 1, proc)
        time.sleep(1.0)  # into the next sample's tokens
        os.kill(server.proc.pid, signal.SIGSTOP)
        time.sleep(12)  # past the stall bound and a failed probe or two
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "stalled: no" in err and "rejoins" in err
    after = _stored(db)
    assert len(after) == 3 and len({(t, i) for t, i, *_ in after}) == 3


def test_server_gone_for_good_then_resume_finishes_the_run(cli, tmp_path):
    """The server dies and stays dead: after the retries the run stops with one clear line naming
    the resume; with the server back, --resume generates only the missing samples."""
    db = tmp_path / "runs.db"
    srv = LlamaCppServer(logits_all=False, log=tmp_path / "server.log").start()
    try:
        proc = _eval(db, srv.url, "--server-retries", "2")
        _wait_for_samples(db, 2, proc)
        srv.kill()
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1
        (line,) = [x for x in err.splitlines() if x.startswith("error:")]
        assert "connection refused" in line and "pycodex eval --resume" in line
        run_id = line.rsplit(" ", 1)[-1]
        before = _stored(db)
        assert 2 <= len(before) < 8
        srv.start()
        resumed = cli("eval", "--resume", run_id, "--server", srv.url, "--db", str(db), "--json")
        assert resumed.returncode == 0, resumed.stderr
    finally:
        srv.stop()
    after = _stored(db)
    assert len(after) == 8 and set(before) <= set(after)
    assert sorted(row[4] for row in after) == [1] * len(before) + [2] * (8 - len(before))
    assert json.loads(resumed.stdout)["totals"]["generated_this_session"] == 8 - len(before)


def test_chat_stores_the_reply_beside_the_body_taken_from_it(cli, tmp_path):
    """--chat against the real server's /v1/chat/completions (the GGUF's own chat template): the
    raw reply is stored, and the completion is the function body extracted from it."""
    db = tmp_path / "runs.db"
    with LlamaCppServer(logits_all=False, log=tmp_path / "server.log") as srv:
        result = cli("eval", "--server", srv.url, "--chat", "-p", "2", "-n", "1", "--max-tokens", "96", "--seed", "3", "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "gives no log-probs" in result.stderr  # this server was started without --logits_all
    run_id = json.loads(result.stdout)["run_id"]
    with Store(db) as store:
        (sample,) = store.samples(run_id)
        info = store.get_run(run_id).backend_info
    assert info["api"] == "chat" and info["logprobs"] is False
    assert sample.judged and sample.reply and "truncate_number" in sample.reply
    assert "```" not in sample.completion and sample.completion.startswith("    ")
    assert sample.completion.strip() and sample.completion.strip().splitlines()[-1].strip() in sample.reply
