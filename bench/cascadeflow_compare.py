"""Benchmark: cascadectl side by side with cascadeflow 1.2.0, in the same run.

Both libraries run the same two-tier cascade against the same loopback stream
(bench._loopback; cascadeflow through its `vllm` provider, which speaks to any
OpenAI-compatible server at `base_url`), streaming, same query and max_tokens,
with their default validators; both drafters accept the draft, so neither calls
its verifier. Raw httpx is measured in the same rounds, and each library's
figure is what it adds over raw httpx. Rounds rotate ours / raw / cascadeflow.

The stream carries token logprobs, as an OpenAI-compatible server sends when
asked: we ask and score them; cascadeflow's vllm provider neither asks for nor
reads them (it estimates confidence from the text), so it does less work here.

cascadeflow is a benchmark-only dependency: `pip install -r bench/requirements.txt`.

    python -m bench.cascadeflow_compare [--quick]
"""
from __future__ import annotations

import asyncio
import importlib.util
import statistics
import subprocess
import sys
import time
from importlib import metadata
from typing import Any, Callable, NamedTuple, Sequence

from bench._streams import QUERY, draft_text
from bench._timing import Timed, median, row, skipped, spread
from bench.engine import LONG, Runner, added, decision_action, decision_times, measure, stream_runner

GROUP = "cascadeflow"
PINNED = "1.2.0"
ROW_NAMES = ("overhead per streamed event", "time to first token added", "fixed cost per request",
             "decision time, 500-token draft", "import time of CascadeAgent")
IMPORTS = {
    "ours": "from cascadectl import CascadeAgent; CascadeAgent",
    "theirs": "from cascadeflow import CascadeAgent",
    "bare": "pass",
}


class Plan(NamedTuple):
    long_runs: int
    short_runs: int
    warmup: int
    decision_samples: int
    imports: int


def plan(quick: bool) -> Plan:
    return Plan(3, 20, 2, 5, 2) if quick else Plan(31, 401, 15, 40, 15)


def their_agent(base_url: str) -> Any:
    from cascadeflow import CascadeAgent, ModelConfig

    # Blended USD per 1K tokens; the cheaper model is the drafter.
    models = [
        ModelConfig(name="bench-draft", provider="vllm", base_url=base_url, cost=0.00025),
        ModelConfig(name="bench-verify", provider="vllm", base_url=base_url, cost=0.00625),
    ]
    return CascadeAgent(models=models)


async def close_theirs(agent: Any) -> None:
    for provider in agent.model_providers.values():
        await provider.client.aclose()


def their_runner(agent: Any) -> Runner:
    from cascadeflow.streaming import StreamEventType

    return stream_runner(agent, StreamEventType.CHUNK, StreamEventType.COMPLETE)


async def measure_three(base_url: str, runs: int, warmup: int) -> list[list[Timed]]:
    """[ours, raw, cascadeflow] timings on one stream."""
    agent = their_agent(base_url)
    try:
        return await measure(base_url, runs, warmup, [their_runner(agent)])
    finally:
        await close_theirs(agent)


def _side_by_side(name: str, ours: list[float], theirs: list[float], unit: str, note: str) -> dict[str, Any]:
    value, base = median(ours), median(theirs)
    times = f"; cascadeflow/ours = {base / value:.1f}x" if value > 0 and base > 0 else ""
    return row(GROUP, name, value, unit, baseline_name=f"cascadeflow {_version()}", baseline_value=base,
               target="< baseline", spread=spread(ours), note=note + times)


