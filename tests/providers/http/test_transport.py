"""Retries, timeouts and failure classification, against a real loopback server."""
from __future__ import annotations

import asyncio
import logging
import socket
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from cascadectl.config.model import Timeouts
from cascadectl.providers.http.transport import RetryPolicy, build_timeout, parse_retry_after
from tests.providers import helpers as h
from tests.support.sse_server import Scripted, SSEServer, json_response, openai_events

PATH = "/v1/chat/completions"
OK = Scripted(chunks=tuple(openai_events(h.HELLO)))


def _rate_limited(*headers: tuple[str, str]) -> Scripted:
    body = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
    return json_response(429, body, headers)


def test_429_with_retry_after_waits_exactly_that_long(sse_server: SSEServer) -> None:
    sse_server.add(PATH, _rate_limited(("Retry-After", "7")), OK)
    recorder = h.Recorder()
    outcome = h.run(h.tier(sse_server.url), recorder=recorder)
    assert outcome.error is None
    assert h.text(outcome.deltas) == "Hello"
    assert recorder.sleeps == [7.0]
    assert len(sse_server.requests) == 2


def test_retry_after_as_an_http_date(sse_server: SSEServer) -> None:
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    date = (now + timedelta(seconds=12)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    sse_server.add(PATH, _rate_limited(("Retry-After", date)), OK)
    recorder = h.Recorder()
    provider = h.OpenAIProvider(h.tier(sse_server.url), None, recorder.hooks(now=lambda: now))
    outcome = asyncio.run(h.collect_async(provider, h.request()))
    assert outcome.error is None
    assert recorder.sleeps == [12.0]


def test_429_without_retry_after_backs_off_with_full_jitter(sse_server: SSEServer) -> None:
    sse_server.add(PATH, _rate_limited(), _rate_limited(), OK)
    recorder = h.Recorder(rand_value=0.5)
    outcome = h.run(h.tier(sse_server.url, retries=2), recorder=recorder)
    assert outcome.error is None
    # random() * min(8, 0.5 * 2**attempt) with random() = 0.5
    assert recorder.sleeps == [0.25, 0.5]
    assert len(sse_server.requests) == 3


def test_retries_run_out_and_the_last_error_is_raised(sse_server: SSEServer) -> None:
    sse_server.add(PATH, _rate_limited(), _rate_limited(), _rate_limited(("retry-after-ms", "1500")))
    recorder = h.Recorder(rand_value=1.0)
    outcome = h.run(h.tier(sse_server.url, retries=2), recorder=recorder)
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.status, outcome.error.retry_after) == ("rate_limit", 429, 1.5)
    assert "HTTP 429 rate_limit (rate_limit_exceeded): Rate limit reached" in str(outcome.error)
    assert recorder.sleeps == [0.5, 1.0]
    assert len(sse_server.requests) == 3


def test_a_retry_after_beyond_the_cap_is_not_waited_for(sse_server: SSEServer) -> None:
    sse_server.add(PATH, _rate_limited(("Retry-After", "3600")), OK)
    recorder = h.Recorder()
    outcome = h.run(h.tier(sse_server.url), recorder=recorder)
    assert outcome.error is not None and outcome.error.retry_after == 3600.0
    assert recorder.sleeps == []
    assert len(sse_server.requests) == 1


def test_500_then_success(sse_server: SSEServer) -> None:
    sse_server.add(PATH, json_response(500, {"error": {"message": "boom", "type": "server_error"}}), OK)
    recorder = h.Recorder()
    outcome = h.run(h.tier(sse_server.url), recorder=recorder)
    assert outcome.error is None
    assert h.text(outcome.deltas) == "Hello"
    assert recorder.sleeps == [0.25]
    assert len(sse_server.requests) == 2


@pytest.mark.parametrize(
    ("status", "body", "kind", "retried"),
    [
        (400, {"error": {"message": "bad", "type": "invalid_request_error"}}, "bad_request", False),
        (401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}, "auth", False),
        (403, {"error": {"message": "no access", "type": "permission_error"}}, "auth", False),
        (404, {"error": {"message": "The model `m` does not exist", "code": "model_not_found"}}, "not_found", False),
        (413, {"type": "error", "error": {"type": "request_too_large", "message": "too big"}}, "bad_request", False),
        (422, {"detail": "unprocessable"}, "bad_request", False),
        (429, {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}, "auth", False),
        (503, {"error": {"message": "try later"}}, "overloaded", True),
        (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "overloaded", True),
        (502, {"error": {"message": "bad gateway"}}, "server", True),
        (500, {"error": {"message": "overloaded", "type": "overloaded_error"}}, "overloaded", True),
    ],
)
def test_status_and_error_type_classify_the_failure(
    sse_server: SSEServer, status: int, body: dict[str, object], kind: str, retried: bool
) -> None:
    sse_server.add(PATH, *[json_response(status, body)] * 3)
    outcome = h.run(h.tier(sse_server.url, retries=2), recorder=h.Recorder())
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.status, outcome.error.started) == (kind, status, False)
    assert len(sse_server.requests) == (3 if retried else 1)


