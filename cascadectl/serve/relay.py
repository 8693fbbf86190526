"""One chat completion on the wire: the cascade's events, gated, as OpenAI JSON or SSE.

The response runs the cascade while it listens for the client hanging up; if it
does, the cascade's event stream is closed, which closes the provider streams, so
no upstream call outlives its client. A streamed answer starts (HTTP 200, SSE) only
at its first visible output, so a cascade whose every tier failed before any
output still gets a proper 502.
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from typing import Any, AsyncIterator, Awaitable, Callable, Coroutine, MutableMapping, Protocol

from starlette.responses import JSONResponse

from cascadectl.serve.errors import APIError, internal_error, shutting_down
from cascadectl.serve.responses import Chunks, Ids, completion, headers, no_result, sse, upstream_failure
from cascadectl.streaming.events import StreamEvent
from cascadectl.traces.records import CascadeResult

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ASGIApp(Protocol):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


log = logging.getLogger("cascadectl.serve")
OUTPUT_KINDS = frozenset({"chunk", "text_chunk", "tool_call_start", "tool_call_delta", "tool_call_complete"})
SSE_HEADERS = ((b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
               (b"x-accel-buffering", b"no"))
DONE = b"data: [DONE]\n\n"


class Gate:
    """Which events reach the client. Buffered (the default): output of a tier the
    cascade may still leave (a judged draft, or a tier that may fail over) is held
    until COMPLETE and dropped on SWITCH, so nothing shown is ever taken back.
    Live: output flows at once, and a SWITCH that abandons shown output passes as
    the retraction marker."""

    def __init__(self, live: bool) -> None:
        self.live = live
        self.left = 0  # tiers the query may still switch to
        self.held: list[StreamEvent] = []

    def feed(self, event: StreamEvent) -> list[StreamEvent]:
        kind = event.type._value_
        if kind in OUTPUT_KINDS:
            if self.live or self.left == 0:
                return [event]
            self.held.append(event)
            return []
        if kind == "routing":
            self.left = len(event.data.get("tiers") or ()) - 1
        elif kind == "switch":
            self.left, self.held = self.left - 1, []
            return [event] if self.live and event.data.get("retract") else []
        elif kind in ("complete", "error"):
            out, self.held = self.held + [event], []
            return out if kind == "complete" else [event]
        return []


class ChatResponse:
    """The ASGI response of one chat completion (streamed or not)."""

    def __init__(self, events: AsyncIterator[StreamEvent], ids: Ids, stream: bool, include_usage: bool, live: bool) -> None:
        self.events = events
        self.ids = ids
        self.stream = stream
        self.gate = Gate(live)
        self.chunks = Chunks(ids, include_usage)
        self.started = False  # HTTP 200 went out
        self.ended = False  # so did the body's end: what runs after is the cascade's cleanup

    def answered(self) -> bool:
        return self.ended

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        work = self._stream(scope, receive, send) if self.stream else self._whole(scope, receive, send)
        try:
            await until_disconnect(work, receive, self.answered)
        except asyncio.CancelledError:
            if self.ended:
                return
            # uvicorn cancels what outlives the shutdown grace period. The cascade is
            # closed by now; tell the client why, rather than cut the connection (this
            # task ends here, so nothing waits on the cancellation).
            await self._failed(scope, receive, send, shutting_down())
            if self.started:
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _whole(self, scope: Scope, receive: Receive, send: Send) -> None:
        result, failure = None, None
        async with aclosing(self.events) as events:
            async for event in events:
                if event.type._value_ == "complete":
                    result = CascadeResult.from_dict(event.data["result"])
                elif event.type._value_ == "error":
                    failure = upstream_failure(event.data)
        if result is None:
            await send_error(scope, receive, send, failure or no_result())
            return
        await JSONResponse(completion(self.ids, result), headers=headers(result))(scope, receive, send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            ended = await self._relay(scope, receive, send)
        except Exception:  # noqa: BLE001 - after HTTP 200 the stream is the only way to say so
            if not self.started:
                raise
            log.exception("chat completion %s failed mid-stream", self.ids.id)
            if not self.ended:
                await self._sse(send, internal_error().body())
            ended = True
        if not ended:
            await self._failed(scope, receive, send, no_result())
        if self.started and not self.ended:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _relay(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Relay events; True once the answer (or its error) went out."""
        async with aclosing(self.events) as events:
            async for event in events:
                released = self.gate.feed(event)
                if released and await self._release(scope, receive, send, released):
                    return True
        return False

    async def _release(self, scope: Scope, receive: Receive, send: Send, items: list[StreamEvent]) -> bool:
        """What the gate let through, in one write: a held draft goes out whole (its text
        in one delta), and the answer ends (`[DONE]` and the end of the body) before the
        cascade is closed."""
        last = items[-1].type._value_
        if last == "error":  # the gate passes an error alone
            await self._failed(scope, receive, send, upstream_failure(items[-1].data))
            return True
        body = self.chunks.wire_all(items)
        if not self.started:
            await self._start(send)
            body = sse(self.chunks.opening()) + body
        if last == "complete":
            self.ended = True
            await send({"type": "http.response.body", "body": body + DONE, "more_body": False})
            return True
        if body:
            await send({"type": "http.response.body", "body": body, "more_body": True})
        return False

    async def _failed(self, scope: Scope, receive: Receive, send: Send, failure: APIError) -> None:
        if not self.started:
            await send_error(scope, receive, send, failure)
            return
        # After output: OpenAI's in-stream error, which the SDKs raise as an APIError.
        await self._sse(send, failure.body())

    async def _start(self, send: Send) -> None:
        self.started = True
        await send({"type": "http.response.start", "status": 200, "headers": list(SSE_HEADERS)})

    async def _sse(self, send: Send, payload: dict[str, Any]) -> None:
        await send({"type": "http.response.body", "body": sse(payload), "more_body": True})


async def send_error(scope: Scope, receive: Receive, send: Send, error: APIError) -> None:
    await JSONResponse(error.body(), error.status, headers=error.headers)(scope, receive, send)


async def until_disconnect(work: Coroutine[Any, Any, None], receive: Receive,
                           answered: Callable[[], bool] = lambda: False) -> None:
    """Run `work`; if the client disconnects first, cancel it. Cancelling closes the
    cascade's event stream (`aclosing`), and with it every provider stream. Once the
    response has ended (`answered`), uvicorn reports a disconnect by design: the work
    then finishes its cleanup uncancelled."""
    worker = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait((worker, watcher), return_when=asyncio.FIRST_COMPLETED)
        if not worker.done() and answered():
            await asyncio.wait((worker,))
    finally:
        for task in (watcher, worker):
            if not task.done():
                task.cancel()
        await asyncio.gather(worker, watcher, return_exceptions=True)
    if not worker.cancelled():
        worker.result()  # the work's own exception, if any


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
