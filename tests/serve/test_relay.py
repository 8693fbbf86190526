"""What reaches the wire: no retracted text by default, the retraction marker with
--live-drafts, 502 when every tier fails, and a client hanging up mid-stream."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from cascadectl.config.model import RoutingConfig
from cascadectl.providers.fake import FakeScript
from cascadectl.serve.app import create_app
from cascadectl.serve.relay import ChatResponse, Gate
from cascadectl.serve.responses import Ids
from cascadectl.streaming.events import StreamEvent, StreamEventType as S
from cascadectl.traces.records import CascadeResult
from cascadectl.traces.writer import TraceWriter
from cascadectl import CascadeAgent, ModelConfig
from tests.serve.conftest import settings
from tests.serve.support import WAIT, Hold, LiveServer, call, held_agent, qa_agent, sse_payloads, trace_lines, use_held_provider, user

CHAT = "/v1/chat/completions"
GERMANY = user("What is the capital of Germany?")  # the drafter hedges "Lyon": a rejected draft


def stream_body(app: Any, **body: Any) -> httpx.Response:
    return call(app, "POST", CHAT, json={"model": "qa", "messages": GERMANY, "stream": True, **body})


def test_a_rejected_draft_never_reaches_the_client_by_default() -> None:
    response = stream_body(create_app({"qa": qa_agent()}, settings()))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert "Lyon" not in response.text and "retract" not in response.text
    payloads = list(sse_payloads(response.text))
    assert payloads[-1] == "[DONE]"
    text = "".join(p["choices"][0]["delta"].get("content") or "" for p in payloads[:-1] if p["choices"])
    assert text == "The capital of Germany is Berlin."


def test_an_accepted_held_draft_goes_out_as_one_delta_and_a_live_one_token_by_token() -> None:
    france = user("What is the capital of France?")
    contents = {}
    for live in (False, True):
        response = call(create_app({"qa": qa_agent()}, settings(live_drafts=live)), "POST", CHAT,
                        json={"model": "qa", "messages": france, "stream": True})
        payloads = [p for p in sse_payloads(response.text) if p != "[DONE]" and p["choices"]]
        contents[live] = [p["choices"][0]["delta"]["content"] for p in payloads if p["choices"][0]["delta"].get("content")]
    assert contents[False] == ["The capital of France is Paris."]
    assert len(contents[True]) > 1 and "".join(contents[True]) == "The capital of France is Paris."


def test_live_drafts_stream_the_draft_then_retract_it() -> None:
    response = stream_body(create_app({"qa": qa_agent()}, settings(live_drafts=True)))
    payloads = [p for p in sse_payloads(response.text) if p != "[DONE]"]
    marks = [i for i, p in enumerate(payloads) if (p.get("cascade") or {}).get("retract")]
    assert len(marks) == 1
    before, marker, after = payloads[:marks[0]], payloads[marks[0]], payloads[marks[0] + 1:]
    content = lambda ps: "".join(p["choices"][0]["delta"].get("content") or "" for p in ps if p["choices"])  # noqa: E731
    assert content(before) == "I think maybe it is Lyon, not sure."
    assert marker["choices"] == [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": None}]
    assert marker["cascade"] == {"retract": True, "from_model": "small", "to_model": "big", "kind": "rejected",
                                 "reason": marker["cascade"]["reason"]}
    assert marker["cascade"]["reason"].startswith("rejected")
    assert content(after) == "The capital of Germany is Berlin."


def test_live_drafts_through_the_sdk_a_client_that_ignores_the_marker_still_parses(served_live: str) -> None:
    sdk = openai.OpenAI(base_url=f"{served_live}/v1", api_key="unused", max_retries=0)
    answer, retracted = "", []
    for chunk in sdk.chat.completions.create(model="qa", messages=GERMANY, stream=True):
        if (chunk.model_extra.get("cascade") or {}).get("retract"):
            retracted.append(answer)
            answer = ""  # what docs/serve.md tells a client to do
        elif chunk.choices:
            answer += chunk.choices[0].delta.content or ""
    assert retracted == ["I think maybe it is Lyon, not sure."] and answer == "The capital of Germany is Berlin."


@pytest.fixture
def served_live() -> Any:
    with LiveServer(create_app({"qa": qa_agent()}, settings(live_drafts=True))) as live:
        yield live.url


def three_tiers(middle: dict[str, Any]) -> CascadeAgent:
    """Routed straight to the middle tier, which may fail over to the last."""
    tiers = [("a", {"default": "x"}), ("b", middle), ("c", {"default": "From the last tier."})]
    models = [ModelConfig(name=n, provider="fake", input_price=1.0, output_price=1.0, options=o) for n, o in tiers]
    return CascadeAgent(models=models, routing=RoutingConfig(default="direct", direct_tier="b"))


def test_output_of_a_tier_that_fails_over_is_held_by_default_and_retracted_when_live() -> None:
    failing = {"default": {"text": "Partial words from b", "error": {"kind": "connection", "after_chunks": 2}}}
    held = stream_body(create_app({"qa": three_tiers(failing)}, settings()))
    assert "Partial" not in held.text and "From the last tier." in "".join(
        p["choices"][0]["delta"].get("content") or "" for p in sse_payloads(held.text) if p != "[DONE]" and p["choices"])
    live = stream_body(create_app({"qa": three_tiers(failing)}, settings(live_drafts=True)))
    marker = next(p for p in sse_payloads(live.text) if p != "[DONE]" and "cascade" in p and p["cascade"].get("retract"))
    assert marker["cascade"]["kind"] == "provider_error" and "Partial" in live.text


def test_the_gate_holds_until_the_last_reachable_tier() -> None:
    routing = StreamEvent(S.ROUTING, data={"tiers": ["a", "b"]})
    draft, final = StreamEvent(S.CHUNK, "draft", model="a"), StreamEvent(S.CHUNK, "final", model="b")
    switch = StreamEvent(S.SWITCH, data={"retract": True})
    complete = StreamEvent(S.COMPLETE, data={})
    gate = Gate(live=False)
    assert [gate.feed(e) for e in (routing, draft, switch, final, complete)] == [[], [], [], [final], [complete]]
    gate = Gate(live=False)
    assert [gate.feed(e) for e in (routing, draft, complete)] == [[], [], [draft, complete]]
    gate = Gate(live=True)
    assert [gate.feed(e) for e in (routing, draft, switch, final)] == [[], [draft], [switch], [final]]


@pytest.mark.parametrize("stream", [False, True])
def test_every_tier_failing_is_502_naming_each_tiers_error(stream: bool) -> None:
    body = {"model": "qa", "messages": user("boom"), "stream": stream}
    response = call(create_app({"qa": qa_agent()}, settings()), "POST", CHAT, json=body)
    assert response.status_code == 502 and response.headers["x-should-retry"] == "false"
    payload = response.json()
    error = payload["error"]
    assert error["code"] == "all_tiers_failed" and error["type"] == "upstream_error"
    assert "drafter: server, HTTP 500" in error["message"] and "verifier: overloaded, HTTP 529" in error["message"]
    assert "scripted" not in error["message"]  # upstream messages stay in the trace
    assert [(t["name"], t["status"]) for t in payload["cascade"]["tiers"]] == [("drafter", "failed"), ("verifier", "failed")]


def test_the_sdk_raises_on_502() -> None:
    with LiveServer(create_app({"qa": qa_agent()}, settings())) as live:
        sdk = openai.OpenAI(base_url=f"{live.url}/v1", api_key="unused")  # default retries: the header stops them
        with pytest.raises(openai.InternalServerError) as caught:
            sdk.chat.completions.create(model="qa", messages=user("boom"))
    assert caught.value.status_code == 502


def test_a_client_hanging_up_mid_stream_closes_the_upstream_stream(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_held_provider(monkeypatch)
    hold = Hold(after=2)
    trace = tmp_path / "serve.jsonl"
    app = create_app({"qa": held_agent(hold)}, settings(), trace=TraceWriter(trace))
    with LiveServer(app) as live:
        body = {"model": "qa", "messages": GERMANY, "stream": True}
        with httpx.stream("POST", f"{live.url}{CHAT}", json=body, timeout=WAIT) as response:
            seen = ""
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    seen += json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                if seen == "The capital ":
                    break  # hang up while the upstream is held
        assert hold.closed.wait(WAIT), "the upstream stream was not closed"
        assert not hold.finished.is_set()
    lines = trace_lines(trace)  # whole lines only: each parses
    assert lines[0]["type"] == "query" and not any(line["type"] == "complete" for line in lines)


def test_a_drafter_script_sees_the_rejected_drafts_request_once() -> None:
    drafter = FakeScript()
    call(create_app({"qa": qa_agent(drafter)}, settings()), "POST", CHAT, json={"model": "qa", "messages": GERMANY})
    assert len(drafter.requests) == 1 and drafter.requests[0].messages == GERMANY


def test_the_answer_ends_before_the_cascade_closes_and_its_closing_is_not_cut_short() -> None:
    """One write carries the held draft, [DONE] and the body's end; the cascade's own
    cleanup (closing provider streams) runs after, uncancelled by the disconnect
    uvicorn reports once a response is complete."""
    result = CascadeResult(content="Paris.", model_used="small", tier_used="drafter", draft_accepted=True,
                           routing_strategy="cascade", complexity="trivial", total_cost=0.0, latency_ms=1.0,
                           ttft_ms=1.0, finish_reason="stop", input_tokens=1, output_tokens=1)

    async def scenario() -> tuple[list[dict[str, Any]], list[str], list[str]]:
        release, ended, log = asyncio.Event(), asyncio.Event(), []
        sent: list[dict[str, Any]] = []

        async def events() -> Any:
            try:
                yield StreamEvent(S.ROUTING, data={"tiers": ["drafter", "verifier"]})
                yield StreamEvent(S.CHUNK, "Paris.", model="small", phase="draft")
                yield StreamEvent(S.COMPLETE, data={"result": result.to_dict()})
            finally:
                log.append("closing")
                await release.wait()
                log.append("closed")

        async def receive() -> dict[str, Any]:
            await ended.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message["more_body"]:
                ended.set()

        response = ChatResponse(events(), Ids("chatcmpl-t", 1, "qa"), stream=True, include_usage=False, live=False)
        task = asyncio.ensure_future(response({"type": "http"}, receive, send))
        for _ in range(1000):  # loop turns, not time
            if "closing" in log:
                break
            await asyncio.sleep(0)
        at_close = [m["type"] for m in sent]
        for _ in range(10):  # the disconnect is delivered while the cascade is still closing
            await asyncio.sleep(0)
        release.set()
        await task
        return sent, at_close, log

    sent, at_close, log = asyncio.run(scenario())
    assert at_close == ["http.response.start", "http.response.body"] and log == ["closing", "closed"]
    (body,) = [m for m in sent if m["type"] == "http.response.body"]
    assert body["more_body"] is False and body["body"].endswith(b"data: [DONE]\n\n")
    payloads = list(sse_payloads(body["body"].decode()))
    assert payloads[1]["choices"][0]["delta"] == {"content": "Paris."} and payloads[-1] == "[DONE]"
