"""Where the engine's per-event time goes, without sockets: each layer of the
streaming path timed alone on the long stream's bytes, in this thread's CPU
time (steady even when other processes share the machine).

1. SSE split + json.loads: the least any client does per event;
2. + OpenAI chunk parsing: our provider's SSE parser and chunk-to-delta code;
3. engine on ready-made deltas: routing, events, checks and accounting,
   through `Engine.stream` with a provider that replays the parsed deltas.
The rest of the measured overhead is the HTTP layer (httpx, timeouts)."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, AsyncIterator, Callable, Sequence

from bench._streams import QUERY, STREAMS, openai_body
from bench._timing import median, row, spread

READ = 65536  # bytes per socket read, as httpx hands them over


def _pieces(body: bytes) -> list[bytes]:
    return [body[i:i + READ] for i in range(0, len(body), READ)]


def cpu_per_event(action: Callable[[], Any], events: int, samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        start = time.thread_time()
        action()
        out.append((time.thread_time() - start) * 1e6 / events)
    return out


def floor_action(pieces: Sequence[bytes]) -> Callable[[], Any]:
    from cascadectl.providers.http.sse import SSEParser

    def action() -> None:
        parser = SSEParser()
        for piece in pieces:
            for event in parser.feed(piece):
                if event.data != "[DONE]":
                    json.loads(event.data)

    return action


def parse_action(pieces: Sequence[bytes]) -> Callable[[], list[Any]]:
    from cascadectl.providers.http.transport import CallSite
    from cascadectl.providers.http.openai import ChunkParser
    from cascadectl.providers.http.sse import SSEParser

    def action() -> list[Any]:
        parser, chunks, deltas = SSEParser(), ChunkParser(CallSite("bench", "openai")), []
        for piece in pieces:
            for event in parser.feed(piece):
                deltas += chunks.feed(event)
        return deltas + chunks.end()

    return action


class ReplayProvider:
    """Hands the engine ready-made deltas: no HTTP, no parsing."""

    name = "replay-bench"

    def __init__(self, deltas: Sequence[Any]) -> None:
        self.deltas = deltas

    async def stream(self, request: Any) -> AsyncIterator[Any]:
        for delta in self.deltas:
            yield delta

    async def aclose(self) -> None:
        pass


def engine_action(deltas: Sequence[Any]) -> Callable[[], Any]:
    from bench.engine import make_agent
    from cascadectl.cascade.engine import Engine, Query

    agent, provider = make_agent("http://127.0.0.1:9/v1"), ReplayProvider(deltas)
    query = Query(QUERY, [{"role": "user", "content": QUERY}], max_tokens=4096)
    loop = asyncio.new_event_loop()

    async def consume() -> None:
        engine = Engine(agent.config, lambda index: provider, agent.prices, agent.decider)
        async for event in engine.stream(query):
            event.type  # what any consumer reads

    return lambda: loop.run_until_complete(consume())


def breakdown_rows(group: str, samples: int) -> list[dict[str, Any]]:
    tokens = STREAMS["long"]()
    pieces = _pieces(openai_body(tokens))
    events = len(tokens) + 4  # role chunk, finish chunk, usage chunk, [DONE]
    parse = parse_action(pieces)
    layers = [
        ("SSE split + json.loads", floor_action(pieces)),
        ("SSE + OpenAI chunk parsing", parse),
        ("engine on ready-made deltas", engine_action(parse())),
    ]
    rows = []
    for name, action in layers:
        action()  # warm-up
        times = cpu_per_event(action, events, samples)
        rows.append(row(group, f"breakdown: {name}", median(times), "µs/event", target="informational",
                        spread=spread(times),
                        note=f"no sockets, thread CPU time, {len(tokens)}-chunk stream; median of {samples}"))
    return rows
