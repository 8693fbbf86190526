"""Benchmark: what the cascade engine adds over raw httpx on the same loopback stream.

Both sides read the same OpenAI-style SSE body from a loopback server in another
process, which writes the whole body at once, so the client's CPU sets the pace.

- baseline: `httpx.AsyncClient.stream` + `aiter_lines` + `json.loads` of each
  `data:` line (the least any client does), over the HTTP/1.1 transport the agent
  uses (providers/http/h1.py), so that the difference is the engine's own work;
- ours: a two-tier `CascadeAgent` (OpenAI-compatible tiers) whose drafter is
  served the stream and accepts it with the default validators, consumed
  through `stream_events`.

Runs alternate after a warm-up; each side keeps its own warm connection pool.
Figures are medians of the per-round differences (ours minus baseline).

    python -m bench.engine [--quick]
"""
from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, Awaitable, Callable, NamedTuple, Sequence

from bench._streams import QUERY, draft_text
from bench._timing import Stopwatch, Timed, differences, interleaved, median, per_call, row, spread

GROUP = "engine"
LONG, SHORT = 2000, 8  # chunks in the "long" and "short" streams of bench._streams
RAW = "raw httpx"
RAW_NOTE = ("baseline: httpx stream + aiter_lines + json.loads per data: line, on the agent's HTTP/1.1 transport "
            "(the engine's work alone)")
MAX_TOKENS = 4096
Runner = Callable[[], Awaitable[Timed]]


class Plan(NamedTuple):
    long_runs: int
    short_runs: int
    warmup: int
    decision_samples: int


def plan(quick: bool) -> Plan:
    return Plan(5, 40, 3, 10) if quick else Plan(41, 801, 20, 60)


def make_agent(base_url: str) -> Any:
    from cascadectl import CascadeAgent, ModelConfig

    models = [
        ModelConfig(name="bench-draft", provider="openai", base_url=base_url, input_price=0.1, output_price=0.4),
        ModelConfig(name="bench-verify", provider="openai", base_url=base_url, input_price=2.5, output_price=10.0),
    ]
    return CascadeAgent(models=models)


def make_client(our_transport: bool = False) -> Any:
    """httpx's client with the limits the agent gives its own, so both pools behave
    alike; with `our_transport`, on the agent's HTTP/1.1 transport, so that the
    difference is the engine's work alone (bench/transport.py compares transports)."""
    import httpx

    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
    if our_transport:
        from cascadectl.providers.http.pool import h1_transport

        return httpx.AsyncClient(limits=limits, timeout=60.0, transport=h1_transport(True, limits))
    return httpx.AsyncClient(limits=limits, timeout=60.0)


def check_accepted(result: Any) -> None:
    if not result or not result.get("draft_accepted") or result.get("model_used") != "bench-draft":
        raise RuntimeError(f"the benchmark draft was not accepted, so the figures would be wrong: {result!r}")


def ours_runner(agent: Any) -> Runner:
    from cascadectl.streaming import StreamEventType

    return stream_runner(agent, StreamEventType.CHUNK, StreamEventType.COMPLETE)


def stream_runner(agent: Any, chunk: Any, complete: Any) -> Runner:
    """One query consumed the same way for any library that follows the guide:
    time to the first CHUNK, then to COMPLETE; the draft must have been accepted."""

    async def once() -> Timed:
        watch, result = Stopwatch(), None
        async for event in agent.stream_events(QUERY, max_tokens=MAX_TOKENS):
            kind = event.type  # compared by identity: `.value` on an Enum costs ~0.3 µs an event
            if kind is chunk:
                if not watch.first_wall:
                    watch.lap()
            elif kind is complete:
                result = event.data["result"]
        timed = watch.stop()
        check_accepted(result)
        return timed

    return once


def raw_runner(client: Any, base_url: str) -> Runner:
    url = f"{base_url}/chat/completions"
    body = {"model": "bench-draft", "messages": [{"role": "user", "content": QUERY}], "stream": True,
            "max_tokens": MAX_TOKENS}

    async def once() -> Timed:
        watch = Stopwatch()
        async with client.stream("POST", url, json=body) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    continue  # read on to the end of the body so the connection is reused
                chunk = json.loads(data)
                if not watch.first_wall and chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                    watch.lap()
        return watch.stop()

    return once


def _us(seconds: float) -> float:
    return seconds * 1e6


def _ms(seconds: float) -> float:
    return seconds * 1e3


def added(mine: Sequence[Timed], theirs: Sequence[Timed], field: str, scale: Callable[[float], float]) -> list[float]:
    """Per-round differences of one Timed field, scaled."""
    ours = [getattr(t, field) for t in mine]
    return [scale(d) for d in differences(ours, [getattr(t, field) for t in theirs])]


