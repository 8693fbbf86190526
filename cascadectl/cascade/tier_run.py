"""One tier's run within a query, while it runs: the text and logprobs so far, tool
calls forming, usage, times and outcome. `record()` makes its TierRecord."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from cascadectl.cascade.toolcalls import ToolCallAssembler
from cascadectl.config.model import TierConfig
from cascadectl.pricing import Price, cost_usd
from cascadectl.quality.draft import Draft
from cascadectl.streaming.deltas import Usage, UsageDelta
from cascadectl.traces.records import DraftRecord, TierRecord

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
    clock: Callable[[], float]
    started: float = 0.0
    first_token: float | None = None
    ended: float | None = None
    parts: list[str] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)  # per text delta: characters, logprobs
    tools: ToolCallAssembler = field(default_factory=ToolCallAssembler)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int = 0
    usage_estimated: bool = False  # the provider said its own figures are estimates
    finish_reason: str | None = None
    refusal: str | None = None
    status: str = "running"  # answered | accepted | rejected | aborted | failed
    judged: bool = False  # a draft whose output is decided on
    shown: int = 0  # events of this tier the consumer has already been shown
    error: dict[str, Any] | None = None
    runtime: dict[str, Any] | None = None  # what the provider reports of how it ran (e.g. llamacpp buffers)

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def started_output(self) -> bool:
        return bool(self.parts) or bool(self.tools.slots)

    def add_usage(self, usage: UsageDelta) -> None:
        if usage.input_tokens is not None:
            self.input_tokens = usage.input_tokens
        if usage.output_tokens is not None:
            self.output_tokens = usage.output_tokens
        if usage.cached_input_tokens is not None:
            self.cached_input_tokens = usage.cached_input_tokens
        self.usage_estimated = usage.estimated

    def usage(self) -> Usage:
        if self.first_token is None and self.input_tokens is None and self.status == "failed":
            return Usage(0, 0, 0, False)  # failed before any output: nothing was billed
        estimated = self.input_tokens is None or self.output_tokens is None or self.usage_estimated
        inp = self.input_tokens if self.input_tokens is not None else self.prompt_chars // CHARS_PER_TOKEN
        out = self.output_tokens
        if out is None:
            out = len(self.logprobs) or estimate_tokens(self.text) + _tool_tokens(self)
        return Usage(inp, out, self.cached_input_tokens, estimated)

    def cost(self) -> float | None:
        return cost_usd(self.usage(), self.price)

    def draft(self) -> Draft:
        return Draft(self.text, self.logprobs, self.tools.drafts(), self.finish_reason, self.refusal)

    def draft_record(self) -> DraftRecord:
        """Enough of the draft to re-decide it later from the trace, without the model."""
        calls = [{"id": d.id, "name": d.name, "raw_arguments": d.raw_arguments} for d in self.tools.drafts()]
        return DraftRecord(self.text, list(self.logprobs), calls, self.finish_reason, self.refusal,
                           [list(span) for span in self.spans])

    def finish(self, status: str) -> None:
        """The outcome; the end time is when the call ended, if `ended_call` said so."""
        self.status = status
        if self.ended is None:
            self.ended = self.clock()

    def ended_call(self) -> None:
        # A judged draft's call ends before another tier reads it and before the
        # decision: its latency is its own call's.
        self.ended = self.clock()

    def latency_ms(self) -> float:
        return ((self.ended if self.ended is not None else self.clock()) - self.started) * 1000.0

    def ttft_ms(self) -> float | None:
        return None if self.first_token is None else (self.first_token - self.started) * 1000.0

    def record(self) -> TierRecord:
        usage, cost = self.usage(), self.cost()
        return TierRecord(
            self.tier.name, self.tier.model, self.tier.provider, self.phase, self.status,
            usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, usage.estimated,
            None if cost is None else round(cost, 10), self.price.source, round(self.latency_ms(), 3),
            _round(self.ttft_ms()), self.finish_reason, self.error, self.runtime,
        )


def _tool_tokens(run: TierRun) -> int:
    return sum(estimate_tokens("".join(slot.raw)) for slot in run.tools.slots.values())


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def total_cost(runs: Sequence[TierRun]) -> float | None:
    costs = [run.cost() for run in runs]
    return None if any(c is None for c in costs) else round(sum(c for c in costs if c is not None), 10)
