"""The llama backend with the real default model: greedy parity with llama-cpp-python, seeding,
stop sequences, log-probabilities, streaming, waves of samples and reuse. Short runs only."""

from __future__ import annotations

import math

import pytest

from pycodex.generation.base import FINISH_EOS, FINISH_LENGTH, FINISH_STOP, STOP_SEQUENCES, SampleFinished, SamplingParams, TextDelta

CTX = 1024
THREADS = 1  # the test machine is shared: one thread is steadier than two contending ones
FIB = 'def fib(n):\n    """Return the n-th Fibonacci number.\n    >>> fib(10)\n    55\n    """\n'
PROMPTS = [
    FIB,
    'from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    """ Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    """\n',
]


@pytest.fixture(scope="module")
def model_path():
    from pycodex.generation.models import resolve_model

    return resolve_model(show_progress=False).path


def reference_llama(model_path, **kwargs):
    """llama_cpp.Llama with the backend's weight layout (use_extra_bufts off, which Llama has no
    argument for): the same kernels for a 1-row decode, so greedy tokens and log-probs compare fairly."""
    from llama_cpp import Llama

    from pycodex.generation.llama.setup import without_repacked_weights

    with without_repacked_weights():
        return Llama(str(model_path), n_ctx=CTX, verbose=False, n_threads=THREADS, n_threads_batch=THREADS, **kwargs)


@pytest.fixture(scope="module")
def backend(model_path):
    from pycodex.generation.llama.backend import LlamaBackend

    instance = LlamaBackend(model_path, n_ctx=CTX, parallel=4, n_threads=THREADS)
    yield instance
    instance.close()


def run(backend, prompt, **params):
    """All events of one call, grouped: (deltas per index, finished per index)."""
    deltas: dict[int, str] = {}
    finished: dict[int, SampleFinished] = {}
    for event in backend.generate(prompt, SamplingParams(**params)):
        if isinstance(event, TextDelta):
            assert event.index not in finished, "a delta after its sample finished"
            deltas[event.index] = deltas.get(event.index, "") + event.text
        else:
            assert event.index not in finished, "two SampleFinished for one index"
            finished[event.index] = event
    return deltas, finished


@pytest.mark.model
def test_greedy_matches_llama_cpp_create_completion_token_for_token(backend, model_path):
    reference = reference_llama(model_path)
    try:
        for prompt in PROMPTS:
            (ours,) = backend.generate_token_ids(prompt, SamplingParams(n=1, temperature=0, max_tokens=32, stop=()))
            theirs = reference.create_completion(prompt, temperature=0, max_tokens=32)
            their_text = theirs["choices"][0]["text"]
            assert theirs["usage"]["prompt_tokens"] == len(backend.tokenize(prompt))
            assert theirs["usage"]["completion_tokens"] == len(ours)
            assert reference.detokenize(ours).decode("utf-8") == their_text
            assert [reference.detokenize([t]) for t in ours] == [backend.piece(t) for t in ours]
            assert reference.tokenize(their_text.encode(), add_bos=False, special=False)[:4] == ours[:4]
    finally:
        reference.close()


@pytest.mark.model
def test_same_seed_same_samples_and_other_seed_differs(backend):
    params = dict(n=3, temperature=0.8, max_tokens=20, seed=42)
    _, first = run(backend, FIB, **params)
    _, again = run(backend, FIB, **params)
    _, other = run(backend, FIB, **{**params, "seed": 43})
    assert [first[i].completion for i in range(3)] == [again[i].completion for i in range(3)]
    assert [first[i].sum_logprob for i in range(3)] == pytest.approx([again[i].sum_logprob for i in range(3)])
    assert [first[i].completion for i in range(3)] != [other[i].completion for i in range(3)]


@pytest.mark.model
@pytest.mark.parametrize("stop", [STOP_SEQUENCES, ("\n",)])
def test_stop_sequences_cut_and_deltas_never_pass_them(backend, stop):
    deltas, finished = run(backend, FIB, n=4, temperature=0.8, max_tokens=24, seed=7, stop=stop)
    assert sorted(finished) == [0, 1, 2, 3]
    raw = backend.last_token_ids
    for index, sample in finished.items():
        assert deltas.get(index, "") == sample.completion
        assert not any(s in sample.completion for s in stop)
        full = b"".join(backend.piece(t) for t in raw[index]).decode("utf-8", "replace")
        assert full.startswith(sample.completion)
        if sample.finish_reason == FINISH_STOP:
            assert any(full[len(sample.completion) :].startswith(s) for s in stop)
            assert sample.tokens <= len(raw[index])
        else:
            assert sample.finish_reason in (FINISH_LENGTH, FINISH_EOS)
            assert sample.tokens == len(raw[index])
        if sample.finish_reason == FINISH_LENGTH:
            assert sample.tokens == 24
    if stop == ("\n",):  # every sample's first line ends well within 24 tokens
        assert all(s.finish_reason == FINISH_STOP for s in finished.values())


