"""Signals that another tier measures on a draft before the decision: today the
`likelihood` validator, the reading tier's log-probability of the draft's tokens
after the same conversation (one prefill of prompt and draft, no sampling).

The read is a call like any other: it gets its own tier run (phase `score`, status
`scored`), so its tokens, cost and time count in the query's cost and latency and
appear in its tier records. A read that fails leaves the signal out (the check then
has no signal) and records the error; it never fails the query. The validator's
`read_above`/`read_below` options skip the read (and its cost) where the free signals
already decide: the score without it below `read_above` or at least `read_below`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from cascadectl.cascade.tier_run import TierRun
from cascadectl.errors import ConfigError, ProviderError
from cascadectl.quality.draft import ScoredText
from cascadectl.streaming.deltas import UsageDelta

if TYPE_CHECKING:
    from cascadectl.cascade.engine import _QueryState
    from cascadectl.config.model import CascadeConfig, ValidatorSpec


def reader_index(config: CascadeConfig, spec: ValidatorSpec, drafting: int) -> int:
    """The tier that reads a draft of tier `drafting`: the validator's `tier`, else the next."""
    name = spec.options.get("tier")
    if name is None:
        return drafting + 1
    for index, tier in enumerate(config.tiers):
        if tier.name == name:
            return index
    raise ConfigError(f"quality.validators: likelihood: no tier named {name!r}")


def worth_reading(state: _QueryState, run: TierRun, spec: ValidatorSpec) -> bool:
    """Read only where the free signals leave the decision open: a draft that fails a
    hard check, or whose score without the read falls outside [read_above, read_below),
    is decided without it (and without its cost)."""
    if not run.text.strip():
        return False
    before = state.engine.decider.decide(run.draft(), state.context(run))
    if any(c.kind == "hard" and not c.passed for c in before.checks):
        return False
    low, high = float(spec.options.get("read_above", 0.0)), float(spec.options.get("read_below", 1.0 + 1e-9))
    return low <= before.score < high


async def read_draft(state: _QueryState, run: TierRun, index: int) -> dict[str, ScoredText]:
    spec = state.engine.decider.likelihood
    if spec is None or not worth_reading(state, run, spec):
        return {}
    engine = state.engine
    reader = reader_index(engine.config, spec, index)
    tier = engine.config.tiers[reader]
    read = TierRun(tier, reader, "score", engine.prices[reader], state.prompt_chars + len(run.text), state.clock)
    state.spent.append(read)
    provider = engine.provider(reader)
    try:
        scored = await provider.score(state.request(reader, read), run.text)  # type: ignore[attr-defined]
    except ProviderError as exc:
        read.error = exc.to_dict()
        read.finish("failed")
        return {}
    read.add_usage(UsageDelta(scored.input_tokens, 0, 0))
    read.runtime = getattr(provider, "runtime", None)
    read.finish("scored")
    return {"likelihood": ScoredText(tier.name, scored.logprobs)}