def stream_rows(long_pair: Sequence[Sequence[Timed]], short_pair: Sequence[Sequence[Timed]]) -> list[dict[str, Any]]:
    """Rows for overhead per event, TTFT added and fixed cost per request."""
    (long_ours, long_raw), (short_ours, short_raw) = long_pair, short_pair
    per_event = added(long_ours, long_raw, "total", lambda s: _us(s) / LONG)
    cpu_event = median(added(long_ours, long_raw, "cpu_total", lambda s: _us(s) / LONG))
    ttft = added(short_ours, short_raw, "ttft", _ms)
    cpu_ttft = median(added(short_ours, short_raw, "cpu_ttft", _ms))
    fixed = added(short_ours, short_raw, "total", _ms)
    cpu_fixed = median(added(short_ours, short_raw, "cpu_total", _ms))
    raw_long, raw_short = median([t.total for t in long_raw]), median([t.total for t in short_raw])
    n_long, n_short = len(long_ours), len(short_ours)
    return [
        row(GROUP, "overhead per streamed event", median(per_event), "µs/event", baseline_name=RAW,
            baseline_value=_us(raw_long) / LONG, target="<= 3", spread=spread(per_event),
            note=f"{LONG}-chunk stream; 2 tiers, drafter accepted, default validators; median of {n_long} rounds; "
                 f"client CPU time added: {cpu_event:.2f} µs/event; baseline = raw time per event; {RAW_NOTE}"),
        row(GROUP, "time to first token added", median(ttft), "ms", baseline_name=RAW,
            baseline_value=_ms(median([t.ttft for t in short_raw])), target="<= 0.2", spread=spread(ttft),
            note=f"{SHORT}-chunk stream; request start to first text chunk; median of {n_short} rounds; "
                 f"client CPU time added: {cpu_ttft:.3f} ms; baseline = raw TTFT"),
        row(GROUP, "fixed cost per request", median(fixed), "ms", baseline_name=RAW,
            baseline_value=_ms(raw_short), target="<= 0.3", spread=spread(fixed),
            note=f"{SHORT}-chunk stream, whole request; median of {n_short} rounds; "
                 f"client CPU time added: {cpu_fixed:.3f} ms; baseline = raw request time"),
    ]


async def measure(base_url: str, runs: int, warmup: int, extra: Sequence[Runner] = (),
                  our_transport: bool = False) -> list[list[Timed]]:
    """(ours, raw, *extra) on one stream, with a fresh agent and a fresh client, warmed before timing."""
    agent, client = make_agent(base_url), make_client(our_transport)
    try:
        return await interleaved([ours_runner(agent), raw_runner(client, base_url), *extra], runs, warmup)
    finally:
        await agent.aclose()
        await client.aclose()


def decision_action() -> Callable[[], Any]:
    """One decision on a 500-token draft, with fresh objects (nothing cached between calls)."""
    from cascadectl.config.model import QualityConfig
    from cascadectl.quality.decision import Decider
    from cascadectl.quality.draft import DecisionContext, Draft

    decider = Decider(QualityConfig())
    text, logprobs = draft_text(500)
    threshold = decider.threshold("moderate")

    def action() -> Any:
        ctx = DecisionContext(QUERY, "moderate", threshold)
        return decider.decide(Draft(text, logprobs, finish_reason="stop"), ctx)

    return action


def decision_times(action: Callable[[], Any], samples: int) -> list[float]:
    """Milliseconds per decision, one figure per sample of 20 calls, after a warm-up."""
    for _ in range(50):
        action()
    return [_ms(t) for t in per_call(action, 20, samples)]


def decision_row(samples: int) -> dict[str, Any]:
    action = decision_action()
    if not action().accepted:
        raise RuntimeError("the benchmark draft should be accepted; the decision figure would be unrepresentative")
    times = decision_times(action, samples)
    return row(GROUP, "decision time, 500-token draft", median(times), "ms", target="<= 0.3", spread=spread(times),
               note=f"Decider(QualityConfig()).decide: all default validators, 500 logprobs, ~2,000 characters; "
                    f"median of {samples} samples of 20 calls")


async def _streams(p: Plan) -> list[dict[str, Any]]:
    from bench._loopback import Loopback

    with Loopback() as server:
        long_pair = await measure(server.base_url("long"), p.long_runs, p.warmup, our_transport=True)
        short_pair = await measure(server.base_url("short"), p.short_runs, p.warmup, our_transport=True)
    return stream_rows(long_pair, short_pair)


def run(quick: bool) -> list[dict[str, Any]]:
    from bench._breakdown import breakdown_rows

    p = plan(quick)
    rows = asyncio.run(_streams(p))
    rows.append(decision_row(p.decision_samples))
    return rows + breakdown_rows(GROUP, 3 if quick else 25)


def main(argv: list[str]) -> int:
    for item in run(quick="--quick" in argv):
        print(f"{item['name']:<34} {item['value']:>9} {item['unit']:<9} target {item['target']:<7} "
              f"baseline {item['baseline_value']}  ({item['note']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
