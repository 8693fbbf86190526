"""Helpers for the eval runner tests: a scripted two-tier fake cascade, evalset
files, providers that count in-flight calls or press Ctrl-C, report scrubbing."""
from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Iterable, Mapping

from cascadectl.config.model import CascadeConfig, PriceSpec, QualityConfig, TierConfig
from cascadectl.providers.base import ProviderRequest
from cascadectl.streaming.deltas import Delta
from cascadectl.providers.fake import FakeProvider

# The drafter knows capitals and hedges on arithmetic; the verifier answers
# arithmetic; "boom" makes both tiers fail; the judge prompt gets "yes".
DRAFTER_RESPONSES = [
    {"match": "grading an answer", "text": "yes"},
    {"match": "capital of France", "text": "Paris.", "logprob": -0.01, "usage": {"input": 10, "output": 2}},
    {"match": "capital of Italy", "text": "Rome.", "logprob": -0.01, "usage": {"input": 10, "output": 2}},
    {"match": "capital of Spain", "text": "Barcelona.", "logprob": -0.02, "usage": {"input": 10, "output": 3}},
    {"match": "boom", "error": {"kind": "server", "status": 500, "message": "scripted outage"}},
]
DRAFTER_DEFAULT = {"text": "I am not sure, maybe 6?", "logprob": -2.5, "usage": {"input": 10, "output": 8}}
VERIFIER_RESPONSES = [
    {"match": "grading an answer", "text": "yes", "usage": {"input": 40, "output": 1}},
    {"match": "boom", "error": {"kind": "server", "status": 500, "message": "scripted outage"}},
    {"match": "capital of Spain", "text": "Madrid.", "usage": {"input": 10, "output": 2}},
    {"match": "capital", "text": "Paris.", "usage": {"input": 10, "output": 2}},
]
VERIFIER_DEFAULT = {"text": "The answer is 5.", "logprob": -0.01, "usage": {"input": 10, "output": 5}}

ITEMS: list[dict[str, Any]] = [
    {"id": "q1", "query": "What is the capital of France?", "expected": "Paris", "scorer": "contains", "tags": ["factual", "easy"]},
    {"id": "q2", "query": "What is 2 + 3?", "expected": 5, "scorer": "numeric", "tags": ["arithmetic", "easy"]},
    {"id": "q3", "query": "What is the capital of Italy?", "expected": "Rome", "scorer": "contains", "tags": ["factual"]},
    {"id": "q4", "query": "What is the capital of Spain?", "expected": "Madrid", "scorer": "contains", "tags": ["factual", "hard"]},
    {"id": "q5", "query": "What is 4 + 1?", "expected": 5, "scorer": "numeric", "tags": ["arithmetic"]},
    {"id": "q6", "query": "Please boom now", "expected": "x", "scorer": "contains", "tags": ["fault"]},
]


def fake_cascade(provider: str = "fake", thresholds: Mapping[str, float] | None = None, name: str = "fakes") -> CascadeConfig:
    drafter = TierConfig(
        name="drafter", provider=provider, model="small", price=PriceSpec(1.0, 2.0),
        options={"responses": DRAFTER_RESPONSES, "default": DRAFTER_DEFAULT},
    )
    verifier = TierConfig(
        name="verifier", provider=provider, model="big", price=PriceSpec(10.0, 20.0),
        options={"responses": VERIFIER_RESPONSES, "default": VERIFIER_DEFAULT},
    )
    quality = QualityConfig(thresholds=dict(thresholds)) if thresholds else QualityConfig()
    return CascadeConfig(tiers=(drafter, verifier), name=name, quality=quality)


def cascade_yaml(path: Path, thresholds: Mapping[str, float] | None = None, gates: Mapping[str, Any] | None = None) -> Path:
    """The same cascade as a YAML file (JSON is YAML), for CLI tests."""
    tiers = [
        {"name": "drafter", "provider": "fake", "model": "small", "price": {"input": 1.0, "output": 2.0},
         "options": {"responses": DRAFTER_RESPONSES, "default": DRAFTER_DEFAULT}},
        {"name": "verifier", "provider": "fake", "model": "big", "price": {"input": 10.0, "output": 20.0},
         "options": {"responses": VERIFIER_RESPONSES, "default": VERIFIER_DEFAULT}},
    ]
    doc: dict[str, Any] = {"version": 1, "name": path.stem, "tiers": tiers}
    if thresholds:
        doc["quality"] = {"thresholds": dict(thresholds)}
    if gates:
        doc["gates"] = dict(gates)
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return path


def write_evalset(path: Path, items: Iterable[Mapping[str, Any]] = ITEMS) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return path


def many_items(count: int) -> list[dict[str, Any]]:
    return [{"id": f"n{i}", "query": f"What is the capital of France? ({i})", "expected": "Paris", "scorer": "contains"} for i in range(count)]


@dataclass
class Gauge:
    """In-flight provider calls, and the most seen at once."""

    now: int = 0
    peak: int = 0
    calls: int = 0
    interrupt_at: int | None = None  # press Ctrl-C when this call starts


GAUGE = Gauge()


class CountingProvider(FakeProvider):
    """The fake provider, but each call yields to the event loop a few times while
    counted as in flight, so concurrent calls really overlap (no sleeping)."""

    async def stream(self, request: ProviderRequest) -> AsyncIterator[Delta]:
        GAUGE.now += 1
        GAUGE.calls += 1
        GAUGE.peak = max(GAUGE.peak, GAUGE.now)
        try:
            if GAUGE.calls == GAUGE.interrupt_at:
                signal.raise_signal(signal.SIGINT)
            for _ in range(3):
                await asyncio.sleep(0)
            async for delta in super().stream(request):
                yield delta
        finally:
            GAUGE.now -= 1


def use_counting_provider(monkeypatch: Any, name: str = "counting", interrupt_at: int | None = None) -> Gauge:
    import cascadectl.providers as providers

    global GAUGE
    GAUGE = Gauge(interrupt_at=interrupt_at)
    monkeypatch.setitem(providers._REGISTRY, name, ("tests.support.eval_fakes", "CountingProvider"))
    return GAUGE


def gauge() -> Gauge:
    return GAUGE


_VOLATILE = re.compile(r"latency|ttft|^created$|^trace_lines$|^run_ids?$|^t_ms$")


def scrub(value: Any) -> Any:
    """A report without what depends on the clock or the run: for comparing runs."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if not _VOLATILE.search(str(k))}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def cut_trace(source: Path, target: Path, keep_lines: int, torn_chars: int = 25) -> None:
    """A copy of a trace as a killed run leaves it: the first lines whole, then half a line."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    target.write_text("".join(lines[:keep_lines]) + lines[keep_lines][:torn_chars], encoding="utf-8")
    manifest = source.parent / "run.json"
    if manifest.exists():
        shutil.copy(manifest, target.parent / "run.json")