@pytest.mark.model
def test_custom_stop_and_token_count_up_to_the_cut(backend):
    _, finished = run(backend, FIB, n=1, temperature=0, max_tokens=32, stop=("return",))
    sample = finished[0]
    assert sample.finish_reason == FINISH_STOP and "return" not in sample.completion
    pieces = [backend.piece(t).decode("utf-8", "replace") for t in backend.last_token_ids[0]]
    starts = [sum(len(p) for p in pieces[:i]) for i in range(len(pieces))]
    assert sample.tokens == sum(1 for start in starts if start < len(sample.completion))


@pytest.mark.model
def test_logprobs_are_finite_negative_and_mean_is_sum_over_tokens(backend):
    _, finished = run(backend, PROMPTS[1], n=3, temperature=1.0, max_tokens=24, seed=1)
    for sample in finished.values():
        assert sample.tokens > 0
        assert math.isfinite(sample.sum_logprob) and sample.sum_logprob <= 0
        assert sample.mean_logprob == pytest.approx(sample.sum_logprob / sample.tokens)
        assert sample.seconds > 0


@pytest.mark.model
def test_greedy_logprobs_match_llama_cpp(backend, model_path):
    # The reference scores the prompt and our tokens in one decode (logits for every position): a
    # decode of 8 rows or more, the kernels every step of ours uses (padded to 8 rows). Its own
    # token-by-token create_completion decodes 1 row, another kernel path: log-probs off by up to
    # ~0.07 per token, the same greedy tokens (the test above).
    import numpy as np

    _, finished = run(backend, FIB, n=1, temperature=0, max_tokens=8, stop=())
    ours = backend.last_token_ids[0]
    assert finished[0].tokens == 8 == len(ours)
    prompt = backend.tokenize(FIB)
    reference = reference_llama(model_path, logits_all=True)
    try:
        reference.eval(prompt + ours[:-1])
        rows = np.array(reference.scores[len(prompt) - 1 : len(prompt) - 1 + len(ours)], dtype=np.float64)
    finally:
        reference.close()
    assert [int(row.argmax()) for row in rows] == ours
    logprobs = rows - rows.max(axis=1, keepdims=True)
    logprobs -= np.log(np.exp(logprobs).sum(axis=1, keepdims=True))
    expected = sum(logprobs[i, token] for i, token in enumerate(ours))
    assert finished[0].sum_logprob == pytest.approx(expected, abs=1e-5)


@pytest.mark.model
def test_more_samples_than_slots_run_in_waves(backend):
    assert backend.parallel == 4
    deltas, finished = run(backend, FIB, n=7, temperature=0.8, max_tokens=12, seed=3, stop=())
    assert sorted(finished) == list(range(7))
    assert all(f.finish_reason in (FINISH_LENGTH, FINISH_EOS) for f in finished.values())
    assert all(deltas.get(i, "") == finished[i].completion for i in range(7))


@pytest.mark.model
def test_closing_mid_stream_leaves_the_backend_reusable(backend):
    stream = backend.generate(FIB, SamplingParams(n=3, temperature=0.8, max_tokens=30, seed=5))
    for _, _event in zip(range(5), stream):
        pass
    stream.close()
    _, greedy = run(backend, FIB, n=1, temperature=0, max_tokens=10, stop=())
    _, greedy_again = run(backend, FIB, n=1, temperature=0, max_tokens=10, stop=())
    assert greedy[0].completion == greedy_again[0].completion


@pytest.mark.model
def test_a_second_stream_on_the_same_thread_is_refused_not_deadlocked(backend):
    first = backend.generate(FIB, SamplingParams(n=1, max_tokens=4, seed=0))
    next(first)
    with pytest.raises(RuntimeError, match="close"):
        next(backend.generate(FIB, SamplingParams(n=1, max_tokens=4, seed=0)))
    first.close()
    _, finished = run(backend, FIB, n=1, temperature=0, max_tokens=4, stop=())
    assert finished[0].tokens == 4


@pytest.mark.model
def test_prompt_longer_than_context_is_a_user_error(backend):
    from pycodex.errors import UserError

    with pytest.raises(UserError, match="more than the context"):
        run(backend, "x = 1\n" * 2000, n=1, max_tokens=4)


