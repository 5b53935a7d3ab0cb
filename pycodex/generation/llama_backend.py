"""The llama.cpp backend: continuous batching of many completions of many prompts.

`generate_many(requests)` runs a lazily consumed stream of (key, prompt, params) requests, or
(key, prompt, params, indices) to draw only those sample indices of the request (a resume asks for
the missing ones); `generate(prompt, params)` is the same with one request. With
llama-cpp-python's low-level API (one model and one context loaded once and reused):

1. A request is pulled only when a slot is free and the previous request's samples have all
   started. Its prompt is decoded once, as sequence 0, in chunks of n_batch tokens; the logits of
   its last token are kept.
2. Up to `parallel` samples run at once, each in its own sequence 1..parallel. Every sequence has
   a KV stream of its own, of n_ctx cells (kv_unified off): a sample starts as a copy of sequence
   0's whole stream (llama_memory_seq_cp across streams), so its prompt cells sit at the same
   indices in every sample. Every step decodes one token of every live sequence, whatever its
   prompt, in one llama_decode of at least MIN_STEP_ROWS (8) consecutive sequences: free slots
   between or below them pad the step (a token at position 0 of their emptied stream; it wants
   logits only while fewer than 8 rows of the step do). In the stream's tail, when no sample is
   left to start, the samples in the highest slots move down to free lower ones (a cross-stream
   copy of their KV stream), so a tail step decodes max(8, live) rows.
3. Tokens are chosen in numpy (pycodex.generation.nucleus): exact nucleus sampling over the full
   vocabulary with each sample's own generator, seeded from (request seed, sample index) alone,
   at its request's temperature and top_p, or argmax at temperature 0.
4. A sample ends at a stop sequence, an end-of-generation token, or max_tokens (or when its
   stream is full: n_ctx is per sequence, prompt plus completion). Its sequence is removed from
   the cache and the slot at once starts the next sample, of the same request or the next one
   (continuous batching).

Batch invariance: a sample's logits depend only on its own tokens, bit for bit: not on which
other samples share its decode or the cache, on when it starts, on `parallel`, or on the thread
count. So sample j of a request is the same whether it is drawn in a full stream, alone, or by a
resume that skips finished samples, and a killed and resumed eval equals the uninterrupted one.
Measured (3 HumanEval prompts, n=8, T=0.8, 64 tokens, every logits row hashed): with the earlier
settings (unified KV cache, repacked weights, whatever rows a step had) 0 of 9 samples drawn alone
and 0 of 16 drawn in a resume-like subset matched the full stream; with these, every one did (and
24 of 24 at 1 thread/8 slots against 2 threads/16 slots). Three llama.cpp behaviours caused the
differences, each fixed here:
- A unified KV cache places a sequence's cells wherever cells are free, which depends on the
  other sequences; attention sums over cells grouped by index (SIMD lanes), so placement changed
  the rounding. One stream per sequence (kv_unified False) makes the placement a function of the
  sequence alone (sequence 0 is emptied before each prompt; the cross-stream copy keeps indices).
- The CPU "repacked" weight layouts (extra buffer types) use a 4-row gemm for the first rows of a
  batch and a 1-row gemv for the rest, so a row's result depended on its place in the batch:
  model_params.use_extra_bufts is False.
- llama.cpp's CPU matrix kernels take one path for a decode of 8 rows or more and another, with
  different rounding, for fewer (measured: 7 rows matched a sample alone, 8 did not; any 8 to 16
  rows match each other whatever the other rows hold). So every step decodes at least 8 rows.
  llama.cpp splits a batch whose sequences are not consecutive (one ubatch per run of KV
  streams), so the step covers sequences 1..max(8, highest live slot), free slots padding it,
  and a sample takes the lowest free slot. Flash attention is off (on, it did not help).
Log-probs therefore match llama.cpp's own batched scoring (Llama.eval of the prompt plus the
tokens) to float rounding, and differ from its one-row-per-token create_completion by up to ~0.07
per token (greedy tokens agree). Measured speed: no slower than before (docs/generation.md,
benchmark). A prompt's own decode is the same
whatever else is in flight (it runs alone in sequence 0).

Token counts and log-probabilities cover the tokens whose text starts before the stop cut:
the tokens that made the completion. Tokens that lie wholly inside the stop sequence, and an
end-of-generation token (it adds no text), are not counted.
"""

