"""Wire-accurate bodies for the loopback server: OpenAI chat.completion.chunk and
Anthropic Messages streams built from words, with usage and logprobs."""
from __future__ import annotations

import math
from typing import Any

from tests.support.sse_server import Scripted, anthropic_events, openai_events


def openai_text(words: list[str], *, prob: float = 0.97, model: str = "m", usage: tuple[int, int] | None = (12, 0)) -> Scripted:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model}
    lp = math.log(prob)
    payloads: list[Any] = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}]}]
    for word in words:
        logprobs = {"content": [{"token": word, "logprob": lp, "bytes": list(word.encode()), "top_logprobs": []}]}
        payloads.append({**base, "choices": [{"index": 0, "delta": {"content": word}, "logprobs": logprobs, "finish_reason": None}]})
    payloads.append({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]})
    if usage is not None:
        prompt, _ = usage
        payloads.append({**base, "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": len(words), "total_tokens": prompt + len(words)}})
    return Scripted(200, tuple(openai_events(payloads)))


def anthropic_text(words: list[str], *, model: str = "claude-x", input_tokens: int = 15) -> Scripted:
    payloads: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
                                              "stop_reason": None, "usage": {"input_tokens": input_tokens, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
    ]
    payloads += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}} for w in words]
    payloads += [
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": len(words)}},
        {"type": "message_stop"},
    ]
    return Scripted(200, tuple(anthropic_events(payloads)))