@pytest.mark.model
def test_factory_builds_a_described_llama_backend():
    from pycodex.generation.factory import create_backend

    backend = create_backend("llama", ctx=256, threads=1)
    try:
        info = backend.describe()
        assert info["kind"] == "llama" and info["model_rule"] == "bundled" and len(info["sha256"]) == 64
        _, finished = run(backend, FIB, n=2, temperature=0.8, max_tokens=4, seed=0, stop=())
        assert sorted(finished) == [0, 1]
    finally:
        backend.close()


def drain_many(backend, requests, keep_token_ids=False):
    """All events of a generate_many stream, grouped per key: ({key: {index: text}}, {key: {index: finished}})."""
    deltas: dict = {}
    finished: dict = {}
    for key, event in backend.generate_many(requests, keep_token_ids=keep_token_ids):
        if isinstance(event, TextDelta):
            assert event.index not in finished.get(key, {}), "a delta after its sample finished"
            deltas.setdefault(key, {})[event.index] = deltas.get(key, {}).get(event.index, "") + event.text
        else:
            assert event.index not in finished.get(key, {}), "two SampleFinished for one index"
            finished.setdefault(key, {})[event.index] = event
    return deltas, finished


@pytest.mark.model
def test_generate_many_greedy_equals_each_prompt_alone(backend):
    # (the sampled, bit-exact version: test_samples_drawn_in_a_mixed_stream_equal_the_same_samples_drawn_alone)
    greedy = SamplingParams(n=1, temperature=0, max_tokens=8, stop=())
    alone = {i: backend.generate_token_ids(prompt, greedy)[0] for i, prompt in enumerate(PROMPTS)}
    requests = [(i, prompt, greedy) for i, prompt in enumerate(PROMPTS)]
    deltas, finished = drain_many(backend, requests, keep_token_ids=True)
    assert sorted(finished) == [0, 1]
    for i in range(2):
        assert backend.stream_token_ids[(i, 0)] == alone[i]
        assert finished[i][0].tokens == 8 and deltas[i][0] == finished[i][0].completion
    # token ids are kept only when asked
    drain_many(backend, requests)
    assert backend.stream_token_ids == {}


@pytest.mark.model
def test_generate_many_pulls_requests_lazily_and_keeps_each_requests_params(backend):
    assert backend.parallel == 4
    pulled = []

    def requests():
        for key, (prompt, params) in enumerate(
            [
                (FIB, SamplingParams(n=4, temperature=0.8, max_tokens=4, seed=1, stop=())),
                (PROMPTS[1], SamplingParams(n=3, temperature=0, max_tokens=6, stop=())),
                (FIB, SamplingParams(n=2, temperature=1.0, max_tokens=5, seed=2, stop=())),
            ]
        ):
            pulled.append(key)
            yield key, prompt, params

    pulled_at_first_event = None
    finished: dict = {}
    for key, event in backend.generate_many(requests()):
        if pulled_at_first_event is None:
            pulled_at_first_event = len(pulled)
        if isinstance(event, SampleFinished):
            finished.setdefault(key, {})[event.index] = event
    # the first request's 4 samples fill the 4 slots: the next is pulled only when one frees
    assert pulled_at_first_event == 1 and pulled == [0, 1, 2]
    assert {k: sorted(v) for k, v in finished.items()} == {0: [0, 1, 2, 3], 1: [0, 1, 2], 2: [0, 1]}
    assert all(f.tokens == 4 for f in finished[0].values() if f.finish_reason == FINISH_LENGTH)
    assert all(f.tokens == 6 for f in finished[1].values() if f.finish_reason == FINISH_LENGTH)
    # greedy samples of one request are identical
    assert len({f.completion for f in finished[1].values()}) == 1


@pytest.mark.model
def test_generate_still_works_after_a_stream_is_closed_early(backend):
    greedy = SamplingParams(n=1, temperature=0, max_tokens=10, stop=())
    before = backend.generate_token_ids(FIB, greedy)
    params = SamplingParams(n=3, temperature=0.8, max_tokens=30, seed=5)
    stream = backend.generate_many([(k, FIB, params) for k in range(3)])
    for _, _event in zip(range(7), stream):
        pass
    stream.close()
    assert backend.generate_token_ids(FIB, greedy) == before
    _, finished = run(backend, FIB, n=2, temperature=0.8, max_tokens=4, seed=0, stop=())
    assert sorted(finished) == [0, 1]


