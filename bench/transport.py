"""Benchmark: the providers' HTTP/1.1 transport (providers/http/h1.py) against httpx's
default transport (httpcore, h11, anyio), reading the same streams with the same
httpx client code.

- a 48-token stream paced like a hosted model (bench._streams.PACED: one event per
  read, as from a real model), `CONCURRENT` requests at a time: CPU per request;
- a 2,000-chunk stream written at once (reads of up to 64 KiB): CPU per event;
- an 8-chunk stream, one request at a time: CPU per request (the fixed cost).

CPU is this process's (the loopback server runs in another). Both transports run
in the same process, alternating, after a warm-up; figures are medians.

    python -m bench.transport [--quick]
"""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, NamedTuple

if __name__ == "__main__":  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._timing import median, row, spread

GROUP = "transport"
CONCURRENT = 20
OURS, THEIRS = "h1 transport", "httpx default transport"


class Plan(NamedTuple):
    rounds: int
    paced_batches: int  # batches of CONCURRENT paced requests a round
    long_requests: int
    short_requests: int


QUICK, FULL = Plan(2, 1, 2, 50), Plan(5, 2, 6, 300)


def _clients() -> dict[str, Any]:
    import httpx

    from cascadectl.providers.http.pool import h1_transport

    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
    return {OURS: httpx.AsyncClient(limits=limits, timeout=60.0, transport=h1_transport(True, limits)),
            THEIRS: httpx.AsyncClient(limits=limits, timeout=60.0)}


async def _read(client: Any, url: str) -> int:
    events = 0
    async with client.stream("POST", url, json={"stream": True}) as response:
        async for line in response.aiter_lines():
            events += line.startswith("data: ")
    return events


async def _cpu(action: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    start = time.process_time()
    count = await action()
    return time.process_time() - start, count


async def _measure(plan: Plan) -> list[dict[str, Any]]:
    from bench._loopback import Loopback

    with Loopback() as server:
        urls = {name: server.base_url(name) + "/chat/completions" for name in ("paced", "long", "short")}
        clients = _clients()
        try:
            async def paced(client: Any) -> int:
                total = 0
                for _ in range(plan.paced_batches):
                    total += len(await asyncio.gather(*(_read(client, urls["paced"]) for _ in range(CONCURRENT))))
                return total

            async def long(client: Any) -> int:
                return sum([await _read(client, urls["long"]) for _ in range(plan.long_requests)])

            async def short(client: Any) -> int:
                for _ in range(plan.short_requests):
                    await _read(client, urls["short"])
                return plan.short_requests

            cases = {"paced": paced, "long": long, "short": short}
            for client in clients.values():  # warm-up: connections, imports
                for case in cases.values():
                    await case(client)
            figures: dict[tuple[str, str], list[float]] = {(c, n): [] for c in cases for n in clients}
            for i in range(plan.rounds):
                for case_name, case in cases.items():
                    names = list(clients) if i % 2 == 0 else list(reversed(clients))
                    for name in names:
                        seconds, count = await _cpu(lambda: case(clients[name]))
                        figures[(case_name, name)].append(seconds / count)
        finally:
            for client in clients.values():
                await client.aclose()
    return _rows(figures, plan)


def _rows(figures: dict[tuple[str, str], list[float]], plan: Plan) -> list[dict[str, Any]]:
    specs = [
        ("paced", "CPU per paced 48-token request", "ms", 1e3,
         f"{CONCURRENT} concurrent requests, one event per read (200 ms to the first token, then 50 tokens/s)"),
        ("long", "CPU per streamed event, 2000-chunk stream", "µs/event", 1e6,
         "the body written at once: reads of up to 64 KiB"),
        ("short", "CPU per request, 8-chunk stream", "ms", 1e3, "one request at a time: the fixed cost"),
    ]
    rows = []
    for case, name, unit, scale, note in specs:
        ours = [v * scale for v in figures[(case, OURS)]]
        theirs = [v * scale for v in figures[(case, THEIRS)]]
        rows.append(row(GROUP, name, median(ours), unit, baseline_name=THEIRS, baseline_value=median(theirs),
                        ratio=round(median(ours) / median(theirs), 3), target="< baseline", spread=spread(ours),
                        note=f"{note}; this process's CPU, median of {plan.rounds} alternating rounds"))
    return rows


def run(quick: bool) -> list[dict[str, Any]]:
    return asyncio.run(_measure(QUICK if quick else FULL))


def main(argv: list[str]) -> int:
    for item in run(quick="--quick" in argv):
        print(f"{item['name']:<44} {item['value']:>9.3f} {item['unit']:<9} vs {item['baseline_value']:>9.3f} "
              f"(ratio {item['ratio']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
