"""A scriptable fake provider, for tests and demos only (`provider: fake`).

Responses come from, in order: outputs queued in the tier's own script, given
through its options (`script = FakeScript().enqueue("Paris.")`, then
`ModelConfig(name="small", provider="fake", options={"script": script})`), then
`options.responses` in the YAML (the first whose `match` regex finds the last user
message, taken in turn), then `options.default`. The script also records each
request; a tier without one gets a fresh script that only its provider sees
(`provider.script`). A response is a mapping:

  text: "answer"            # split into word chunks unless `chunks` is given
  chunks: ["ans", "wer"]
  logprob: -0.05            # the same logprob for every chunk, or
  logprobs: [-0.1, -2.3]    # one per chunk
  tool_calls: [{id, name, arguments (str or dict), fragments: [..]}]
  usage: {input: 12, output: 3} | "none"   # default: counted from the text
  finish_reason: stop
  refusal: "I can't help with that."
  error: {kind: server, status: 500, message: "...", after_chunks: 0}

It can also read a text it did not write (`score`, for the `likelihood` signal):
one logprob per word of the text, from the first of `options.score` whose `match`
regex finds the text ({match, logprob}, or {match, error: {...}}), else
`options.score_default` (default -0.1). Input tokens: the prompt's words plus the text's.
"""
from __future__ import annotations

import json
import re
from collections import deque
from typing import Any, AsyncIterator, Mapping

from cascadectl.config.model import TierConfig
from cascadectl.errors import ConfigError, ProviderError
from cascadectl.providers.base import ProviderRequest, Scored
from cascadectl.streaming.deltas import Delta, ExtraDelta, FinishDelta, TextDelta, TokenLogprob, ToolCallDelta, UsageDelta

Response = Mapping[str, Any]


class FakeScript:
    """Outputs queued for one fake tier, consumed first-in first-out, and the requests it got."""

    def __init__(self) -> None:
        self.queue: deque[Response] = deque()
        self.requests: list[ProviderRequest] = []

    def enqueue(self, *responses: Response | str) -> FakeScript:
        for response in responses:
            self.queue.append({"text": response} if isinstance(response, str) else response)
        return self


class FakeProvider:
    name = "fake"

    def __init__(self, tier: TierConfig, client: Any = None) -> None:
        self.tier = tier
        self.script = _script_of(tier)
        self._turns: dict[int, int] = {}

    async def aclose(self) -> None:
        return None

    async def score(self, request: ProviderRequest, text: str) -> Scored:
        words = text.split()
        rule = next((r for r in self.tier.options.get("score", ()) if re.search(r.get("match", ""), text)), {})
        if rule.get("error"):
            raise _error(rule["error"], self.tier.name, started=False)
        logprob = float(rule.get("logprob", self.tier.options.get("score_default", -0.1)))
        prompt = sum(len(str(m.get("content", "")).split()) for m in request.messages)
        return Scored(tuple(logprob for _ in words), prompt + len(words))

    async def stream(self, request: ProviderRequest) -> AsyncIterator[Delta]:
        script = self.script
        script.requests.append(request)
        response = script.queue.popleft() if script.queue else self._scripted(request)
        for delta in _deltas(response, request, self.tier.name):
            yield delta

    def _scripted(self, request: ProviderRequest) -> Response:
        query = _last_user_text(request)
        for index, rule in enumerate(self.tier.options.get("responses", ())):
            if re.search(rule.get("match", ""), query):
                return _take_turn(rule, self._turns, index)
        default = self.tier.options.get("default")
        if default is None:
            raise ProviderError(
                f"fake provider {self.tier.name!r}: no scripted response for {query[:60]!r}",
                kind="bad_request",
                provider="fake",
            )
        return {"text": default} if isinstance(default, str) else default


