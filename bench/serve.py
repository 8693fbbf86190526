"""Benchmark: `cascadectl serve` under concurrent streaming clients.

A loopback OpenAI-compatible upstream (bench/_loopback.py, its own process) serves the
streams; `cascadectl serve` (its own process, a cascade of two `openai` tiers on that
upstream, tracing to a temporary directory) stands in front of it. The same httpx
clients (streaming, read to `[DONE]`) call the upstream directly (the baseline) and
through `serve` (ours), alternating.

Rows:
- one client, one request at a time, an 8-chunk stream written at once: what serve adds
  to a request alone;
- steady load: `CLIENTS` concurrent streaming clients, each sending its next request as
  soon as one ends, on a stream paced like a hosted model's (200 ms to the first token,
  then 50 tokens/s): latency added at p50 and p99 (ours minus direct, per pair of
  phases), the server's CPU per request, and its resident memory per in-flight request;
- saturation: a burst of `CLIENTS` requests at the same instant to an upstream that
  answers at once, so that the clients, the upstream and serve compete for the cores:
  throughput through serve against direct, and the latency the queue adds;
- a SIGTERM during a burst: requests finished, trace lines lost or torn (target 0).

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

from bench._client import Answer, RawClient
from bench._timing import median, row, spread
from bench.harness import SkipBenchmark

GROUP = "serve"
REPO = Path(__file__).resolve().parent.parent
CLIENTS = 100
BODY = {"model": "bench", "messages": [{"role": "user", "content": "What is the capital of France?"}], "stream": True}


class Pin(NamedTuple):
    server: int
    harness: set[int]


def _pin() -> Pin | None:
    """With two or more CPUs (on Linux), serve gets one of its own and the clients and
    the upstream share the rest, as a deployed server has its CPU to itself: the
    figures are then what serve costs, not how the harness crowds it out."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2 or os.environ.get("CASCADECTL_BENCH_NO_PIN"):
        return None
    return Pin(cpus[-1], set(cpus[:-1]))


PIN = _pin()


class Plan(NamedTuple):
    rounds: int  # bursts, each way
    clients: int
    phases: int  # steady phases, each way
    phase_s: float  # seconds a steady phase sends requests for


