"""The server backend's client against a fake HTTP server on loopback: what is sent, streamed
answers and whole ones, how many requests are in flight, retries on 500, stalls (a frozen server,
a stream that stops) told apart from queued requests, dead endpoints dropped and rejoining, and the
one-line errors. (The real server is in test_server.py.)"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from pycodex.errors import UserError
from pycodex.generation import server as server_pkg
from pycodex.generation.base import STOP_SEQUENCES, SampleFinished, SamplingParams, TextDelta
from pycodex.generation.server.backend import ServerBackend, ServerError, normalize_url, sample_seed
from servers import FakeServer, free_port

PROMPT = 'def one():\n    """Return 1."""\n'


def finished(backend, n=4, seed=11, **params):
    out = [e for e in backend.generate(PROMPT, SamplingParams(n=n, seed=seed, max_tokens=16, **params)) if isinstance(e, SampleFinished)]
    return sorted(out, key=lambda e: e.index)


def shown(events) -> dict[int, str]:
    """What a live view shows of each sample once the deltas are in: the text after its last restart."""
    text: dict[int, str] = {}
    for e in events:
        if isinstance(e, TextDelta):
            text[e.index] = ("" if e.restart else text.get(e.index, "")) + e.text
    return text


def check_each_once(events, n: int) -> None:
    """Every sample finished exactly once, after its deltas, which add up to its completion."""
    done = [e for e in events if isinstance(e, SampleFinished)]
    assert sorted(e.index for e in done) == list(range(n))
    text = shown(events)
    for e in done:
        assert e.completion == "    return 1\n" and text[e.index] == e.completion and e.sum_logprob == -0.75
        last_delta = max(i for i, x in enumerate(events) if isinstance(x, TextDelta) and x.index == e.index)
        assert last_delta < events.index(e)


def test_request_states_the_papers_sampling_and_one_seed_per_sample():
    with FakeServer() as fake:
        backend = ServerBackend([fake.url], slots=2)
        try:
            events = list(backend.generate(PROMPT, SamplingParams(n=4, seed=11, max_tokens=16, temperature=0.8)))
        finally:
            backend.close()
        check_each_once(events, 4)
        assert backend.stream and backend.describe()["stream"] is True
        # streamed: a delta per token, except a tail that may begin a stop ("\n" of "\nclass"), held to the end
        assert [e.text for e in events if isinstance(e, TextDelta) and e.index == 0] == ["    return", " 1", "\n"]
        samples = sorted((e for e in events if isinstance(e, SampleFinished)), key=lambda e: e.index)
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
            assert body["logprobs"] == 1 and body["model"] == "fake-model"
            assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
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


def test_a_server_that_cannot_stream_answers_whole():
    with FakeServer(stream=False) as fake:
        backend = ServerBackend([fake.url], slots=2)
        try:
            events = list(backend.generate(PROMPT, SamplingParams(n=3, seed=1, max_tokens=16)))
        finally:
            backend.close()
    check_each_once(events, 3)
    assert all(body["stream"] is True for body in fake.requests)  # asked, answered whole: one delta per sample
    assert len([e for e in events if isinstance(e, TextDelta)]) == 3


def test_a_server_frozen_before_answering_is_noticed_and_its_sample_goes_to_the_other_endpoint(caplog):
    """A server that accepts and never answers (frozen after start-up): no byte, and no answer to the
    health probe, within the stall bound; the sample is retried on the other endpoint."""
    with FakeServer() as frozen, FakeServer(delay=0.1) as alive:
        backend = ServerBackend([frozen.url, alive.url], slots=1, timeout=0.5, backoff_start=5.0)
        frozen.freeze()
        started = time.monotonic()
        try:
            events = list(backend.generate(PROMPT, SamplingParams(n=3, seed=2, max_tokens=16)))
        finally:
            backend.close()
        elapsed = time.monotonic() - started
    check_each_once(events, 3)
    assert alive.completions == 3
    assert "stalled: no answer for 0.5s, and none to a health probe" in caplog.text
    assert elapsed < 60  # the stall bound (2 x 0.5 s) plus the work, not the old 600 s wait


def test_a_server_frozen_mid_answer_is_noticed_and_the_run_finishes_when_it_thaws(caplog):
    """Frozen while a sample streams (as SIGSTOP does): no token for the stall bound, the sample
    starts again (a restart delta voids its shown text), the endpoint is down until it answers."""
    with FakeServer(token_delay=0.2) as fake:
        backend = ServerBackend([fake.url], slots=2, timeout=0.5, backoff_start=0.1, retries=20)
        thaw = threading.Timer(2.0, fake.thaw)
        events = []
        try:
            for event in backend.generate(PROMPT, SamplingParams(n=4, seed=3, max_tokens=16)):
                events.append(event)
                if isinstance(event, TextDelta) and not thaw.is_alive() and not thaw.finished.is_set():
                    fake.freeze()
                    thaw.start()
        finally:
            thaw.cancel()
            backend.close()
    check_each_once(events, 4)
    assert any(isinstance(e, TextDelta) and e.restart for e in events)
    assert "stalled: no token for 0.5s" in caplog.text and "rejoins" in caplog.text


def test_a_stream_that_stops_on_a_live_server_is_a_stall_and_is_retried(caplog):
    with FakeServer(stall_first=1) as fake:
        backend = ServerBackend([fake.url], slots=1, timeout=0.5, backoff_start=0.05)
        try:
            events = list(backend.generate(PROMPT, SamplingParams(n=2, seed=4, max_tokens=16)))
        finally:
            backend.close()
    check_each_once(events, 2)
    assert fake.completions == 3 and "stalled: no token for 0.5s" in caplog.text
    restarted = [i for i, e in enumerate(events) if isinstance(e, TextDelta) and e.restart]
    assert len(restarted) == 1 and events[restarted[0] - 1] == TextDelta(events[restarted[0]].index, "    return")


def test_a_queued_request_is_not_a_stall(monkeypatch):
    """No answer yet, but the server answers its health probes: the request is queued and waits
    (here up to a queue limit of 1.5 s instead of 600 s), then is retried, then a clear error."""
    monkeypatch.setattr(server_pkg.stream, "QUEUE_LIMIT", 1.5)
    with FakeServer("hang") as fake:
        backend = ServerBackend([fake.url], timeout=0.3, retries=1, backoff_start=0.05)
        try:
            with pytest.raises(ServerError, match=r"no answer within 1\.5s \(2 failures in a row\)"):
                finished(backend, n=1)
        finally:
            backend.close()
        assert fake.completions == 2 and fake.health_checks >= 2


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


def test_solve_live_view_shows_a_restarted_sample_from_its_new_start():
    from rich.console import Console

    from pycodex.repl.live import LiveView

    view = LiveView(2, Console(), enabled=False)
    for event in (TextDelta(0, "    x = "), TextDelta(1, "    return"), TextDelta(0, "", restart=True), TextDelta(0, "    return 1")):
        view.on_event(event)
    assert view.text == ["    return 1", "    return"]
    assert view.state == ["writing (retried)", "writing"]
