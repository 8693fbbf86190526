"""The token loop of the llamacpp provider: one generation, run on the llama thread
under the model's lock, turning sampled tokens into deltas.

Logprobs are the log-softmax of the sampled token over the logits of the last
decode, read straight from llama.cpp: no `logits_all` (which makes every prompt
position produce logits) and no per-token sort of the vocabulary.
"""
from __future__ import annotations

import codecs
import random
import threading
from typing import Any, Callable, NamedTuple, Sequence

from cascadectl.errors import ProviderError
from cascadectl.providers.base import Scored
from cascadectl.streaming.deltas import Delta, FinishDelta, UsageDelta
from cascadectl.providers.llamacpp.runtime import SharedModel, import_llama_cpp
from cascadectl.providers.llamacpp.text import StopScanner, TextEmitter, ToolCallSplitter

Sink = Callable[[Delta], None]


class Sampling(NamedTuple):
    max_tokens: int
    temperature: float
    top_k: int
    top_p: float
    min_p: float
    repeat_penalty: float
    seed: int | None
    logprobs: bool


class Job(NamedTuple):
    """One generation: the prompt text, how to sample, how to shape the output."""

    prompt: str
    add_bos: bool
    sampling: Sampling
    stops: tuple[str, ...] = ()
    strip_leading: bool = False  # drop the whitespace a base model puts after "Answer:"
    grammar_schema: str | None = None  # a JSON Schema: constrain output to one tool call


class WorkerExit(NamedTuple):
    """How a generation ended, reported to the `on_worker_exit` hook."""

    tokens: int
    reason: str  # stop | length | cancelled | error


def run_job(model: SharedModel, job: Job, sink: Sink, cancel: threading.Event) -> WorkerExit:
    """Generate under the model lock; deltas go to `sink`. Returns how it ended."""
    with model.lock:
        if cancel.is_set():
            return WorkerExit(0, "cancelled")
        prompt_tokens = _prompt_tokens(model, job)
        loop = _TokenLoop(model, job, sink, cancel, len(prompt_tokens))
        loop.run(prompt_tokens)
    if loop.reason != "cancelled":
        sink(UsageDelta(input_tokens=len(prompt_tokens), output_tokens=loop.count))
        sink(FinishDelta(loop.reason))
    return WorkerExit(loop.count, loop.reason)


def _prompt_tokens(model: SharedModel, job: Job) -> list[int]:
    return _tokens_within_context(model, job.prompt, job.add_bos, 0)


def _tokens_within_context(model: SharedModel, prompt: str, add_bos: bool, extra: int) -> list[int]:
    tokens: list[int] = model.llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)
    if len(tokens) + extra >= model.n_ctx:
        raise ProviderError(
            f"llamacpp: the prompt is {len(tokens)} tokens but the model context (n_ctx) is {model.n_ctx}; "
            "raise options.n_ctx or shorten the conversation",
            kind="bad_request",
            provider="llamacpp",
        )
    return tokens


