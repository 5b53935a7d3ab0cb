"""The server backend's client against a fake HTTP server on loopback: what is sent, how many
requests are in flight, retries on 500 and hangs, dead endpoints dropped and rejoining, and the
one-line errors. (The real server is in test_server.py.)"""

from __future__ import annotations

import json
import socket
import time

import pytest

from pycodex.errors import UserError
from pycodex.generation.base import STOP_SEQUENCES, SampleFinished, SamplingParams
from pycodex.generation.server.backend import ServerBackend, ServerError, normalize_url, sample_seed
from servers import FakeServer, free_port

PROMPT = 'def one():\n    """Return 1."""\n'


def finished(backend, n=4, seed=11, **params):
    out = [e for e in backend.generate(PROMPT, SamplingParams(n=n, seed=seed, max_tokens=16, **params)) if isinstance(e, SampleFinished)]
    return sorted(out, key=lambda e: e.index)


def test_request_states_the_papers_sampling_and_one_seed_per_sample():
    with FakeServer() as fake:
        backend = ServerBackend([fake.url])
        try:
            samples = finished(backend, n=4, seed=11, temperature=0.8)
        finally:
            backend.close()
        assert [s.index for s in samples] == [0, 1, 2, 3]
        assert all(s.completion == "    return 1\n" and s.tokens == 2 and s.sum_logprob == -0.75 for s in samples)
        assert all(s.mean_logprob == pytest.approx(-0.375) for s in samples)
        bodies = fake.requests
        assert len(bodies) == 4
        for body in bodies:
            assert body["prompt"] == PROMPT
            assert body["stop"] == list(STOP_SEQUENCES)
            assert (body["temperature"], body["top_p"], body["max_tokens"], body["n"]) == (0.8, 0.95, 16, 1)
            assert (body["top_k"], body["min_p"], body["repeat_penalty"], body["repetition_penalty"]) == (0, 0.0, 1.0, 1.0)
            assert body["logprobs"] == 1 and body["model"] == "fake-model" and body["stream"] is False
        assert sorted(b["seed"] for b in bodies) == sorted(sample_seed(11, j) for j in range(4))
        assert len({b["seed"] for b in bodies}) == 4


def test_requests_in_flight_are_the_slots():
    with FakeServer(delay=0.3) as fake:
        backend = ServerBackend([fake.url], slots=3)
        try:
            assert len(finished(backend, n=9)) == 9
        finally:
            backend.close()
        assert fake.max_in_flight == 3


def test_two_endpoints_share_the_work():
    with FakeServer(delay=0.2) as a, FakeServer(delay=0.2) as b:
        backend = ServerBackend([a.url, b.url], slots=2)
        try:
            assert len(finished(backend, n=8)) == 8
        finally:
            backend.close()
        assert a.completions == 4 and b.completions == 4
        assert a.max_in_flight == 2 and b.max_in_flight == 2


def test_500_is_retried_then_the_run_goes_on():
    with FakeServer("500", fail_first=2) as fake:
        backend = ServerBackend([fake.url], slots=1, backoff_start=0.05)
        try:
            samples = finished(backend, n=2)
        finally:
            backend.close()
        assert [s.completion for s in samples] == ["    return 1\n"] * 2
        assert fake.completions == 4  # two failures, then both samples


def test_500_every_time_gives_up_after_the_retries_with_the_servers_message():
    with FakeServer("500") as fake:
        backend = ServerBackend([fake.url], retries=2, backoff_start=0.05)
        try:
            with pytest.raises(ServerError) as info:
                finished(backend, n=1)
        finally:
            backend.close()
        message = str(info.value)
        assert "HTTP 500: CUDA error: out of memory" in message and fake.url in message and "3 failures in a row" in message
        assert "\n" not in message
        assert fake.completions == 3  # the first try and two retries


def test_a_hanging_server_times_out_is_retried_then_a_clear_error():
    with FakeServer("hang") as fake:
        backend = ServerBackend([fake.url], timeout=0.5, retries=1, backoff_start=0.05)
        started = time.monotonic()
        try:
            with pytest.raises(ServerError, match=r"no answer within 0\.5s \(2 failures in a row\)"):
                finished(backend, n=1)
        finally:
            backend.close()
        assert fake.completions == 2
        assert time.monotonic() - started < 10


