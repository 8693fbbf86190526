"""Cascade results and events -> OpenAI's response dicts.

`chat.completion` for a whole answer, `chat.completion.chunk` for a streamed one,
and what the cascade did, in fields and headers a client may ignore: the `cascade`
object (on the response, or on the last chunk before `data: [DONE]`) and the
`x-cascade-*` headers. `usage` sums every tier called, rejected drafts included.
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any, Mapping, NamedTuple, TypedDict

from cascadectl.serve.errors import APIError
from cascadectl.streaming.events import StreamEvent
from cascadectl.traces.records import CascadeResult, TierRecord

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter"})
TEXT_KINDS = frozenset({"chunk", "text_chunk"})


class Ids(NamedTuple):
    id: str  # also the query id in the server's trace
    created: int
    model: str  # the cascade's name, as the client asked for it


def new_ids(model: str) -> Ids:
    return Ids(f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), model)


class Usage(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


def usage(result: CascadeResult) -> Usage:
    return Usage(prompt_tokens=result.input_tokens, completion_tokens=result.output_tokens,
                 total_tokens=result.input_tokens + result.output_tokens)


def tier_info(tier: TierRecord) -> dict[str, Any]:
    return {"name": tier.tier, "model": tier.model, "status": tier.status, "phase": tier.phase, "cost": tier.cost}


def decision_info(decision: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {key: decision.get(key) for key in ("accepted", "score", "threshold", "reason")}


def cascade_info(result: CascadeResult) -> dict[str, Any]:
    return {
        "model": result.model_used,
        "tier": result.tier_used,
        "draft_accepted": result.draft_accepted,
        "route": result.routing_strategy,
        "complexity": result.complexity,
        "tiers": [tier_info(tier) for tier in result.tier_records()],
        "decision": decision_info(result.decision),
        "total_cost": result.total_cost,
        "verifier_only_cost": result.verifier_only_cost,
        "verifier_only_cost_estimated": result.verifier_only_cost_estimated,
        "savings": None if result.savings is None else round(result.savings, 6),
        "tokens_estimated": result.tokens_estimated,
        "latency_ms": result.latency_ms,
    }


def finish_reason(result: CascadeResult) -> str:
    reason = result.finish_reason
    if reason == "length":
        return "length"
    if result.tool_calls or result.incomplete_tool_calls:
        return "tool_calls"
    return reason if reason in FINISH_REASONS and reason != "tool_calls" else "stop"


def tool_calls(result: CascadeResult) -> list[dict[str, Any]]:
    calls = [(c["id"], c["name"], json.dumps(c["arguments"], ensure_ascii=False)) for c in result.tool_calls]
    # Calls cut off mid-arguments (finish_reason "length") go out as OpenAI sends them: truncated.
    calls += [(c["id"], c["name"], str(c.get("raw_arguments") or "")) for c in result.incomplete_tool_calls]
    return [{"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in calls]


def completion(ids: Ids, result: CascadeResult) -> dict[str, Any]:
    calls = tool_calls(result)
    message: dict[str, Any] = {"role": "assistant", "content": result.content or (None if calls else ""), "refusal": None}
    if calls:
        message["tool_calls"] = calls
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason(result)}
    return {"id": ids.id, "object": "chat.completion", "created": ids.created, "model": ids.model,
            "choices": [choice], "usage": usage(result), "system_fingerprint": None, "cascade": cascade_info(result)}


def headers(result: CascadeResult) -> dict[str, str]:
    cost = "unknown" if result.total_cost is None else f"{result.total_cost:.10f}".rstrip("0").rstrip(".")
    return {
        "x-cascade-model": _header(result.model_used),
        "x-cascade-tier": _header(result.tier_used),
        "x-cascade-cost-usd": cost or "0",
        "x-cascade-draft-accepted": "true" if result.draft_accepted else "false",
    }


def _header(value: str) -> str:
    return value.encode("ascii", "replace").decode("ascii")


def upstream_failure(data: Mapping[str, Any]) -> APIError:
    """ERROR (every tier failed) as a 502 naming each tier's error kind; upstream
    messages stay in the trace, as they may quote what the provider was sent."""
    parts = [_tier_failure(e) for e in data.get("errors") or ()] or [str(data.get("kind") or "error")]
    tiers = [tier_info(TierRecord.from_dict(t)) for t in data.get("tiers") or ()]
    extra = {"cascade": {"tiers": tiers, "total_cost": data.get("total_cost")}}
    return APIError(502, f"every tier of the cascade failed: {'; '.join(parts)}", type="upstream_error",
                    code="all_tiers_failed", headers={"x-should-retry": "false"}, extra=extra)


def _tier_failure(error: Mapping[str, Any]) -> str:
    status = f", HTTP {error['status']}" if error.get("status") else ""
    return f"{error.get('tier')}: {error.get('kind')}{status}"


def no_result() -> APIError:
    return APIError(502, "the cascade ended without an answer", type="upstream_error", code="no_result")


def sse(payload: Mapping[str, Any]) -> bytes:
    """One `data:` event of the stream."""
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


_MARK = "\x00cascadectl-content\x00"  # stands for the text when a chunk's template is cut
_encode_text = json.JSONEncoder(ensure_ascii=False).encode  # a string, as json.dumps(..., ensure_ascii=False)


def _text_template(chunk: Mapping[str, Any]) -> tuple[bytes, bytes] | None:
    """(before, after) the encoded text in `chunk`'s SSE event; None if the marker is ambiguous."""
    text, mark = sse(chunk), _encode_text(_MARK).encode()
    before, found, after = text.partition(mark)
    return (before, after) if found and mark not in after else None