class _TokenLoop:
    """The per-token work: sample, score, decode, split into deltas, decide to stop."""

    def __init__(self, model: SharedModel, job: Job, sink: Sink, cancel: threading.Event, n_prompt: int) -> None:
        self.llm, self.job, self.sink, self.cancel = model.llm, job, sink, cancel
        self.budget = min(job.sampling.max_tokens, model.n_ctx - n_prompt)
        self.llama_cpp = import_llama_cpp()
        self.numpy = _numpy()
        self.vocab = self.llama_cpp.llama_model_get_vocab(self.llm.model)
        self.vocab_size = self.llm.n_vocab()
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.emitter = TextEmitter(StopScanner(job.stops), strip_leading=job.strip_leading)
        self.splitter = ToolCallSplitter() if job.grammar_schema else None
        self.count = 0
        self.reason = "length"

    def run(self, prompt_tokens: Sequence[int]) -> None:
        if self.budget <= 0:
            return
        generator = self.llm.generate(prompt_tokens, **self._generate_args())
        try:
            for token in generator:
                if not self._step(token):
                    break
        finally:
            generator.close()
        if self.reason != "cancelled" and self.splitter is None:
            self._emit_text(self.emitter.feed(self.decoder.decode(b"", final=True), None))
            self._emit_text(self.emitter.finish())

    def _generate_args(self) -> dict[str, Any]:
        s = self.job.sampling
        self.llm.set_seed(s.seed if s.seed is not None else random.randrange(2**31))
        args = dict(temp=max(s.temperature, 0.0), top_k=s.top_k, top_p=s.top_p, min_p=s.min_p)
        args.update(repeat_penalty=s.repeat_penalty, grammar=self._grammar())
        return args

    def _grammar(self) -> Any:
        if self.job.grammar_schema is None:
            return None
        return self.llama_cpp.LlamaGrammar.from_json_schema(self.job.grammar_schema, verbose=False)

    def _step(self, token: int) -> bool:
        """Handle one sampled token; False ends the generation."""
        if self.cancel.is_set():
            self.reason = "cancelled"
            return False
        if self.llama_cpp.llama_vocab_is_eog(self.vocab, token):
            self.reason = "stop"
            return False
        logprob = self._logprob(token) if self.job.sampling.logprobs else None
        self.count += 1
        self._emit_piece(self.decoder.decode(self.llm.detokenize([token])), logprob)
        if self.reason != "length":
            return False
        return self.count < self.budget

    def _logprob(self, token: int) -> float:
        # The sampled token's log-softmax from the logits of the last decode: no
        # logits_all (which slows prompt processing) and no per-token vocab sort.
        return token_logprob(self.llama_cpp, self.llm.ctx, self.vocab_size, -1, token)

    def _emit_piece(self, piece: str, logprob: float | None) -> None:
        if self.splitter is None:
            self._emit_text(self.emitter.feed(piece, logprob))
            if self.emitter.stopped:
                self.reason = "stop"
            return
        for delta in self.splitter.feed(piece):
            self.sink(delta)
        if self.splitter.done:
            self.reason = "tool_calls"  # the wrapper's closing brace adds nothing

    def _emit_text(self, delta: Delta | None) -> None:
        if delta is not None:
            self.sink(delta)


def token_logprob(llama_cpp: Any, ctx: Any, vocab_size: int, position: int, token: int) -> float:
    """log-softmax of `token` over the logits at output `position` of the last decode."""
    np = _numpy()
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, position), shape=(vocab_size,))
    top = float(logits.max())
    return min(0.0, float(logits[token]) - top - float(np.log(np.exp(logits - top).sum())))


def score_text(model: SharedModel, prompt: str, add_bos: bool, text: str) -> Scored:
    """The model's log-probability of each token of `text` after `prompt`: the prompt in
    one prefill, then the text in one batch with logits at every position (the text's
    last token needs none). Leaves prompt and text in the KV cache, so an answer to the
    same prompt that follows reuses the prefill."""
    with model.lock:
        llm, llama_cpp = model.llm, import_llama_cpp()
        text_tokens: list[int] = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        prompt_tokens = _tokens_within_context(model, prompt, add_bos, len(text_tokens))
        if not text_tokens:
            return Scored((), len(prompt_tokens))
        llm.reset()
        llm.eval(prompt_tokens)
        vocab = llm.n_vocab()
        logprobs = [token_logprob(llama_cpp, llm.ctx, vocab, -1, text_tokens[0])]
        if len(text_tokens) > 1:
            _decode_all_logits(llm, llama_cpp, text_tokens[:-1])
            logprobs += [token_logprob(llama_cpp, llm.ctx, vocab, i, t) for i, t in enumerate(text_tokens[1:])]
    return Scored(tuple(logprobs), len(prompt_tokens) + len(text_tokens))


def _decode_all_logits(llm: Any, llama_cpp: Any, tokens: list[int]) -> None:
    """Decode `tokens` after what the context holds, with logits at every position, and
    keep Llama's own bookkeeping of the cache (input_ids, n_tokens) in step."""
    n_past, count = llm.n_tokens, len(tokens)
    batch = llama_cpp.llama_batch_init(count, 0, 1)
    try:
        batch.n_tokens = count
        for i, token in enumerate(tokens):
            batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, n_past + i, 1, True
            batch.seq_id[i][0] = 0
        status = llama_cpp.llama_decode(llm.ctx, batch)
    finally:
        llama_cpp.llama_batch_free(batch)
    if status != 0:
        raise ProviderError(f"llamacpp: scoring failed (llama_decode returned {status})", kind="api_error", provider="llamacpp")
    llm.input_ids[n_past : n_past + count] = tokens
    llm.n_tokens += count


def _numpy() -> Any:
    import numpy  # a dependency of llama_cpp, so present whenever it is

    return numpy