def test_a_dead_endpoint_is_dropped_and_rejoins_when_it_answers():
    port = free_port()
    dead_url = f"http://127.0.0.1:{port}/v1"
    with FakeServer(delay=0.05) as alive:
        backend = ServerBackend([alive.url, dead_url], slots=1, backoff_start=0.05)
        try:
            assert any("not reachable (connection refused)" in w for w in backend.warnings)
            assert len(finished(backend, n=6)) == 6  # all on the live one
            assert alive.completions == 6
            with FakeServer(delay=0.05, port=port) as late:
                time.sleep(0.3)  # its backoff (0.05 s doubling) is over: the next queued sample probes it
                assert len(finished(backend, n=12, seed=12)) == 12
                assert late.completions >= 2
            assert alive.completions + late.completions == 18
        finally:
            backend.close()


def test_start_up_errors_are_one_line():
    port = free_port()
    with pytest.raises(UserError, match=rf"^cannot reach the server at http://127.0.0.1:{port}/v1: connection refused$"):
        ServerBackend([f"http://127.0.0.1:{port}/v1"])
    with FakeServer(no_completions=True) as fake:
        with pytest.raises(UserError, match=r"has no /completions endpoint \(HTTP 404: Not Found\) \(a chat-only server\? try --chat\)"):
            ServerBackend([fake.url])
    with FakeServer(no_models=True) as fake:
        with pytest.raises(UserError, match=r"is not an OpenAI-compatible server"):
            ServerBackend([fake.url])
    for bad in ("localhost:8080", "ftp://x/v1", "http://", "http://h:notaport/v1"):
        with pytest.raises(UserError, match="bad --server"):
            normalize_url(bad)
    assert normalize_url("http://h:8080") == "http://h:8080/v1"
    assert normalize_url("http://h:8080/v1/completions/") == "http://h:8080/v1"


def test_cli_errors_are_one_line(cli, tmp_path):
    db = str(tmp_path / "runs.db")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = cli("eval", "--server", f"http://127.0.0.1:{port}/v1", "-p", "0", "--db", db)
    assert refused.returncode == 2
    assert refused.stderr.strip() == f"error: cannot reach the server at http://127.0.0.1:{port}/v1: connection refused"
    wrong = cli("eval", "--server", "127.0.0.1:8080", "-p", "0", "--db", db)
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1 and "bad --server" in wrong.stderr
    both = cli("eval", "--server", "http://127.0.0.1:1/v1", "--model", "x.gguf", "-p", "0", "--db", db)
    assert both.returncode == 2 and "--server-model" in both.stderr
    with FakeServer("500") as fake:
        failed = cli("eval", "--server", fake.url, "-p", "0", "--server-retries", "1", "--db", db, "--json")
    assert failed.returncode == 1
    lines = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, failed.stderr
    assert "HTTP 500: CUDA error: out of memory" in lines[0] and "pycodex eval --resume" in lines[0]
    runs = json.loads(cli("runs", "list", "--json", "--db", db).stdout)
    assert [r["status"] for r in runs] == ["failed"]


def test_resume_on_other_endpoints_but_not_another_model(cli, tmp_path):
    db = str(tmp_path / "runs.db")
    with FakeServer("500") as failing:
        first = cli("eval", "--server", failing.url, "-p", "0,1", "-n", "2", "--server-retries", "0", "--db", db, "--json")
    assert first.returncode == 1
    run_id = first.stderr.strip().rsplit(" ", 1)[-1]
    with FakeServer(model="another-model") as other:
        refused = cli("eval", "--resume", run_id, "--server", other.url, "--db", db)
        assert refused.returncode == 2 and "resuming would mix two models" in refused.stderr
        assert other.completions == 0
    with FakeServer() as elsewhere:
        resumed = cli("eval", "--resume", run_id, "--server", elsewhere.url, "--db", db, "--json")
        assert resumed.returncode == 0, resumed.stderr
        assert elsewhere.completions == 4
    assert json.loads(resumed.stdout)["totals"]["generated"] == 4


def test_solve_on_a_server(cli):
    with FakeServer() as fake:
        result = cli("solve", "--server", fake.url, "Return 1.\n>>> one()\n1", "--n", "3", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["best"]["completion"] == "    return 1\n" and out["best"]["examples_passed"] == 1
    assert out["backend"]["kind"] == "server" and fake.completions == 3


def test_429_waits_as_long_as_the_server_asks():
    with FakeServer("429", fail_first=1) as fake:
        backend = ServerBackend([fake.url], slots=1, backoff_start=0.01)
        started = time.monotonic()
        try:
            assert len(finished(backend, n=2)) == 2
        finally:
            backend.close()
        assert time.monotonic() - started >= 0.25  # Retry-After 0.3 (less 10% jitter), not the 0.01 s backoff
        assert fake.completions == 3