@pytest.mark.model
def test_samples_drawn_in_a_mixed_stream_equal_the_same_samples_drawn_alone(backend, model_path):
    """Batch invariance: a sample's tokens and log-probs do not depend, to the last bit, on what
    shares its decode (other prompts' samples, pad rows, when it starts), on the slot count or on
    the thread count. This is what makes a resumed eval equal the uninterrupted one."""
    from pycodex.generation.llama.backend import MIN_STEP_ROWS, LlamaBackend

    wide = LlamaBackend(model_path, n_ctx=256, parallel=10, n_threads=2)
    try:
        params = SamplingParams(n=6, temperature=0.8, max_tokens=32, seed=9, stop=())
        batches = []
        decode = wide._decode

        def recording(entries):
            if all(seq != 0 for _, _, seq, _ in entries):  # a step, not a prompt
                batches.append([seq for _, _, seq, _ in entries])
            decode(entries)

        wide._decode = recording
        _, mixed = drain_many(wide, [(i, p, params) for i, p in enumerate(PROMPTS)], keep_token_ids=True)
        mixed_ids = dict(wide.stream_token_ids)
        # every step: one decode of the consecutive sequences 1..R, R >= 8 (padded with free slots)
        assert all(seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= MIN_STEP_ROWS for seqs in batches)
        assert max(map(len, batches)) == 10
    finally:
        wide.close()
    # alone: one sample per stream (padded to 8 rows), in the module's backend (1 thread, 4 slots), in another order
    for key in (1, 0):
        for index in (5, 0, 3):
            _, alone = drain_many(backend, [(key, PROMPTS[key], params, [index])], keep_token_ids=True)
            assert list(alone[key]) == [index]
            assert backend.stream_token_ids[(key, index)] == mixed_ids[(key, index)]
            got, want = alone[key][index], mixed[key][index]
            assert (got.completion, got.tokens, got.sum_logprob, got.finish_reason) == (want.completion, want.tokens, want.sum_logprob, want.finish_reason)


@pytest.mark.model
def test_pads_without_logits_and_samples_moved_down_in_the_tail_stay_bit_for_bit_the_same(backend, model_path):
    """The step's shortcuts are exact: a pad row wants no logits once the step has 8 rows that do,
    and in the stream's tail the samples in the highest slots move down to free lower ones (a
    cross-stream copy of their KV stream), so steps shrink to 8 rows. Every sample still equals
    the same sample drawn alone."""
    from pycodex.generation.llama.backend import MIN_STEP_ROWS, LlamaBackend

    short = SamplingParams(n=8, temperature=0.8, max_tokens=6, seed=3, stop=())  # slots 1..8, done after 6 steps
    long = SamplingParams(n=4, temperature=0.8, max_tokens=14, seed=4, stop=())  # slots 9, 10, then 1, 2
    requests = [(0, FIB, short), (1, PROMPTS[1], long)]
    wide = LlamaBackend(model_path, n_ctx=256, parallel=10, n_threads=2)
    try:
        steps = []
        decode = wide._decode

        def recording(entries):
            if all(seq != 0 for _, _, seq, _ in entries):
                steps.append([(seq, wants) for _, _, seq, wants in entries])
            decode(entries)

        wide._decode = recording
        _, mixed = drain_many(wide, requests, keep_token_ids=True)
        mixed_ids = dict(wide.stream_token_ids)
        moves = wide.moves
    finally:
        wide.close()
    assert moves >= 2  # the long samples in slots 9 and 10 moved down once the short ones were done
    assert any(not wants for step in steps for _, wants in step)  # pads that wanted no logits
    assert all(sum(wants for _, wants in step) >= MIN_STEP_ROWS for step in steps)
    assert max(len(step) for step in steps[-5:]) == MIN_STEP_ROWS  # the tail's steps shrank to 8 rows
    for key, params, indices in ((1, long, (0, 1, 2, 3)), (0, short, (0, 7))):
        for index in indices:
            _, alone = drain_many(backend, [(key, requests[key][1], params, [index])], keep_token_ids=True)
            assert backend.stream_token_ids[(key, index)] == mixed_ids[(key, index)]
            got, want = alone[key][index], mixed[key][index]
            assert (got.completion, got.tokens, got.sum_logprob) == (want.completion, want.tokens, want.sum_logprob)


