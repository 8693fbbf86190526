"""The response bodies the loopback benchmarks serve: OpenAI-style chat completion
streams, byte for byte what an OpenAI-compatible server sends when asked for
logprobs and usage (role chunk, one chunk per token, finish chunk, usage chunk,
[DONE]). Deterministic, so every run and both sides of a comparison see the
same bytes."""
from __future__ import annotations

import itertools
import json
from typing import Any, Iterator, NamedTuple, Sequence

QUERY = "Explain how a lighthouse keeps ships safe at night."
# Plain prose on the query's subject: accepted by our validators and cascadeflow's.
_PROSE = (
    "A lighthouse keeps ships safe at night by projecting powerful illumination from "
    "an elevated tower, so navigators recognise dangerous coastlines from considerable "
    "distances. Every lighthouse flashes a distinctive characteristic sequence, which "
    "tells experienced mariners precisely which headland they are observing and where "
    "treacherous rocks, shallow sandbanks and unpredictable currents are located. The "
    "Fresnel lens concentrates the illumination of a single lamp into a narrow rotating "
    "beam, and conscientious keepers guarantee that the lamp remains burning throughout "
    "the night."
)
WORDS = tuple(_PROSE.split(" "))
LOGPROB = -0.012  # a confident draft: mean token probability about 0.99
CREATED = 1700000000


def _words() -> Iterator[str]:
    for i in itertools.count():
        yield ("" if i == 0 else " ") + WORDS[i % len(WORDS)]


def subword_tokens(count: int, size: int = 3) -> list[str]:
    """`count` tokens of at most `size` characters, cut from the prose the way a
    tokenizer cuts words into pieces. Three characters a token keeps a
    2,000-token answer under 900 words, which cascadeflow's length check (for a
    'moderate' query) requires before it accepts a draft."""
    out: list[str] = []
    for word in _words():
        out += [word[i:i + size] for i in range(0, len(word), size)]
        if len(out) >= count:
            return out[:count]
    return out


def phrase_tokens(count: int, words: int = 3) -> list[str]:
    """`count` chunks of `words` words each (servers that batch tokens send these)."""
    source = _words()
    return ["".join(next(source) for _ in range(words)) for _ in range(count)]


def _chunk(delta: dict[str, Any], logprobs: Any = None, finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
    return {
        "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": CREATED,
        "model": "bench-draft", "system_fingerprint": "fp_bench", "choices": [choice],
    }


def _token_chunk(text: str) -> dict[str, Any]:
    entry = {"token": text, "logprob": LOGPROB, "bytes": list(text.encode()), "top_logprobs": []}
    return _chunk({"content": text}, {"content": [entry]})


def _usage_chunk(chunks: int) -> dict[str, Any]:
    usage = {"prompt_tokens": 14, "completion_tokens": chunks, "total_tokens": 14 + chunks}
    return {**_chunk({}), "choices": [], "usage": usage}


def openai_events(tokens: Sequence[str]) -> list[bytes]:
    """The SSE events of a stream with one content chunk per token, [DONE] last."""
    payloads = [_chunk({"role": "assistant", "content": ""})]
    payloads += [_token_chunk(text) for text in tokens]
    payloads += [_chunk({}, None, "stop"), _usage_chunk(len(tokens))]
    events = [f"data: {json.dumps(p, separators=(',', ':'))}\n\n" for p in payloads]
    return [event.encode() for event in events + ["data: [DONE]\n\n"]]


def openai_body(tokens: Sequence[str]) -> bytes:
    """The whole SSE body of `openai_events`, in one piece."""
    return b"".join(openai_events(tokens))


def draft_text(tokens: int) -> tuple[str, list[float]]:
    """A realistic draft of `tokens` tokens and one logprob per token, for the
    decision benchmarks (varied, like a real model's)."""
    # Mostly near-certain tokens, a few doubtful ones (down to p = 0.55).
    logprobs = [-0.002 - 0.6 * (((i * 7919) % 97) / 96) ** 4 for i in range(tokens)]
    return _prose_of(4 * tokens), logprobs


def _prose_of(chars: int) -> str:
    """Whole words up to about `chars` characters (English averages about four
    characters a token)."""
    parts: list[str] = []
    size = 0
    for word in _words():
        if size >= chars:
            return "".join(parts)
        parts.append(word)
        size += len(word)
    return "".join(parts)


# The streams the loopback server serves, by name: written in one piece, as fast as
# the client reads them.
STREAMS = {
    "long": lambda: subword_tokens(2000),  # per-event overhead
    "short": lambda: phrase_tokens(8),  # fixed cost per request, time to first token
}


class Pace(NamedTuple):
    """When a paced stream's events leave, measured from the request's arrival: the
    first after `first_s` (the model's prefill), then one every `gap_s` (decoding)."""

    first_s: float
    gap_s: float


# Paced streams, like a hosted model's: 200 ms to the first token, then 50 tokens/s.
PACED = {"paced": (lambda: phrase_tokens(48, words=1), Pace(0.2, 0.02))}
