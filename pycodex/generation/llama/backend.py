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
3. Tokens are chosen in numpy (pycodex.generation.llama.nucleus): exact nucleus sampling over the full
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
Three llama.cpp behaviours broke it, each turned off here (docs/generation.md, "The llama
backend", has the measurements): a unified KV cache (cell placement changed the rounding:
kv_unified off, one stream per sequence), the CPU's repacked weight layouts (a row's result
depended on its place in the batch: use_extra_bufts off), and the kernels' separate path for
fewer than 8 rows (every step decodes at least MIN_STEP_ROWS consecutive sequences). Log-probs
therefore match llama.cpp's own batched scoring to float rounding.

Token counts and log-probs: see llama_samples.finished_event.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import threading
import time
from pathlib import Path
from typing import Generator, Hashable, Iterable, Iterator, cast

import llama_cpp  # noqa: F401  llama.cpp's libraries before numpy's (see pycodex.generation.llama.native)
import numpy as np

from pycodex.errors import UserError
from pycodex.generation.llama.samples import _owned, _Request, _Sample, finished_event, unstreamed
from pycodex.generation.base import (
    FINISH_EOS,
    FINISH_LENGTH,
    FINISH_STOP,
    GenerationEvent,
    SampleFinished,
    SamplingParams,
    TextDelta,
)
from pycodex.generation.llama.native import check_offload_order
from pycodex.generation.llama.nucleus import sample_with_logprobs

from pycodex.generation.llama.setup import (DEFAULT_BATCH, DEFAULT_CTX, DEFAULT_PARALLEL, MIN_STEP_ROWS, context_params,  # noqa: F401 (kept importable)
                                             default_parallel, default_threads, kv_bytes_per_token, set_llama_logging)


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
        parallel: int | None = None,
        n_batch: int = DEFAULT_BATCH,
        verbose: bool = False,
        model_rule: str | None = None,
        samples: int | None = None,
    ):
        self._ll = llama_cpp
        self.model_path = Path(model_path)
        self.model_rule = model_rule
        self.n_threads = n_threads or default_threads()
        self.n_gpu_layers = n_gpu_layers
        self.parallel = max(1, parallel) if parallel is not None else 0  # (0: chosen once the model is loaded)
        self.verbose = verbose
        self._lock = threading.Lock()
        self._streaming_thread: int | None = None
        set_llama_logging(verbose)
        llama_cpp.llama_backend_init()

        model_params = llama_cpp.llama_model_default_params()
        model_params.n_gpu_layers = n_gpu_layers
        self.gpu_offload = n_gpu_layers != 0 and bool(llama_cpp.llama_supports_gpu_offload())  # runs record it
        self.sampling_threads = self.n_threads if self.gpu_offload else 1  # (see _sample)
        if self.gpu_offload:  # (GPU kernels are not batch-invariant: docs/generation.md, "GPU")
            check_offload_order()
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

        train_ctx = llama_cpp.llama_model_n_ctx_train(self._model)
        # n_ctx is each sequence's context (a prompt plus its completion): every sequence has a KV
        # stream of its own (kv_unified off, see the module docstring), so the context holds
        # parallel + 1 of them.
        self.n_ctx = n_ctx or min(DEFAULT_CTX, train_ctx or DEFAULT_CTX)
        if not self.parallel:  # 64 or 32 slots where their KV cache fits in llama_setup.KV_BUDGET, else 16
            self.parallel = default_parallel(kv_bytes_per_token(llama_cpp, self._model), self.n_ctx, samples)
        self._sequences = max(self.parallel, MIN_STEP_ROWS)  # slots 1..parallel sample; the rest only pad steps
        self.n_batch = min(n_batch, self.n_ctx)
        ctx_params = context_params(llama_cpp, self.n_ctx, self._sequences, self.n_batch, self.n_threads)
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
    ) -> Generator[tuple[Hashable, GenerationEvent], None, None]:
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
                live.append(_Sample(index=index, slot=slot, rng=np.random.default_rng(current.seeds[index]), started=time.perf_counter(), request=current))
                step_logits.append(cast(np.ndarray, current.logits))  # its first token comes from the prompt's logits
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
                delta = unstreamed(sample, params.stop, final=finish is not None)
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
                    yield request.key, finished_event(sample, finish, params)
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
        thread on the CPU: a second one halved the sampling time but slowed llama.cpp's next decode
        more (measured 114 against 143 tokens/s); with GPU offload on sampling_threads (the CPU waits)."""
        groups: dict[tuple[float, float], list[int]] = {}
        for i, sample in enumerate(live):
            p = sample.request.params
            groups.setdefault((p.temperature, p.top_p), []).append(i)
        chosen = [0] * len(live)
        logprobs = [0.0] * len(live)
        for (temperature, top_p), positions in groups.items():
            uniforms = np.array([0.0 if temperature == 0 else live[i].rng.random() for i in positions])
            tokens, lps = sample_with_logprobs([rows[i] for i in positions], temperature, top_p, uniforms, threads=self.sampling_threads)
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

    def generate_token_ids(self, prompt: str, params: SamplingParams) -> list[list[int]]:
        """Every sample's sampled token ids (to the stop, end-of-generation excluded), for tests and tools."""
        collections.deque(self.generate(prompt, params), maxlen=0)
        return [self.last_token_ids[i] for i in range(params.n)]

    # --- the rest of the Backend protocol --------------------------------------------------------

    def describe(self) -> dict:
        from pycodex.generation.models import model_sha256

        return {
            "kind": self.name,
            "model_path": str(self.model_path),
            "model_rule": self.model_rule,
            "sha256": model_sha256(self.model_path),
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "n_gpu_layers": self.n_gpu_layers,
            "gpu_offload": self.gpu_offload,
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
        with contextlib.suppress(Exception):
            self.close()