def test_401_message_names_the_error_and_hides_the_key(sse_server: SSEServer, caplog: pytest.LogCaptureFixture) -> None:
    body = {"error": {"message": f"Incorrect API key provided: {h.KEY}. Also sk-tes********cdef.",
                      "type": "invalid_request_error", "code": "invalid_api_key"}}
    sse_server.add(PATH, json_response(401, body))
    with caplog.at_level(logging.DEBUG):
        outcome = h.run(h.tier(sse_server.url), recorder=h.Recorder())
    error = outcome.error
    assert error is not None and error.kind == "auth"
    assert str(error).startswith("tier 't' (openai): HTTP 401 auth (invalid_api_key): Incorrect API key provided")
    for shown in (str(error), repr(error), repr(error.to_dict()), caplog.text):
        assert h.KEY not in shown and "sk-tes" not in shown
    assert sse_server.requests[0].headers["authorization"] == f"Bearer {h.KEY}"


def test_connection_dropped_mid_stream_is_not_retried(sse_server: SSEServer) -> None:
    events = openai_events([h.text_chunk("one "), h.text_chunk("two "), h.text_chunk("three")])
    sse_server.add(PATH, Scripted(chunks=tuple(events), drop_after=2), OK)
    recorder = h.Recorder()
    outcome = h.run(h.tier(sse_server.url), recorder=recorder)
    assert h.text(outcome.deltas) == "one two "
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.started) == ("connection", True)
    assert recorder.sleeps == []
    assert len(sse_server.requests) == 1


def test_a_body_that_ends_cleanly_but_early_is_a_truncated_stream(sse_server: SSEServer) -> None:
    events = openai_events([h.text_chunk("one "), h.text_chunk("two")], done=False)
    sse_server.add(PATH, Scripted(chunks=tuple(events), framing="close"))
    outcome = h.run(h.tier(sse_server.url), recorder=h.Recorder())
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.started) == ("connection", True)
    assert "ended before [DONE]" in str(outcome.error)
    assert len(sse_server.requests) == 1


def test_dropped_before_the_first_body_byte_is_retried(sse_server: SSEServer) -> None:
    sse_server.add(PATH, Scripted(chunks=tuple(openai_events(h.HELLO)), drop_after=0), OK)
    recorder = h.Recorder()
    outcome = h.run(h.tier(sse_server.url), recorder=recorder)
    assert outcome.error is None and h.text(outcome.deltas) == "Hello"
    assert len(recorder.sleeps) == 1 and len(sse_server.requests) == 2


def test_a_stall_between_chunks_fires_the_stall_timeout(sse_server: SSEServer) -> None:
    events = openai_events([h.text_chunk("one "), h.text_chunk("two")])
    sse_server.add(PATH, Scripted(chunks=tuple(events), stall_after=1), OK)
    timeouts = Timeouts(connect=5.0, read=5.0, stall=0.1, total=20.0)
    outcome = h.run(h.tier(sse_server.url, timeout=timeouts), recorder=h.Recorder())
    assert sse_server.stalled.is_set()
    assert h.text(outcome.deltas) == "one "
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.started) == ("stall", True)
    assert "no data for 0.1s" in str(outcome.error)
    assert len(sse_server.requests) == 1


def test_no_response_headers_within_the_read_timeout(sse_server: SSEServer) -> None:
    sse_server.add(PATH, Scripted(hold_headers=True))
    timeouts = Timeouts(connect=5.0, read=0.1, stall=5.0, total=20.0)
    outcome = h.run(h.tier(sse_server.url, timeout=timeouts, retries=0), recorder=h.Recorder())
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.started) == ("timeout", False)
    assert "no response within 0.1s" in str(outcome.error)


def test_the_total_timeout_bounds_the_whole_call(sse_server: SSEServer) -> None:
    sse_server.add(PATH, Scripted(chunks=tuple(openai_events([h.text_chunk("a")])), stall_after=1))
    timeouts = Timeouts(connect=5.0, read=5.0, stall=5.0, total=0.15)
    outcome = h.run(h.tier(sse_server.url, timeout=timeouts), recorder=h.Recorder())
    assert outcome.error is not None and outcome.error.kind == "timeout"
    assert "total timeout of 0.15s" in str(outcome.error)