class Chunks:
    """The `chat.completion.chunk` dicts of one streamed answer, event by event.

    Tool calls follow OpenAI: the first delta of a call carries index, id, type and
    function.name (arguments ""), then argument fragments by index."""

    def __init__(self, ids: Ids, include_usage: bool) -> None:
        self.ids = ids
        self.include_usage = include_usage
        self.index_of: dict[str, int] = {}  # tool call id -> index
        self.with_arguments: set[int] = set()  # indexes whose argument text went out
        # Text deltas are nearly every event: their bytes come from the encoded chunk
        # with only the text encoded per event (0.4 us a chunk, against 4.4 us encoding it whole).
        self._text = _text_template(self.chunk({"content": _MARK}))

    def wire(self, event: StreamEvent) -> bytes:
        """`for_event`, encoded as SSE events."""
        if event.type._value_ in TEXT_KINDS:
            return self._text_wire(event.content)
        return b"".join([sse(chunk) for chunk in self.for_event(event)])

    def wire_all(self, events: list[StreamEvent]) -> bytes:
        """`wire` of each event, with each run of text events as one content delta: a
        held draft, released whole, goes out as one chunk rather than one per token."""
        out: list[bytes] = []
        texts: list[str] = []
        for event in events:
            if event.type._value_ in TEXT_KINDS:
                texts.append(event.content)
                continue
            if texts:
                out.append(self._text_wire("".join(texts)))
                texts = []
            out.append(self.wire(event))
        if texts:
            out.append(self._text_wire("".join(texts)))
        return b"".join(out)

    def _text_wire(self, text: str) -> bytes:
        if not text:
            return b""
        if self._text is None:
            return sse(self.chunk({"content": text}))
        before, after = self._text
        return before + _encode_text(text).encode() + after

    def chunk(self, delta: Mapping[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.ids.id, "object": "chat.completion.chunk", "created": self.ids.created, "model": self.ids.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": dict(delta), "logprobs": None, "finish_reason": finish}],
        }
        if self.include_usage:
            out["usage"] = None
        out.update(extra)
        return out

    def opening(self) -> dict[str, Any]:
        return self.chunk({"role": "assistant", "content": ""})

    def for_event(self, event: StreamEvent) -> list[dict[str, Any]]:
        kind = event.type._value_
        if kind in TEXT_KINDS:
            return [self.chunk({"content": event.content})] if event.content else []
        if kind == "tool_call_start":
            return [self._call_start(event.data)]
        if kind == "tool_call_delta":
            return self._arguments(int(event.data["index"]), getattr(event, "delta", None) or "")
        if kind == "tool_call_complete":
            return self._complete_call(event.data["tool_call"])
        if kind == "switch":
            return [self.retraction(event.data)]
        if kind == "complete":
            return self.closing(CascadeResult.from_dict(event.data["result"]))
        return []

    def _call_start(self, data: Mapping[str, Any]) -> dict[str, Any]:
        index = int(data["index"])
        self.index_of[str(data["id"])] = index
        call = {"index": index, "id": data["id"], "type": "function", "function": {"name": data["name"], "arguments": ""}}
        return self.chunk({"tool_calls": [call]})

    def _arguments(self, index: int, text: str) -> list[dict[str, Any]]:
        if not text:
            return []
        self.with_arguments.add(index)
        return [self.chunk({"tool_calls": [{"index": index, "function": {"arguments": text}}]})]

    def _complete_call(self, call: Mapping[str, Any]) -> list[dict[str, Any]]:
        # A call that streamed no argument text (a provider sending `{}` whole, say)
        # still owes the client its arguments as JSON.
        index = self.index_of.get(str(call.get("id")))
        if index is None or index in self.with_arguments:
            return []
        return self._arguments(index, json.dumps(call.get("arguments") or {}, ensure_ascii=False))

    def retraction(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Live drafts only: discard everything this answer streamed so far."""
        self.index_of, self.with_arguments = {}, set()
        marker = {"retract": True, "from_model": data.get("from_model"), "to_model": data.get("to_model"),
                  "reason": data.get("reason"), "kind": data.get("kind")}
        return self.chunk({}, cascade=marker)

    def closing(self, result: CascadeResult) -> list[dict[str, Any]]:
        info = cascade_info(result)
        finish = self.chunk({}, finish_reason(result))
        if not self.include_usage:
            finish["cascade"] = info
            return [finish]
        last = {key: finish[key] for key in ("id", "object", "created", "model", "system_fingerprint")}
        return [finish, {**last, "choices": [], "usage": usage(result), "cascade": info}]
