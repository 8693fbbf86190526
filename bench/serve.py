"""Benchmark: `cascadectl serve` under concurrent streaming clients.

A loopback OpenAI-compatible upstream (bench/_loopback.py, its own process) serves an
8-chunk stream. `cascadectl serve` (its own process, a cascade of two `openai` tiers on
that upstream, tracing to a temporary directory) stands in front of it. The same
clients, `CLIENTS` concurrent streaming requests at a time (httpx, read to `[DONE]`),
call the upstream directly (baseline) and through `serve` (ours), alternating rounds.

Rows: latency added per request (p50, p99: ours minus the baseline's, in the same
rounds), throughput through `serve` against direct, the server's resident memory per
in-flight request (peak RSS during a round minus idle RSS, over CLIENTS), and a SIGTERM
during a round: requests finished, lines lost or torn in the traces (target 0).

    python bench/serve.py [--quick]
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

if __name__ == "__main__":  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._timing import median, row, spread
from bench.harness import SkipBenchmark

GROUP = "serve"
REPO = Path(__file__).resolve().parent.parent
CLIENTS = 100
BODY = {"model": "bench", "messages": [{"role": "user", "content": "What is the capital of France?"}], "stream": True}


class Plan(NamedTuple):
    rounds: int
    clients: int


QUICK, FULL = Plan(2, 20), Plan(7, CLIENTS)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cascade(path: Path, upstream: str) -> Path:
    tier = "  - {{name: {n}, provider: openai, model: {n}, base_url: '{u}', price: {{input: {i}, output: {o}}}, retries: 0}}\n"
    path.write_text("version: 1\nname: bench\ntiers:\n" + tier.format(n="draft", u=upstream, i=0.1, o=0.4)
                    + tier.format(n="verify", u=upstream, i=2.5, o=10.0), encoding="utf-8")
    return path


class Server:
    def __init__(self, cascade: Path, traces: Path) -> None:
        self.port = _free_port()
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("PYTEST_CURRENT_TEST", None)
        args = [sys.executable, "-m", "cascadectl.cli.main", "serve", str(cascade), "--port", str(self.port),
                "--trace-dir", str(traces), "--max-concurrency", "1024"]
        self.process = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{self.port}/v1"

    async def ready(self, client: Any) -> None:
        for _ in range(400):
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if (await client.get(f"http://127.0.0.1:{self.port}/health")).status_code == 200:
                    return
            except Exception:  # noqa: BLE001 - not listening yet
                await asyncio.sleep(0.05)
        raise RuntimeError("serve did not become ready")

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


class Answer(NamedTuple):
    seconds: float
    status: int
    response_id: str | None  # the completion id: the trace's query id
    whole: bool  # the stream reached [DONE]


async def _one(client: Any, url: str) -> Answer:
    start, response_id, whole = time.perf_counter(), None, False
    async with client.stream("POST", f"{url}/chat/completions", json=BODY) as response:
        async for line in response.aiter_lines():
            if line == "data: [DONE]":
                whole = True
                break
            if response_id is None and line.startswith("data: {"):
                response_id = json.loads(line[6:]).get("id")
        return Answer(time.perf_counter() - start, response.status_code, response_id, whole)


async def _round(client: Any, url: str, clients: int, during: Any = None) -> tuple[list[Answer], float]:
    start = time.perf_counter()
    tasks = [asyncio.create_task(_one(client, url)) for _ in range(clients)]
    if during is not None:
        await during(tasks)
    done = await asyncio.gather(*tasks, return_exceptions=True)
    return [d for d in done if isinstance(d, Answer)], time.perf_counter() - start


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(plan: Plan) -> list[dict[str, Any]]:
    import httpx

    from bench._loopback import Loopback

    limits = httpx.Limits(max_connections=1024, max_keepalive_connections=1024)
    with Loopback() as upstream, tempfile.TemporaryDirectory(prefix="cascadectl-bench-serve-") as tmp:
        direct_url = upstream.base_url("short")
        server = Server(_cascade(Path(tmp) / "bench.yaml", direct_url), Path(tmp) / "traces")
        try:
            async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:
                await server.ready(client)
                rows = [await _sequential(client, server, direct_url, plan)]
                rows += await _rounds(client, server, direct_url, plan)
                rows.append(await _sigterm(client, server, plan, Path(tmp) / "traces"))
        finally:
            server.stop()
    return rows


async def _sequential(client: Any, server: Server, direct: str, plan: Plan) -> dict[str, Any]:
    """One client, one request at a time, alternating: what serve adds to a request alone."""
    added = []
    for i in range(10 * plan.rounds + 5):
        pair = [await _one(client, url) for url in ((server.url, direct) if i % 2 else (direct, server.url))]
        ours, theirs = (pair[1], pair[0]) if i % 2 == 0 else (pair[0], pair[1])
        if i >= 5:  # after a warm-up
            added.append((ours.seconds - theirs.seconds) * 1e3)
    return row(GROUP, "latency added, 1 client", median(added), "ms", baseline_name="direct to the upstream",
               target="<= 2 ms", spread=spread(added),
               note=f"one request at a time, median of {len(added)} alternating pairs: serve's own cost per request")


async def _rounds(client: Any, server: Server, direct: str, plan: Plan) -> list[dict[str, Any]]:
    await _round(client, direct, plan.clients)  # warm-up: connections, imports, caches
    await _round(client, server.url, plan.clients)
    idle = server.rss_kb()
    p50s, p99s, ours_rate, theirs_rate, peaks = [], [], [], [], []
    for i in range(plan.rounds):
        order = [(server.url, True), (direct, False)] if i % 2 == 0 else [(direct, False), (server.url, True)]
        results = {}
        for url, mine in order:
            async def sample(tasks: list[Any]) -> None:
                while mine and not all(t.done() for t in tasks):  # the server's RSS while requests are in flight
                    peaks.append(server.rss_kb())
                    await asyncio.sleep(0.002)
            results[mine] = await _round(client, url, plan.clients, sample)
        (mine_answers, ours_wall), (their_answers, theirs_wall) = results[True], results[False]
        ours, theirs = [a.seconds for a in mine_answers], [a.seconds for a in their_answers]
        p50s.append((_percentile(ours, 0.5) - _percentile(theirs, 0.5)) * 1e3)
        p99s.append((_percentile(ours, 0.99) - _percentile(theirs, 0.99)) * 1e3)
        ours_rate.append(len(ours) / ours_wall)
        theirs_rate.append(len(theirs) / theirs_wall)
    note = f"{plan.clients} concurrent streaming clients, 8-chunk stream, median of {plan.rounds} alternating rounds"
    per_request = (max(peaks) - idle) / plan.clients if peaks else 0.0
    return [
        row(GROUP, f"latency added, p50, {plan.clients} clients", median(p50s), "ms", baseline_name="direct to the upstream", target="<= 2 ms",
            spread=spread(p50s), note=note + "; ours minus direct, per round"),
        row(GROUP, f"latency added, p99, {plan.clients} clients", median(p99s), "ms", baseline_name="direct to the upstream", target="informational",
            spread=spread(p99s), note=note),
        row(GROUP, "throughput through serve", median(ours_rate), "req/s", baseline_name="direct to the upstream",
            baseline_value=median(theirs_rate), ratio=round(median(ours_rate) / median(theirs_rate), 3),
            target="informational", spread=spread(ours_rate), note=note + "; the upstream and serve share 2 cores with the clients"),
        row(GROUP, "memory per in-flight request", per_request, "KB", target="informational",
            note=f"server RSS at the peak of a round ({max(peaks) if peaks else 0} KB) minus idle ({idle} KB), over {plan.clients}"),
    ]


async def _sigterm(client: Any, server: Server, plan: Plan, traces: Path) -> dict[str, Any]:
    async def terminate(tasks: list[Any]) -> None:
        await _in_flight(client, server)  # the signal lands while requests are in flight
        server.process.send_signal(signal.SIGTERM)

    answers, _wall = await _round(client, server.url, plan.clients, terminate)
    server.process.wait(timeout=60)
    text = "".join(f.read_text(encoding="utf-8") for f in sorted(traces.glob("*.jsonl")))
    lines = text.split("\n")
    torn = [l for l in lines[:-1] if not _whole(l)] + ([lines[-1]] if lines[-1] else [])  # the last must end in \n
    complete = {json.loads(l)["query_id"] for l in lines if _whole(l) and json.loads(l)["type"] == "complete"}
    served = [a for a in answers if a.status == 200 and a.whole]
    lost = [a for a in served if a.response_id not in complete]
    note = (f"SIGTERM once {plan.clients} streaming requests were in flight: {len(served)} answered in full, "
            f"{len(answers) - len(served)} refused or cut; of the answered, {len(lost)} without a complete trace "
            f"line; {len(torn)} torn lines in {len(lines) - 1} written")
    return row(GROUP, "trace lines lost or torn after SIGTERM", len(torn) + len(lost), "lines", target="<= 0", note=note)


async def _in_flight(client: Any, server: Server) -> None:
    """Until the server has a chat completion in flight (a fixed sleep is not enough: a
    server still closing the last round's cascades accepts nothing for a while)."""
    for _ in range(2000):
        if (await client.get(f"http://127.0.0.1:{server.port}/health")).json()["in_flight"]:
            return
        await asyncio.sleep(0.001)


def _whole(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def run(quick: bool) -> list[dict[str, Any]]:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise SkipBenchmark(f"serve needs the serve extra ({exc})") from None
    return asyncio.run(_measure(QUICK if quick else FULL))


def main(argv: list[str]) -> int:
    for item in run(quick="--quick" in argv):
        print(f"{item['name']:<40} {item['value']:>10.3f} {item['unit']:<6} target {item['target']:<12} {item['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