def stream_rows(long_t: Sequence[list[Timed]], short_t: Sequence[list[Timed]]) -> list[dict[str, Any]]:
    def per_event(s: float) -> float:
        return s * 1e6 / LONG

    def ms(s: float) -> float:
        return s * 1e3

    (lo, lr, lt), (so, sr, st) = long_t, short_t

    def cpu(mine: list[Timed], raw: list[Timed], theirs: list[Timed], field: str, scale: Callable[[float], float]) -> str:
        ours, other = median(added(mine, raw, field, scale)), median(added(theirs, raw, field, scale))
        return f"client CPU time added: ours {ours:.3g}, cascadeflow {other:.3g}"

    return [
        _side_by_side(ROW_NAMES[0], added(lo, lr, "total", per_event), added(lt, lr, "total", per_event), "µs/event",
                      f"added over raw httpx, {LONG}-chunk stream; median of {len(lo)} rounds; "
                      + cpu(lo, lr, lt, "cpu_total", per_event)),
        _side_by_side(ROW_NAMES[1], added(so, sr, "ttft", ms), added(st, sr, "ttft", ms), "ms",
                      f"added over raw httpx, 8-chunk stream; median of {len(so)} rounds; "
                      + cpu(so, sr, st, "cpu_ttft", ms)),
        _side_by_side(ROW_NAMES[2], added(so, sr, "total", ms), added(st, sr, "total", ms), "ms",
                      f"added over raw httpx, 8-chunk stream; median of {len(so)} rounds; "
                      + cpu(so, sr, st, "cpu_total", ms)),
    ]


def their_decision_action() -> Callable[[], Any]:
    """What cascadeflow's StreamManager runs between the end of a draft and its
    DRAFT_DECISION: confidence from the logprobs, then the quality validator."""
    agent = their_agent("http://127.0.0.1:9/v1")  # never contacted
    manager, validator = agent.text_streaming_manager, agent.cascade.quality_validator
    text, logprobs = draft_text(500)

    def action() -> Any:
        confidence = manager._calculate_confidence_from_logprobs(logprobs, "vllm")
        return validator.validate(draft_content=text, query=QUERY, confidence=confidence, complexity="moderate")

    return action


def decision_row(samples: int) -> dict[str, Any]:
    ours, theirs = decision_action(), their_decision_action()
    if not (ours().accepted and theirs().passed):
        raise RuntimeError("both libraries should accept the benchmark draft")
    mine, other = [], []
    for _ in range(samples // 5 or 1):  # alternate in blocks so both see the same machine state
        mine += decision_times(ours, 5)
        other += decision_times(theirs, 5)
    return _side_by_side(ROW_NAMES[3], mine, other, "ms",
                         f"500 tokens with logprobs, default validators; median of {len(mine)} samples of 20 calls")


def wall_ms(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1e3


def import_row(repeats: int) -> dict[str, Any]:
    """Fresh interpreters, rotating ours / theirs / bare; figures are wall time minus bare `python -c pass`."""
    times: dict[str, list[float]] = {key: [] for key in IMPORTS}
    keys = list(IMPORTS)
    for i in range(repeats + 1):
        for k in range(len(keys)):
            key = keys[(i + k) % len(keys)]
            elapsed = wall_ms(IMPORTS[key])
            if i:  # the first round only warms the OS file cache
                times[key].append(elapsed)
    bare = statistics.median(times["bare"])
    ours = [t - bare for t in times["ours"]]
    theirs = [t - bare for t in times["theirs"]]
    note = (f"fresh `python -c` process, wall time minus bare `python -c pass` ({bare:.0f} ms); "
            f"median of {repeats}")
    return _side_by_side(ROW_NAMES[4], ours, theirs, "ms", note)


def _version() -> str:
    try:
        return metadata.version("cascadeflow")
    except metadata.PackageNotFoundError:
        return "(not installed)"


async def _streams(p: Plan) -> list[dict[str, Any]]:
    from bench._loopback import Loopback

    with Loopback() as server:
        long_t = await measure_three(server.base_url("long"), p.long_runs, p.warmup)
        short_t = await measure_three(server.base_url("short"), p.short_runs, p.warmup)
    return stream_rows(long_t, short_t)


def run(quick: bool) -> list[dict[str, Any]]:
    if importlib.util.find_spec("cascadeflow") is None:
        return skipped(GROUP, "cascadeflow is not installed (pip install -r bench/requirements.txt)", ROW_NAMES)
    p = plan(quick)
    rows = asyncio.run(_streams(p))
    rows += [decision_row(p.decision_samples), import_row(p.imports)]
    if _version() != PINNED:
        for item in rows:
            item["note"] += f"; NOTE: cascadeflow {_version()} installed, the comparison is pinned to {PINNED}"
    return rows


def main(argv: list[str]) -> int:
    for item in run(quick="--quick" in argv):
        print(f"{item['name']:<32} ours {item['value']:>9} {item['unit']:<9} cascadeflow {item['baseline_value']}"
              f"  ({item['note']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