from __future__ import annotations

import codecs
import ctypes
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Hashable, Iterable, Iterator

import numpy as np

from pycodex.errors import UserError
from pycodex.generation.base import (
    FINISH_EOS,
    FINISH_LENGTH,
    FINISH_STOP,
    GenerationEvent,
    SampleFinished,
    SamplingParams,
    TextDelta,
    cut_at_stop,
)
from pycodex.generation.nucleus import sample_with_logprobs

DEFAULT_CTX = 2048  # per sequence: the longest HumanEval prompt (422 tokens) plus 512 new tokens fit
DEFAULT_PARALLEL = 16
DEFAULT_BATCH = 512
# The fewest rows a step's llama_decode gets: llama.cpp's CPU matrix kernels take one path for 8
# rows or more and another (different rounding) for fewer, so every step decodes at least 8
# sequences, padding with free slots, and every row takes the same path (see the module docstring).
MIN_STEP_ROWS = 8

_log_callback = None  # kept alive: llama.cpp holds a pointer to it


def default_threads() -> int:
    """All cores but those other processes keep busy (1-minute load average), at least one.

    llama.cpp's worker threads wait for each other at every step, so a thread that must share
    its core with another busy process stalls them all: on a loaded machine fewer threads are
    faster (measured: 2 threads 2x slower than 1 on 2 cores at load 7).
    """
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        load = 0.0
    return max(1, min(cores, int(cores - load + 1)))


def set_llama_logging(verbose: bool) -> None:
    """Route llama.cpp's log lines to stderr when verbose, else nowhere."""
    global _log_callback
    import sys

    import llama_cpp

    @llama_cpp.llama_log_callback
    def callback(level, text, user_data):  # noqa: ARG001
        if verbose:
            sys.stderr.write(text.decode("utf-8", "replace"))

    _log_callback = callback
    llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))


def _owned(row: np.ndarray) -> np.ndarray:
    """row itself if it owns its data, else a copy (a view of llama.cpp's logits lives until the next decode)."""
    return row if row.flags.owndata else row.copy()


@dataclass
class _Sample:
    """One sample in flight in a sequence slot."""

    index: int
    slot: int
    rng: np.random.Generator
    started: float
    decoder: codecs.IncrementalDecoder = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    text_ends: list[int] = field(default_factory=list)  # len(text) after each token
    text: str = ""
    streamed: int = 0  # characters already sent as TextDelta
    request: "_Request | None" = None


@dataclass
class _Request:
    """One (key, prompt, params) request of a stream."""

    key: Hashable
    params: SamplingParams
    tokens: list[int]  # the prompt's
    max_new: int  # tokens a sample may add: max_tokens, or less when the prompt leaves less room in n_ctx
    seeds: list
    longest_stop: int
    indices: list[int]  # the sample indices to draw, ascending (all of range(params.n) by default)
    logits: np.ndarray | None = None  # the prompt's last logits, while samples are still to start
    started: int = 0  # samples started (indices[:started])


