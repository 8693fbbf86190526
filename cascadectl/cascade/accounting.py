"""Per-tier bookkeeping during a query: tokens, cost, time, outcome."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from cascadectl.config.model import TierConfig
from cascadectl.cascade.toolcalls import ToolCallAssembler
from cascadectl.pricing import Price, cost_usd
from cascadectl.streaming.deltas import Usage, UsageDelta
from cascadectl.quality.draft import Draft

CHARS_PER_TOKEN = 4  # for estimates only, when a provider reports no usage


def estimate_tokens(text: str) -> int:
    return max(1, (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN) if text else 0


@dataclass
class TierRun:
    tier: TierConfig
    index: int
    phase: str
    price: Price
    prompt_chars: int
    started: float = field(default_factory=time.perf_counter)
    first_token: float | None = None
    ended: float | None = None
    parts: list[str] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    tools: ToolCallAssembler = field(default_factory=ToolCallAssembler)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int = 0
    finish_reason: str | None = None
    refusal: str | None = None
    status: str = "running"  # answered | accepted | rejected | aborted | failed
    judged: bool = False  # a draft whose output is decided on
    shown: int = 0  # events of this tier the consumer has already been shown
    error: dict[str, Any] | None = None
    runtime: dict[str, Any] | None = None  # what the provider reports of how it ran (e.g. llamacpp buffers)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def add_usage(self, usage: UsageDelta) -> None:
        if usage.input_tokens is not None:
            self.input_tokens = usage.input_tokens
        if usage.output_tokens is not None:
            self.output_tokens = usage.output_tokens
        if usage.cached_input_tokens is not None:
            self.cached_input_tokens = usage.cached_input_tokens

    def usage(self) -> Usage:
        if self.first_token is None and self.input_tokens is None and self.status == "failed":
            return Usage(0, 0, 0, False)  # failed before any output: nothing was billed
        estimated = self.input_tokens is None or self.output_tokens is None
        inp = self.input_tokens if self.input_tokens is not None else self.prompt_chars // CHARS_PER_TOKEN
        out = self.output_tokens
        if out is None:
            out = len(self.logprobs) or estimate_tokens(self.text) + _tool_tokens(self)
        return Usage(inp, out, self.cached_input_tokens, estimated)

    def cost(self) -> float | None:
        return cost_usd(self.usage(), self.price)

    def draft(self) -> Draft:
        return Draft(self.text, self.logprobs, self.tools.drafts(), self.finish_reason, self.refusal)

    def finish(self, status: str) -> None:
        self.status = status
        self.ended = time.perf_counter()

    def latency_ms(self) -> float:
        return ((self.ended or time.perf_counter()) - self.started) * 1000.0

    def ttft_ms(self) -> float | None:
        return None if self.first_token is None else (self.first_token - self.started) * 1000.0

    def to_dict(self) -> dict[str, Any]:
        usage = self.usage()
        cost = self.cost()
        return {
            "tier": self.tier.name,
            "model": self.tier.model,
            "provider": self.tier.provider,
            "phase": self.phase,
            "status": self.status,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cached_input_tokens": usage.cached_input_tokens,
            "tokens_estimated": usage.estimated,
            "cost": None if cost is None else round(cost, 10),
            "price_source": self.price.source,
            "latency_ms": round(self.latency_ms(), 3),
            "ttft_ms": _round(self.ttft_ms()),
            "finish_reason": self.finish_reason,
            "error": self.error,
            "runtime": self.runtime,
        }


def _tool_tokens(run: TierRun) -> int:
    return sum(estimate_tokens("".join(slot.raw)) for slot in run.tools.slots.values())


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def total_cost(runs: Sequence[TierRun]) -> float | None:
    costs = [run.cost() for run in runs]
    return None if any(c is None for c in costs) else round(sum(c for c in costs if c is not None), 10)
