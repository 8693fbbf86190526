"""Timing helpers the benchmark modules share: interleaved paired runs, medians,
spreads, and rows in the harness's format."""
from __future__ import annotations

import statistics
import time
from typing import Any, Awaitable, Callable, NamedTuple, Sequence

Clock = Callable[[], float]


class Timed(NamedTuple):
    """Seconds from request start to the first text chunk and to the end, in
    wall-clock time and in this thread's CPU time (the CPU figures are immune
    to other processes taking the CPU away on a shared machine)."""

    ttft: float
    total: float
    cpu_ttft: float
    cpu_total: float


class Stopwatch:
    """Wall-clock and thread CPU time together; `lap()` marks the first chunk."""

    __slots__ = ("wall", "cpu", "first_wall", "first_cpu")

    def __init__(self) -> None:
        self.first_wall = self.first_cpu = 0.0
        self.wall, self.cpu = time.perf_counter(), time.thread_time()

    def lap(self) -> None:
        if not self.first_wall:
            self.first_wall, self.first_cpu = time.perf_counter(), time.thread_time()

    def stop(self) -> Timed:
        wall, cpu = time.perf_counter(), time.thread_time()
        return Timed(self.first_wall - self.wall, wall - self.wall, self.first_cpu - self.cpu, cpu - self.cpu)


async def interleaved(
    runners: Sequence[Callable[[], Awaitable[Timed]]], repeats: int, warmup: int
) -> list[list[Timed]]:
    """Run every side once per round, rotating who goes first so that no side
    always runs on caches another warmed; warm-up rounds are discarded."""
    for _ in range(warmup):
        for runner in runners:
            await runner()
    out: list[list[Timed]] = [[] for _ in runners]
    for i in range(repeats):
        for k in range(len(runners)):
            j = (i + k) % len(runners)
            out[j].append(await runners[j]())
    return out


def differences(mine: Sequence[float], theirs: Sequence[float]) -> list[float]:
    return [a - b for a, b in zip(mine, theirs)]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float]) -> float:
    """Relative spread: interquartile range over the median's magnitude (robust
    to the odd run a shared machine interrupts)."""
    if len(values) < 4:
        return _range_spread(values)
    q1, _, q3 = statistics.quantiles(values, n=4)
    mid = abs(statistics.median(values))
    return (q3 - q1) / mid if mid else 0.0


def _range_spread(values: Sequence[float]) -> float:
    mid = abs(statistics.median(values))
    return (max(values) - min(values)) / mid if mid and len(values) > 1 else 0.0


def per_call(action: Callable[[], Any], calls: int, samples: int, clock: Clock = time.perf_counter) -> list[float]:
    """Seconds per call of `action`, one figure per sample of `calls` calls."""
    out: list[float] = []
    for _ in range(samples):
        start = clock()
        for _ in range(calls):
            action()
        out.append((clock() - start) / calls)
    return out


def row(group: str, name: str, value: float, unit: str, **fields: Any) -> dict[str, Any]:
    """A result row; fields: baseline_name, baseline_value, target, spread, note (and ratio, pass)."""
    out: dict[str, Any] = {
        "group": group, "name": name, "value": round(value, 4), "unit": unit,
        "baseline_name": "", "baseline_value": None, "target": "", "spread": 0.0, "note": "",
    }
    out.update(fields)
    if isinstance(out["baseline_value"], float):
        out["baseline_value"] = round(out["baseline_value"], 4)
    out["spread"] = round(float(out["spread"]), 3)
    return out


def skipped(group: str, why: str, names: Sequence[str] = ("all",)) -> list[dict[str, Any]]:
    rows = [row(group, name, 0.0, "", note=f"skipped: {why}") for name in names]
    for out in rows:
        out["value"] = None  # nothing was measured
    return rows