class LlamaBackend:
    """Batched llama.cpp generation. One instance loads the model once; generate() is reusable."""

    name = "llama"

    def __init__(
        self,
        model_path: str | os.PathLike,
        *,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        n_ctx: int | None = None,
        parallel: int = DEFAULT_PARALLEL,
        n_batch: int = DEFAULT_BATCH,
        verbose: bool = False,
        model_rule: str | None = None,
    ):
        import llama_cpp

        self._ll = llama_cpp
        self.model_path = Path(model_path)
        self.model_rule = model_rule
        self.n_threads = n_threads or default_threads()
        self.n_gpu_layers = n_gpu_layers
        self.parallel = max(1, parallel)
        self.verbose = verbose
        self._lock = threading.Lock()
        self._streaming_thread: int | None = None
        set_llama_logging(verbose)
        llama_cpp.llama_backend_init()

        model_params = llama_cpp.llama_model_default_params()
        model_params.n_gpu_layers = n_gpu_layers
        model_params.use_mmap = True
        # No "repacked" weight layouts: they switch between a 4-row gemm and a 1-row gemv by the
        # batch's row count, so a row's result would depend on how many others share its decode.
        model_params.use_extra_bufts = False
        self._model = llama_cpp.llama_model_load_from_file(str(self.model_path).encode(), model_params)
        if not self._model:
            raise UserError(
                f"llama.cpp could not load {self.model_path}: the GGUF is corrupt, truncated or of an unsupported "
                "architecture (run with --verbose to see why, or pass another --model)"
            )
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self._add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self._vocab))
        self._bos = llama_cpp.llama_vocab_bos(self._vocab)

        ctx_params = llama_cpp.llama_context_default_params()
        train_ctx = llama_cpp.llama_model_n_ctx_train(self._model)
        # n_ctx is each sequence's context (a prompt plus its completion): every sequence has a KV
        # stream of its own (kv_unified off, see the module docstring), so the context holds
        # parallel + 1 of them.
        self.n_ctx = n_ctx or min(DEFAULT_CTX, train_ctx or DEFAULT_CTX)
        self._sequences = max(self.parallel, MIN_STEP_ROWS)  # slots 1..parallel sample; the rest only pad steps
        ctx_params.n_ctx = self.n_ctx * (self._sequences + 1)
        self.n_batch = min(n_batch, self.n_ctx)
        ctx_params.n_batch = self.n_batch
        ctx_params.n_ubatch = self.n_batch
        ctx_params.n_seq_max = self._sequences + 1  # sequence 0 holds the prompt
        ctx_params.kv_unified = False  # one KV stream per sequence: a sequence's cells never depend on another's
        ctx_params.n_threads = self.n_threads
        ctx_params.n_threads_batch = self.n_threads
        ctx_params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED  # as llama_cpp.Llama does
        ctx_params.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(self._model, ctx_params)
        if not self._ctx:
            llama_cpp.llama_model_free(self._model)
            self._model = None
            raise UserError(f"llama.cpp could not create a context of {self.n_ctx} tokens for {self.model_path}: try a smaller --ctx")
        self.n_ctx = min(self.n_ctx, llama_cpp.llama_n_ctx_seq(self._ctx))  # llama.cpp may round a stream down
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(max(self.n_batch, self._sequences), 0, 1)
        self._pad_token = self._bos if self._bos >= 0 else 0
        self._pieces: dict[int, bytes] = {}
        self.moves = 0  # samples moved to a lower slot in streams' tails (see _compact)
        self._piece_buffer = ctypes.create_string_buffer(256)

    # --- tokens ---------------------------------------------------------------------------------

    def tokenize(self, text: str) -> list[int]:
        """The prompt's tokens exactly as llama_cpp.Llama.create_completion makes them."""
        data = text.encode("utf-8")
        size = len(data) + 2
        while True:
            out = (self._ll.llama_token * size)()
            count = self._ll.llama_tokenize(self._vocab, data, len(data), out, size, False, True)
            if count >= 0:
                break
            size = -count
        tokens = list(out[:count])
        return ([self._bos] if self._add_bos and self._bos >= 0 else []) + tokens

    def piece(self, token: int) -> bytes:
        cached = self._pieces.get(token)
        if cached is None:
            buffer = self._piece_buffer
            length = self._ll.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, False)
            if length < 0:
                buffer = ctypes.create_string_buffer(-length)
                length = self._ll.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, False)
            cached = self._pieces[token] = buffer.raw[:length]
        return cached

    def is_end_of_generation(self, token: int) -> bool:
        return bool(self._ll.llama_vocab_is_eog(self._vocab, token))

    # --- llama.cpp calls ------------------------------------------------------------------------

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """Decode (token, position, sequence, wants logits) entries as one batch."""
        batch = self._batch
        for i, (token, pos, seq, logits) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits
        batch.n_tokens = len(entries)
        status = self._ll.llama_decode(self._ctx, batch)
        if status != 0:
            raise RuntimeError(
                f"llama_decode failed with status {status} ({'no room in the KV cache: raise --ctx' if status == 1 else 'error'})"
            )

    def _logits(self, row: int) -> np.ndarray:
        pointer = self._ll.llama_get_logits_ith(self._ctx, row)
        return np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))

    def _decode_prompt(self, tokens: list[int]) -> np.ndarray:
        """Decode a prompt into sequence 0 (emptied first; other sequences are left alone) and
        return a copy of its last token's logits."""
        self._ll.llama_memory_seq_rm(self._memory, 0, -1, -1)
        for start in range(0, len(tokens), self.n_batch):
            chunk = tokens[start : start + self.n_batch]
            last = start + len(chunk) == len(tokens)
            self._decode([(tok, start + i, 0, last and i == len(chunk) - 1) for i, tok in enumerate(chunk)])
        return self._logits((len(tokens) - 1) % self.n_batch).copy()

    # --- generation -----------------------------------------------------------------------------

    def generate(self, prompt: str, params: SamplingParams, task_id: str | None = None) -> Iterator[GenerationEvent]:
        """All samples of one prompt: generate_many with a single request (same output as ever)."""
        params.validate()
        self.last_token_ids: dict[int, list[int]] = {}
        stream = self.generate_many([(None, prompt, params)], keep_token_ids=True)
        try:
            for _key, event in stream:
                if isinstance(event, SampleFinished):
                    self.last_token_ids[event.index] = self.stream_token_ids.pop((None, event.index))
                yield event
        finally:
            stream.close()

    def generate_many(
        self, requests: Iterable[tuple[Hashable, str, SamplingParams]], keep_token_ids: bool = False
    ) -> Iterator[tuple[Hashable, GenerationEvent]]:
        """Samples of many prompts in one continuous batch: yields (key, event) per request.

        requests: (key, prompt, params) consumed lazily: the next one is pulled only when a slot
        is free and the previous request's samples have all started. Each request's sample j is
        drawn from (its params.seed, j) alone, at its own temperature and top_p. keep_token_ids
        keeps every sample's token ids in self.stream_token_ids[(key, index)] (off by default, so
        a long stream does not accumulate them).
        """
        if self._streaming_thread == threading.get_ident():
            raise RuntimeError("generate() called again while this thread's previous stream is open: close() it first")
        with self._lock:  # one stream at a time; other threads wait their turn
            self._streaming_thread = threading.get_ident()
            self.stream_token_ids: dict[tuple[Hashable, int], list[int]] = {}
            try:
                self._ll.llama_memory_clear(self._memory, True)
                yield from self._generate_many(iter(requests), keep_token_ids)
            finally:
                self._streaming_thread = None
                self._ll.llama_memory_clear(self._memory, True)

    def _open_request(self, key: Hashable, prompt: str, params: SamplingParams, indices: Iterable[int] | None = None) -> _Request:
        params.validate()
        chosen = sorted(set(range(params.n) if indices is None else indices))
        if not chosen or chosen[0] < 0 or chosen[-1] >= params.n:
            raise ValueError(f"sample indices must be a non-empty subset of range({params.n}) (got {chosen})")
        tokens = self.tokenize(prompt)
        if not tokens:
            raise UserError("the prompt is empty")
        room = self.n_ctx - len(tokens)
        if room < 1:
            raise UserError(f"the prompt is {len(tokens)} tokens, more than the context of {self.n_ctx}: raise --ctx")
        return _Request(
            key=key,
            params=params,
            tokens=tokens,
            max_new=min(params.max_tokens, room),
            seeds=np.random.SeedSequence(params.seed).spawn(params.n),
            longest_stop=max((len(s) for s in params.stop), default=0),
            indices=chosen,
        )

    def _generate_many(self, requests: Iterator, keep_token_ids: bool) -> Iterator[tuple[Hashable, GenerationEvent]]:
        free_slots = list(range(self.parallel, 0, -1))  # popped from the end: always the lowest free slot
        live: list[_Sample] = []
        step_logits: list[np.ndarray] = []  # each live sample's logits for its next token
        current: _Request | None = None  # the request whose prompt is in sequence 0, samples still to start
        exhausted = False

        while True:
            # Fill the free slots: from the current request, else from the next one. Every sequence
            # has a KV stream of n_ctx cells of its own, so a sample always has room.
            while free_slots:
                if current is None:
                    if exhausted:
                        break
                    try:
                        pulled = next(requests)
                    except StopIteration:
                        exhausted = True
                        break
                    current = self._open_request(*pulled)
                    # the prompt's decode overwrites llama.cpp's logits: keep the live samples' rows
                    step_logits = [_owned(row) for row in step_logits]
                    current.logits = self._decode_prompt(current.tokens)
                slot = free_slots.pop()
                self._ll.llama_memory_seq_rm(self._memory, slot, -1, -1)
                # Across streams this copies sequence 0's whole stream (cells at the same indices)
                # at the next decode: every sample of a prompt starts from the same cache.
                self._ll.llama_memory_seq_cp(self._memory, 0, slot, -1, -1)
                index = current.indices[current.started]
                current.started += 1
                sample = _Sample(index=index, slot=slot, rng=np.random.default_rng(current.seeds[index]), started=time.perf_counter())
                sample.request = current
                live.append(sample)
                step_logits.append(current.logits)  # its first token comes from the prompt's logits
                if current.started == len(current.indices):
                    current.logits = None
                    current = None
            if not live:
                return

            chosen, logprobs = self._sample(live, step_logits)
            batch: list[tuple[int, int, int, bool]] = []
            still_live: list[_Sample] = []
            for sample, token, logprob in zip(live, chosen, logprobs):
                request = sample.request
                params = request.params
                finish = self._advance(sample, token, logprob, params, request.max_new, request.longest_stop)
                delta = self._unstreamed(sample, params.stop, final=finish is not None)
                if delta:
                    yield request.key, TextDelta(sample.index, delta)
                if finish is None:
                    batch.append((token, len(request.tokens) + len(sample.tokens) - 1, sample.slot, True))
                    still_live.append(sample)
                else:
                    self._ll.llama_memory_seq_rm(self._memory, sample.slot, -1, -1)
                    free_slots.append(sample.slot)
                    free_slots.sort(reverse=True)  # live samples stay in the lowest slots: fewer pad rows
                    if keep_token_ids:
                        self.stream_token_ids[(request.key, sample.index)] = sample.tokens
                    yield request.key, self._finished(sample, finish, params)
            live = still_live
            if exhausted and current is None and batch:  # nothing left to start: the stream's tail
                self._compact(live, batch, free_slots)
            step_logits = self._decode_step(batch) if batch else []

    def _compact(self, live: list[_Sample], batch: list[tuple[int, int, int, bool]], free_slots: list[int]) -> None:
        """Move the samples in the highest slots down to free lower ones, so the tail's steps decode
        max(MIN_STEP_ROWS, live) rows instead of every row up to the highest live slot.

        A cross-stream llama_memory_seq_cp copies the whole stream, cells at the same indices (as
        a sample's start copies its prompt), so a moved sample's next logits are the same bit for
        bit. Called only when no sample is left to start (the free slots stay free)."""
        rows = max(MIN_STEP_ROWS, len(live))
        by_slot = {sample.slot: (sample, i) for i, sample in enumerate(live)}
        for slot in sorted(by_slot, reverse=True):
            if slot <= rows or not free_slots or free_slots[-1] > rows:
                break
            sample, i = by_slot[slot]
            target = free_slots.pop()
            self._ll.llama_memory_seq_rm(self._memory, target, -1, -1)
            self._ll.llama_memory_seq_cp(self._memory, slot, target, -1, -1)  # the data moves at the next decode
            self._ll.llama_memory_seq_rm(self._memory, slot, -1, -1)
            free_slots.append(slot)
            free_slots.sort(reverse=True)
            sample.slot = target
            token, pos, _, logits = batch[i]
            batch[i] = (token, pos, target, logits)
            self.moves += 1

    def _decode_step(self, batch: list[tuple[int, int, int, bool]]) -> list[np.ndarray]:
        """One token of every live sample in one llama_decode; returns each entry's logits (views,
        valid until the next decode).

        The decode covers the consecutive sequences 1..max(MIN_STEP_ROWS, highest live slot): llama.cpp
        splits a batch whose sequences (KV streams) are not consecutive into several, and a decode
        of fewer than 8 rows takes other kernels. Free slots in that range get a pad row (a token
        at position 0 of their emptied stream). llama.cpp runs the last layer's feed-forward and
        the output matrix on the rows that want logits alone, so pads want logits only until the
        step has MIN_STEP_ROWS such rows (the same kernels again; the output matrix is the
        costliest part of a row). A slot's stream is emptied again before a sample starts there."""
        live = {seq: i for i, (_, _, seq, _) in enumerate(batch)}
        entries = []
        outputs = len(batch)
        for seq in range(1, max(MIN_STEP_ROWS, max(live)) + 1):
            if seq in live:
                entries.append(batch[live[seq]])
            else:
                self._ll.llama_memory_seq_rm(self._memory, seq, -1, -1)
                entries.append((self._pad_token, 0, seq, outputs < MIN_STEP_ROWS))
                outputs += 1
        self._decode(entries)
        row = {seq: i for i, (_, _, seq, _) in enumerate(entries)}
        return [self._logits(row[seq]) for _, _, seq, _ in batch]

    def _sample(self, live: list[_Sample], rows: list[np.ndarray]) -> tuple[list[int], list[float]]:
        """One token per live sample, each at its own request's temperature and top_p. On one
        thread: a second sampling thread halved the sampling time but slowed llama.cpp's next
        decode more (its OpenMP threads lose their cores; measured 114 against 143 tokens/s)."""
        groups: dict[tuple[float, float], list[int]] = {}
        for i, sample in enumerate(live):
            p = sample.request.params
            groups.setdefault((p.temperature, p.top_p), []).append(i)
        chosen = [0] * len(live)
        logprobs = [0.0] * len(live)
        for (temperature, top_p), positions in groups.items():
            uniforms = np.array([0.0 if temperature == 0 else live[i].rng.random() for i in positions])
            tokens, lps = sample_with_logprobs([rows[i] for i in positions], temperature, top_p, uniforms, threads=1)
            for i, token, lp in zip(positions, tokens.tolist(), lps.tolist()):
                chosen[i] = token
                logprobs[i] = lp
        return chosen, logprobs

    def _advance(self, sample: _Sample, token: int, logprob: float, params: SamplingParams, max_new: int, longest_stop: int) -> str | None:
        """Add a sampled token to a sample; return its finish reason if it is done."""
        if self.is_end_of_generation(token):
            sample.text += sample.decoder.decode(b"", final=True)
            return FINISH_EOS
        before = len(sample.text)
        sample.tokens.append(token)
        sample.logprobs.append(logprob)
        sample.text += sample.decoder.decode(self.piece(token))
        sample.text_ends.append(len(sample.text))
        window = sample.text[max(0, before - longest_stop) :]
        if any(stop in window for stop in params.stop):
            return FINISH_STOP
        if len(sample.tokens) >= max_new:
            sample.text += sample.decoder.decode(b"", final=True)
            return FINISH_LENGTH
        return None

    @staticmethod
    def _unstreamed(sample: _Sample, stop: tuple[str, ...], final: bool) -> str:
        """New text that is safe to show: never past a stop sequence, nor a tail that may begin one."""
        text, _ = cut_at_stop(sample.text, stop)
        safe = len(text)
        if not final:
            for s in stop:
                for k in range(min(len(s) - 1, len(text)), 0, -1):
                    if text.endswith(s[:k]):
                        safe = min(safe, len(text) - k)
                        break
        delta = text[sample.streamed : safe] if safe > sample.streamed else ""
        sample.streamed = max(sample.streamed, safe)
        return delta

    @staticmethod
    def _finished(sample: _Sample, finish: str, params: SamplingParams) -> SampleFinished:
        completion, _ = cut_at_stop(sample.text, params.stop)
        cut = len(completion)
        # Count the tokens whose text starts before the cut (see the module docstring).
        counted = 0
        start = 0
        for end in sample.text_ends:
            if start >= cut and finish == FINISH_STOP:
                break
            counted += 1
            start = end
        total = float(sum(sample.logprobs[:counted]))
        return SampleFinished(
            index=sample.index,
            completion=completion,
            finish_reason=finish,
            tokens=counted,
            sum_logprob=total,
            mean_logprob=total / counted if counted else 0.0,
            seconds=time.perf_counter() - sample.started,
        )

    def generate_token_ids(self, prompt: str, params: SamplingParams) -> list[list[int]]:
        """Every sample's sampled token ids (to the stop, end-of-generation excluded), for tests and tools."""
        for _ in self.generate(prompt, params):
            pass
        return [self.last_token_ids[i] for i in range(params.n)]

    # --- the rest of the Backend protocol --------------------------------------------------------

    def describe(self) -> dict:
        import llama_cpp

        from pycodex.generation.models import model_sha256

        return {
            "kind": self.name,
            "model_path": str(self.model_path),
            "model_rule": self.model_rule,
            "sha256": model_sha256(self.model_path),
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "n_gpu_layers": self.n_gpu_layers,
            "parallel": self.parallel,
            "llama_cpp_python": getattr(llama_cpp, "__version__", None),
        }

    def close(self) -> None:
        if getattr(self, "_ctx", None):
            self._ll.llama_batch_free(self._batch)
            self._ll.llama_free(self._ctx)
            self._ctx = None
        if getattr(self, "_model", None):
            self._ll.llama_model_free(self._model)
            self._model = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