def _script_of(tier: TierConfig) -> FakeScript:
    """The tier's own script, or a fresh one that only this provider sees."""
    script = tier.options.get("script")
    if script is None:
        return FakeScript()
    if not isinstance(script, FakeScript):
        raise ConfigError(
            f"tier {tier.name!r}: options.script must be a cascadectl.providers.fake.FakeScript, got {script!r}"
        )
    return script


def _take_turn(rule: Mapping[str, Any], turns: dict[int, int], index: int) -> Response:
    """A rule may list several `replies`, served in turn (the last repeats)."""
    replies = rule.get("replies")
    if not replies:
        return rule
    turn = turns.get(index, 0)
    turns[index] = turn + 1
    reply = replies[min(turn, len(replies) - 1)]
    return {"text": reply} if isinstance(reply, str) else reply


def _last_user_text(request: ProviderRequest) -> str:
    for message in reversed(request.messages):
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return ""


def _chunks(response: Response) -> list[str]:
    if "chunks" in response:
        return list(response["chunks"])
    words = re.findall(r"\S+\s*|\s+", str(response.get("text", "")))
    return words


def _deltas(response: Response, request: ProviderRequest, tier: str) -> list[Delta]:
    error = response.get("error")
    chunks = _chunks(response)
    if error is not None and not error.get("after_chunks"):
        raise _error(error, tier, started=False)
    out: list[Delta] = _text_deltas(response, chunks, request.logprobs)
    if error is not None:
        return _ErrorAfter(out[: error["after_chunks"]], _error(error, tier, started=True))
    if response.get("refusal"):
        out.append(ExtraDelta("refusal", str(response["refusal"])))
    out.extend(_tool_deltas(response.get("tool_calls") or ()))
    usage = response.get("usage")
    if usage != "none":
        out.append(_usage(usage, request, chunks))
    finish = response.get("finish_reason") or ("tool_calls" if response.get("tool_calls") else "stop")
    out.append(FinishDelta(finish))
    return out


def _text_deltas(response: Response, chunks: list[str], want_logprobs: bool) -> list[Delta]:
    per_chunk = response.get("logprobs")
    single = float(response.get("logprob", -0.05))
    deltas: list[Delta] = []
    for i, chunk in enumerate(chunks):
        lp = float(per_chunk[i]) if per_chunk is not None else single
        logprobs = (TokenLogprob(chunk, lp),) if want_logprobs else None
        deltas.append(TextDelta(chunk, logprobs))
    return deltas


def _tool_deltas(calls: Any) -> list[Delta]:
    deltas: list[Delta] = []
    for index, call in enumerate(calls):
        args = call.get("arguments", {})
        raw = args if isinstance(args, str) else json.dumps(args)
        fragments = call.get("fragments") or [raw[i : i + 8] for i in range(0, len(raw), 8)] or [""]
        call_id = call.get("id", f"call_{index}")
        deltas.append(ToolCallDelta(index, call_id, call["name"], fragments[0]))
        deltas.extend(ToolCallDelta(index, None, None, f) for f in fragments[1:])
    return deltas


def _usage(usage: Any, request: ProviderRequest, chunks: list[str]) -> UsageDelta:
    if isinstance(usage, Mapping):
        return UsageDelta(usage.get("input"), usage.get("output"), usage.get("cached_input", 0))
    prompt = sum(len(str(m.get("content", "")).split()) for m in request.messages)
    return UsageDelta(prompt + 3, len(chunks), 0)


def _error(spec: Mapping[str, Any], tier: str, started: bool) -> ProviderError:
    return ProviderError(
        str(spec.get("message", f"scripted {spec.get('kind', 'server')} error")),
        kind=str(spec.get("kind", "server")),
        status=spec.get("status"),
        retry_after=spec.get("retry_after"),
        started=started,
        provider="fake",
    )


class _ErrorAfter(list):  # type: ignore[type-arg]
    """Deltas followed by an error raised once they have been handed out."""

    def __init__(self, deltas: list[Delta], error: ProviderError) -> None:
        super().__init__(deltas)
        self.error = error

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield from list.__iter__(self)
        raise self.error
