"""Benchmark: `cascadectl eval` throughput against a loopback server that answers each
request after 50 ms.

2,000 queries (quick: 200) at -j 64 through a cascade of two `openai` tiers
pointing at a local OpenAI-compatible server. The drafter's answer is accepted,
so each query is one request; the ideal wall time is then N x 50 ms / 64. The
whole runner is measured (engine, traces written and flushed per query, scoring;
no report). The server is an asyncio server in its own process, so it serves
every request concurrently and never competes with the client for the GIL.
CPU per query is the client process's time.process_time() over N.

    python bench/eval_throughput.py [--quick]
"""
from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

if __name__ == "__main__":  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GROUP = "eval"
DELAY_S = 0.05
CONCURRENCY = 64
FULL, QUICK = 2000, 200
TARGET_RATIO = 1.5
ANSWER = ("Paris", " is", " the", " capital", " of", " France", ".")


class Measured(NamedTuple):
    wall_s: float
    cpu_s: float
    queries: int


# ---- the server (its own process) ------------------------------------------------

def _response() -> bytes:
    from bench._streams import openai_body

    body = openai_body(list(ANSWER))
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes) -> None:
    """Keep-alive: read a request (headers, then Content-Length bytes), wait, answer; repeat."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(_content_length(head))
            await asyncio.sleep(DELAY_S)
            writer.write(response)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, asyncio.CancelledError):
        pass  # the client went away, or the server is shutting down
    finally:
        writer.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


async def _serve() -> None:
    response = _response()
    server = await asyncio.start_server(lambda r, w: _serve_connection(r, w, response), "127.0.0.1", 0, backlog=512)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # serve until the parent closes our stdin
    server.close()


class DelayedServer:
    def __enter__(self) -> str:
        repo = str(Path(__file__).resolve().parent.parent)
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve"], cwd=repo,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.process.stdout is not None
        url = self.process.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            self.__exit__()
            raise RuntimeError("the delayed loopback server did not start (see its stderr above)")
        return url

    def __exit__(self, *exc: object) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---- the client: the eval runner ---------------------------------------------------

def _cascade(url: str | None) -> Any:
    """Two `openai` tiers at the loopback server; with no url, the same cascade on the
    fake provider (no HTTP at all: what the runner and the engine cost alone)."""
    from cascadectl.config.model import CascadeConfig, PriceSpec, TierConfig

    fake = {"default": {"text": "".join(ANSWER), "chunks": list(ANSWER), "logprob": -0.012, "usage": {"input": 14, "output": 7}}}

    def tier(name: str, price: float) -> TierConfig:
        if url is None:
            return TierConfig(name=name, provider="fake", model=f"bench-{name}", price=PriceSpec(price, 2 * price), options=fake)
        return TierConfig(name=name, provider="openai", model=f"bench-{name}", base_url=f"{url}/v1", price=PriceSpec(price, 2 * price))

    return CascadeConfig(tiers=(tier("drafter", 0.15), tier("verifier", 2.5)), name="bench")


def _evalset(path: Path, count: int) -> Path:
    lines = (
        json.dumps({"id": f"q{i}", "query": f"What is the capital of France? (#{i})", "expected": "Paris", "scorer": "contains"})
        for i in range(count)
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _measure(url: str | None, count: int) -> Measured:
    from cascadectl.evals.runner import run_eval

    with tempfile.TemporaryDirectory(prefix="cascadectl-bench-eval-") as tmp:
        evalset = _evalset(Path(tmp) / "set.jsonl", count)
        wall, cpu = time.perf_counter(), time.process_time()
        summary = run_eval(_cascade(url), evalset, Path(tmp) / "out", concurrency=CONCURRENCY, formats=())
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    progress = summary.progress
    if progress.done != count or progress.errors or progress.accepted != count:
        raise RuntimeError(f"bench run went wrong: {progress}")
    return Measured(wall, cpu, count)


def _spread(values: list[float]) -> float:
    mid = statistics.median(values)
    return (max(values) - min(values)) / mid if mid else 0.0


def _rows(runs: list[Measured], floor: list[Measured]) -> list[dict[str, Any]]:
    count = runs[0].queries
    ideal = count * DELAY_S / CONCURRENCY
    walls = [r.wall_s for r in runs]
    cpu_ms = [r.cpu_s / r.queries * 1000 for r in runs]
    wall = statistics.median(walls)
    budget_ms = DELAY_S / CONCURRENCY * 1000  # CPU per query that saturates one core at the ideal rate
    note = f"median of {len(runs)} runs; {count / wall:,.0f} queries/s; every draft accepted (1 request per query)"
    return [
        {
            "group": GROUP, "name": f"eval wall time, {count} queries at -j {CONCURRENCY}, server answers after 50 ms",
            "value": round(wall, 3), "unit": "s", "baseline_name": f"ideal {count} x 50 ms / {CONCURRENCY}",
            "baseline_value": round(ideal, 4), "ratio": round(wall / ideal, 3), "target": f"<= {TARGET_RATIO}",
            "spread": round(_spread(walls), 3), "note": note,
        },
        {
            "group": GROUP, "name": "eval CPU per query (client process)", "value": round(statistics.median(cpu_ms), 3),
            "unit": "ms", "baseline_name": "CPU budget per query at the ideal rate (50 ms / 64)",
            "baseline_value": round(budget_ms, 4), "ratio": round(statistics.median(cpu_ms) / budget_ms, 3),
            "target": "informational", "spread": round(_spread(cpu_ms), 3),
            "note": "engine + httpx + SSE parsing + trace lines + scoring; ratio > 1 means CPU-bound at -j 64 on one core",
        },
        {
            "group": GROUP, "name": "eval CPU per query without HTTP (fake provider)",
            "value": round(statistics.median(r.cpu_s / r.queries * 1000 for r in floor), 3), "unit": "ms",
            "baseline_name": "CPU budget per query at the ideal rate (50 ms / 64)", "baseline_value": round(budget_ms, 4),
            "ratio": round(statistics.median(r.cpu_s / r.queries * 1000 for r in floor) / budget_ms, 3),
            "target": "informational", "spread": round(_spread([r.cpu_s for r in floor]), 3),
            "note": "evalset, runner, engine, validators, traces, scoring: the part that is not the HTTP stack",
        },
    ]


def run(quick: bool) -> list[dict[str, Any]]:
    count, repeats = (QUICK, 3) if quick else (FULL, 3)
    _measure(None, CONCURRENCY)  # warm-up: imports
    floor = [_measure(None, count) for _ in range(repeats)]
    with DelayedServer() as url:
        _measure(url, CONCURRENCY)  # warm-up: first connections
        runs = [_measure(url, count) for _ in range(repeats)]
    return _rows(runs, floor)


def _print(rows: list[dict[str, Any]]) -> None:
    from tabulate import tabulate

    keys = ("name", "value", "unit", "baseline_name", "baseline_value", "ratio", "target", "spread")
    print(tabulate([[row[k] for k in keys] for row in rows], headers=keys, tablefmt="github", disable_numparse=True))
    for row in rows:
        print(f"- {row['name']}: {row['note']}")


if __name__ == "__main__":
    if "--serve" in sys.argv:
        asyncio.run(_serve())
    else:
        _print(run(quick="--quick" in sys.argv))