def test_no_retry_when_the_wait_would_pass_the_total_timeout(sse_server: SSEServer) -> None:
    sse_server.add(PATH, _rate_limited(("Retry-After", "30")), OK)
    timeouts = Timeouts(connect=5.0, read=5.0, stall=5.0, total=10.0)
    recorder = h.Recorder()
    outcome = h.run(h.tier(sse_server.url, timeout=timeouts), recorder=recorder)
    assert outcome.error is not None and outcome.error.kind == "rate_limit"
    assert recorder.sleeps == []


def test_malformed_json_in_a_chunk_is_a_protocol_error(sse_server: SSEServer) -> None:
    body = b"".join(openai_events([h.text_chunk("ok")], done=False)) + b'data: {"choices": [{"delta": \n\n'
    sse_server.add(PATH, Scripted(chunks=(body,)))
    outcome = h.run(h.tier(sse_server.url), recorder=h.Recorder())
    assert h.text(outcome.deltas) == "ok"
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.started) == ("protocol", True)
    assert "malformed stream: event 2 is not valid JSON" in str(outcome.error)
    assert len(sse_server.requests) == 1


def test_json_instead_of_an_event_stream_is_a_protocol_error(sse_server: SSEServer) -> None:
    sse_server.add(PATH, json_response(200, {"choices": [{"message": {"content": "hi"}}]}))
    outcome = h.run(h.tier(sse_server.url), recorder=h.Recorder())
    assert outcome.error is not None and outcome.error.kind == "protocol"
    assert "expected an event stream but got application/json" in str(outcome.error)


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the call: nothing listens
    recorder = h.Recorder()
    outcome = h.run(h.tier(f"http://127.0.0.1:{port}", retries=1), recorder=recorder)
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.started) == ("connection", False)
    assert "before a response arrived" in str(outcome.error)
    assert recorder.sleeps == [0.25]


def test_concurrent_streams_on_one_provider(sse_server: SSEServer) -> None:
    sse_server.add(PATH, OK, OK, OK)

    async def go() -> list[h.Outcome]:
        provider = h.make(h.tier(sse_server.url))
        try:
            return list(await asyncio.gather(*(_collect(provider) for _ in range(3))))
        finally:
            await provider.aclose()

    assert [h.text(o.deltas) for o in asyncio.run(go())] == ["Hello"] * 3


async def _collect(provider: h.OpenAIProvider) -> h.Outcome:
    return h.Outcome([d async for d in provider.stream(h.request())], None)


def test_a_borrowed_client_stays_open_and_an_owned_one_is_closed(sse_server: SSEServer) -> None:
    async def go() -> tuple[bool, bool]:
        async with httpx.AsyncClient() as shared:
            borrowed = h.OpenAIProvider(h.tier(sse_server.url), shared)
            owned = h.OpenAIProvider(h.tier(sse_server.url))
            await borrowed.aclose()
            await owned.aclose()
            return shared.is_closed, owned._http._client.is_closed

    assert asyncio.run(go()) == (False, True)


def test_build_timeout() -> None:
    timeout = build_timeout(Timeouts(connect=3.0, read=20.0, stall=45.0, total=100.0))
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (3.0, 45.0, 20.0, 3.0)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "5"}, 5.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "Thu, 02 Jan 2025 03:04:35 GMT"}, 30.0),
        ({"retry-after": "Thu, 02 Jan 2025 03:00:00 GMT"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert parse_retry_after(httpx.Headers(headers), lambda: now) == expected


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(retries=10, base_delay=0.5, max_delay=8.0)
    assert [policy.backoff(attempt, lambda: 1.0) for attempt in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_abandoning_a_stream_leaves_no_timer_behind(sse_server: SSEServer) -> None:
    """The engine may stop reading early (a draft aborted mid-stream): the stall
    guard must not cancel the engine's task afterwards."""
    sse_server.add(PATH, Scripted(chunks=tuple(openai_events([h.text_chunk("a")])), stall_after=1))
    timeouts = Timeouts(connect=5.0, read=5.0, stall=0.05, total=0.3)

    async def go() -> str:
        provider = h.make(h.tier(sse_server.url, timeout=timeouts))
        stream = provider.stream(h.request())
        first = await stream.__anext__()
        await stream.aclose()
        await provider.aclose()
        try:
            await asyncio.wait_for(asyncio.Event().wait(), 0.4)  # past both stall and total
        except asyncio.TimeoutError:
            return h.text([first])
        return "not reached"

    assert asyncio.run(go()) == "a"