@pytest.mark.model
def test_each_sequence_has_its_own_context_and_a_sample_stops_where_it_ends(model_path):
    from pycodex.generation.llama.backend import LlamaBackend

    n_ctx = 100
    small = LlamaBackend(model_path, n_ctx=n_ctx, parallel=4, n_threads=THREADS)
    try:
        lengths = [len(small.tokenize(p)) for p in PROMPTS]
        assert small.n_ctx == n_ctx and max(lengths) < n_ctx < sum(lengths)
        batches = []
        decode = small._decode

        def recording(entries):
            batches.append(sorted({seq for _, pos, seq, _ in entries if pos > 0}))  # not pad rows (position 0)
            decode(entries)

        small._decode = recording
        params = SamplingParams(n=3, temperature=0.8, max_tokens=200, seed=4, stop=())
        _, finished = drain_many(small, [(i, p, params) for i, p in enumerate(PROMPTS)])
        assert {k: sorted(v) for k, v in finished.items()} == {0: [0, 1, 2], 1: [0, 1, 2]}
        # no decode failed (a full stream raises); a sample that runs to the end of its context
        # stops there, and samples of both prompts ran side by side (each has its own stream)
        for key, samples in finished.items():
            for sample in samples.values():
                assert sample.tokens <= n_ctx - lengths[key]
                assert sample.finish_reason != FINISH_LENGTH or sample.tokens == n_ctx - lengths[key]
        assert max(len(seqs) for seqs in batches) == 4
    finally:
        small.close()


class PieceBackend:
    """The backend's text handling on scripted token pieces (no model): multi-byte characters split
    over tokens, a stop sequence split over tokens."""

    PIECES = {1: b"\xe2\x82", 2: b"\xac!", 3: b"\nde", 4: b"f x", 5: b"ok", 9: b""}

    def __init__(self):
        from pycodex.generation.llama.backend import LlamaBackend

        self.backend = LlamaBackend.__new__(LlamaBackend)
        self.backend._pieces = dict(self.PIECES)
        self.backend.is_end_of_generation = lambda token: token == 9

    def feed(self, tokens, max_new=10, stop=STOP_SEQUENCES):
        from pycodex.generation.llama.samples import _Sample, finished_event, unstreamed

        params = SamplingParams(max_tokens=max_new, stop=stop)
        sample = _Sample(index=0, slot=1, rng=None, started=0.0, request=None)
        deltas = []
        for token in tokens:
            finish = self.backend._advance(sample, token, -0.5, params, max_new, max(map(len, stop)))
            deltas.append(unstreamed(sample, stop, final=finish is not None))
            if finish:
                return deltas, finished_event(sample, finish, params)
        raise AssertionError("did not finish")


def test_multibyte_characters_and_split_stop_sequences():
    deltas, finished = PieceBackend().feed([1, 2, 3, 4, 5])
    assert deltas == ["", "\u20ac!", "", ""]  # half a character is held back, then "\nde" could start "\ndef"
    assert finished.completion == "\u20ac!" and finished.finish_reason == FINISH_STOP
    assert finished.tokens == 2  # the token that starts the stop sequence is not counted
    assert finished.sum_logprob == pytest.approx(-1.0) and finished.mean_logprob == pytest.approx(-0.5)


def test_end_of_generation_and_length_finishes():
    deltas, finished = PieceBackend().feed([5, 3, 9])
    assert finished.finish_reason == FINISH_EOS
    assert "".join(deltas) == finished.completion == "ok\nde" and finished.tokens == 2
    deltas, finished = PieceBackend().feed([5, 5, 5], max_new=3)
    assert finished.finish_reason == FINISH_LENGTH and finished.completion == "okokok" and finished.tokens == 3


def test_the_default_slot_count_is_the_widest_whose_kv_cache_fits(backend):
    """Gemma 3 270M: 18 layers, one KV head of 256 (K and V, f16): 18,432 bytes a token, 37 MiB a
    2048-token stream, so 64 slots (65 streams, 2.3 GiB) fit in the 3 GiB budget; at 4096 tokens
    32 do. A model whose cache would not fit keeps 16, and so does one whose metadata says nothing."""
    import llama_cpp

    from pycodex.generation.llama.setup import KV_BUDGET, default_parallel, kv_bytes_per_token

    per_token = kv_bytes_per_token(llama_cpp, backend._model)
    assert per_token == 18 * 1 * (256 + 256) * 2
    assert default_parallel(per_token, 2048) == 64
    assert default_parallel(per_token, 4096) == 32  # 33 streams of 4096 tokens: 2.4 GiB
    assert default_parallel(per_token, 8192) == 16
    assert default_parallel(KV_BUDGET // (2048 * 33) + 1, 2048) == 16
    assert default_parallel(None, 2048) == 16
    # A backend told how many samples it will run takes no more slots than they need.
    assert [default_parallel(per_token, 2048, n) for n in (1, 16, 17, 32, 33, 200)] == [16, 16, 32, 32, 64, 64]