QUICK, FULL = Plan(2, 20, 1, 3.5), Plan(7, CLIENTS, 3, 7.0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cascade(path: Path, upstream: str, name: str = "bench") -> Path:
    tier = "  - {{name: {n}, provider: openai, model: {n}, base_url: '{u}', price: {{input: {i}, output: {o}}}, retries: 0}}\n"
    path.write_text(f"version: 1\nname: {name}\ntiers:\n" + tier.format(n="draft", u=upstream, i=0.1, o=0.4)
                    + tier.format(n="verify", u=upstream, i=2.5, o=10.0), encoding="utf-8")
    return path


class Server:
    def __init__(self, cascades: list[Path], traces: Path) -> None:
        self.port = _free_port()
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("PYTEST_CURRENT_TEST", None)
        args = [sys.executable, "-m", "cascadectl.cli.main", "serve", *map(str, cascades), "--port", str(self.port),
                "--trace-dir", str(traces), "--max-concurrency", "1024"]
        self.process = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if PIN:
            os.sched_setaffinity(self.process.pid, {PIN.server})
        self.url = f"http://127.0.0.1:{self.port}/v1"

    async def ready(self, client: Clients) -> None:
        for _ in range(400):
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if (await client.http.get(f"http://127.0.0.1:{self.port}/health")).status_code == 200:
                    return
            except Exception:  # noqa: BLE001 - not listening yet
                await asyncio.sleep(0.05)
        raise RuntimeError("serve did not become ready")

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def cpu_s(self) -> float:
        """The server process's user + system CPU time so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


class Clients(NamedTuple):
    raw: RawClient  # the measured requests, both ways
    http: Any  # httpx: health checks


async def _one(client: Clients, url: str, body: dict[str, Any] = BODY) -> Answer:
    return await client.raw.post(f"{url}/chat/completions", body)


async def _round(client: Clients, url: str, clients: int, during: Any = None) -> tuple[list[Answer], float]:
    """`clients` requests at once; `during(tasks)` runs while they are in flight."""
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
    if PIN:
        os.sched_setaffinity(0, PIN.harness)  # before the upstream starts: it inherits this
    with Loopback() as upstream, tempfile.TemporaryDirectory(prefix="cascadectl-bench-serve-") as tmp:
        direct_url = upstream.base_url("short")
        cascades = [_cascade(Path(tmp) / "bench.yaml", direct_url),
                    _cascade(Path(tmp) / "paced.yaml", upstream.base_url("paced"), name="paced")]
        server = Server(cascades, Path(tmp) / "traces")
        try:
            async with httpx.AsyncClient(limits=limits, timeout=60.0) as http:
                client = Clients(RawClient(), http)
                await server.ready(client)
                rows = [await _sequential(client, server, direct_url, plan)]
                rows += await _steady(client, server, upstream.base_url("paced"), plan)
                rows += await _rounds(client, server, direct_url, plan)
                rows.append(await _sigterm(client, server, plan, Path(tmp) / "traces"))
        finally:
            server.stop()
    return rows


async def _sequential(client: Clients, server: Server, direct: str, plan: Plan) -> dict[str, Any]:
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


class Phase(NamedTuple):
    seconds: list[float]  # per request started after the warm-up
    requests: int  # every request answered in full
    wall: float


async def _phase(client: Clients, url: str, body: dict[str, Any], plan: Plan, stream_s: float) -> Phase:
    """`plan.clients` loops, started at even offsets over one stream's length, each
    sending its next request as soon as one ends, for `plan.phase_s`. Requests started
    in the first stream's length (connections opening, arrivals spreading out) are
    not counted in the latencies."""
    start = time.perf_counter()
    warm, stop = start + stream_s, start + plan.phase_s
    seconds: list[float] = []
    answered = [0]

    async def loop(offset: float) -> None:
        await asyncio.sleep(offset)
        while time.perf_counter() < stop:
            began = time.perf_counter()
            answer = await _one(client, url, body)
            if answer.status == 200 and answer.whole:
                answered[0] += 1
                if began >= warm:
                    seconds.append(answer.seconds)

    await asyncio.gather(*(loop(i * stream_s / plan.clients) for i in range(plan.clients)))
    return Phase(seconds, answered[0], time.perf_counter() - start)


async def _steady(client: Clients, server: Server, direct: str, plan: Plan) -> list[dict[str, Any]]:
    from bench._streams import PACED

    tokens, pace = PACED["paced"]
    stream_s = pace.first_s + (len(tokens()) - 1) * pace.gap_s
    body = {**BODY, "model": "paced"}
    await _one(client, server.url, body)  # warm-up: the paced cascade's first request
    idle = server.rss_kb()
    p50s, p99s, cpu, peaks = [], [], [], []
    for i in range(plan.phases):
        order = [(server.url, True), (direct, False)] if i % 2 == 0 else [(direct, False), (server.url, True)]
        phases = {}
        for url, mine in order:
            cpu_before = server.cpu_s()
            sampler = asyncio.create_task(_sample_rss(server, peaks)) if mine else None
            phases[mine] = await _phase(client, url, body, plan, stream_s)
            if sampler is not None:
                sampler.cancel()
                cpu.append((server.cpu_s() - cpu_before) / max(1, phases[mine].requests) * 1e3)
        ours, theirs = phases[True].seconds, phases[False].seconds
        p50s.append((_percentile(ours, 0.5) - _percentile(theirs, 0.5)) * 1e3)
        p99s.append((_percentile(ours, 0.99) - _percentile(theirs, 0.99)) * 1e3)
    rate = phases[True].requests / phases[True].wall
    note = (f"{plan.clients} concurrent streaming clients, each sending its next request when one ends, "
            f"{len(tokens())}-token stream paced like a hosted model ({pace.first_s * 1e3:.0f} ms to the first token, "
            f"{1 / pace.gap_s:.0f} tokens/s, {stream_s:.2f} s a request); {plan.phases} pairs of {plan.phase_s:g} s phases, "
            f"about {rate:.0f} requests/s")
    per_request = (max(peaks) - idle) / plan.clients if peaks else 0.0
    return [
        row(GROUP, f"latency added, p50, {plan.clients} clients", median(p50s), "ms", baseline_name="direct to the upstream",
            target="<= 2 ms", spread=spread(p50s), note=note + "; ours minus direct, per pair of phases"),
        row(GROUP, f"latency added, p99, {plan.clients} clients", median(p99s), "ms", baseline_name="direct to the upstream",
            target="informational", spread=spread(p99s), note=note),
        row(GROUP, "server CPU per request", median(cpu), "ms", target="informational", spread=spread(cpu),
            note="user + system CPU of the serve process over a steady phase, over the requests answered in it"),
        row(GROUP, "memory per in-flight request", per_request, "KB", target="informational",
            note=f"server RSS at the peak of the steady phases ({max(peaks) if peaks else 0} KB) minus idle ({idle} KB), "
                 f"over {plan.clients} requests in flight"),
    ]


async def _sample_rss(server: Server, peaks: list[int]) -> None:
    while True:
        peaks.append(server.rss_kb())
        await asyncio.sleep(0.05)


async def _rounds(client: Clients, server: Server, direct: str, plan: Plan) -> list[dict[str, Any]]:
    await _round(client, direct, plan.clients)  # warm-up: connections, imports, caches
    await _round(client, server.url, plan.clients)
    p50s, p99s, ours_rate, theirs_rate = [], [], [], []
    for i in range(plan.rounds):
        order = [(server.url, True), (direct, False)] if i % 2 == 0 else [(direct, False), (server.url, True)]
        results = {mine: await _round(client, url, plan.clients) for url, mine in order}
        (mine_answers, ours_wall), (their_answers, theirs_wall) = results[True], results[False]
        ours, theirs = [a.seconds for a in mine_answers], [a.seconds for a in their_answers]
        p50s.append((_percentile(ours, 0.5) - _percentile(theirs, 0.5)) * 1e3)
        p99s.append((_percentile(ours, 0.99) - _percentile(theirs, 0.99)) * 1e3)
        ours_rate.append(len(ours) / ours_wall)
        theirs_rate.append(len(theirs) / theirs_wall)
    note = (f"saturation: a burst of {plan.clients} requests at once, 8-chunk stream written at once, median of "
            f"{plan.rounds} alternating rounds; the clients, the upstream and serve share the cores, so each request "
            "waits for the CPU the ones before it use")
    return [
        row(GROUP, "throughput through serve, burst", median(ours_rate), "req/s", baseline_name="direct to the upstream",
            baseline_value=median(theirs_rate), ratio=round(median(ours_rate) / median(theirs_rate), 3),
            target="informational", spread=spread(ours_rate), note=note),
        row(GROUP, f"latency added, p50, burst of {plan.clients}", median(p50s), "ms", baseline_name="direct to the upstream",
            target="informational", spread=spread(p50s), note=note + "; ours minus direct, per round"),
        row(GROUP, f"latency added, p99, burst of {plan.clients}", median(p99s), "ms", baseline_name="direct to the upstream",
            target="informational", spread=spread(p99s), note=note),
    ]


async def _sigterm(client: Clients, server: Server, plan: Plan, traces: Path) -> dict[str, Any]:
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


async def _in_flight(client: Clients, server: Server) -> None:
    """Until the server has a chat completion in flight (a fixed sleep is not enough: a
    server still closing the last round's cascades accepts nothing for a while)."""
    for _ in range(2000):
        if (await client.http.get(f"http://127.0.0.1:{server.port}/health")).json()["in_flight"]:
            return
        await asyncio.sleep(0.001)


def _whole(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _run_loop(main: Any) -> Any:
    """The clients on uvloop where it is installed (the serve extra has it): the load
    they put on the shared cores is then about half what the standard loop's is."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def run(quick: bool) -> list[dict[str, Any]]:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise SkipBenchmark(f"serve needs the serve extra ({exc})") from None
    return _run_loop(_measure(QUICK if quick else FULL))


def main(argv: list[str]) -> int:
    for item in run(quick="--quick" in argv):
        print(f"{item['name']:<40} {item['value']:>10.3f} {item['unit']:<6} target {item['target']:<12} {item['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
