"""The judge scorer's model call: a yes/no question about an answer against the reference.

The judge is a tier of the cascade by name (default: the last tier) or a model
given inline in the evalset line. It runs alone (one tier, no drafting), so its
cost is what that one call cost; the runner records it in the score line.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Mapping

from cascadectl.config.model import CascadeConfig, TierConfig
from cascadectl.errors import CascadeError, ConfigError
from cascadectl.evals.evalset import EvalItem

PROMPT = (
    "You are grading an answer to a question against a reference answer.\n"
    "Question: {question}\n"
    "Reference answer: {reference}\n"
    "Answer to grade: {answer}\n"
    "Does the answer to grade agree with the reference answer? Reply with one word: yes or no."
)
_YES = frozenset({"yes", "correct", "true", "right"})
_NO = frozenset({"no", "incorrect", "false", "wrong"})
_FIRST_WORD = re.compile(r"[A-Za-z]+")
JUDGE_MAX_TOKENS = 8


@dataclass(frozen=True)
class JudgeVerdict:
    verdict: float | None  # 1.0 yes, 0.0 no, None when the judge gave no usable answer
    tier: str
    model: str
    cost: float | None
    reply: str
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict, "tier": self.tier, "model": self.model,
            "cost": self.cost, "reply": self.reply, "error": self.error,
        }

    def describe(self) -> str:
        cost = "unknown" if self.cost is None else f"${self.cost:.6f}"
        said = f"said {self.reply.strip()[:40]!r}" if self.error is None else f"failed: {self.error}"
        return f"judge {self.tier} ({self.model}) {said}, cost {cost}"


def judge_tier(config: CascadeConfig, spec: str | Mapping[str, Any] | None) -> TierConfig:
    """The tier that judges; ConfigError naming the problem when the spec is wrong."""
    if spec is None:
        return config.tiers[-1]
    if isinstance(spec, str):
        try:
            return config.tier(spec)
        except KeyError:
            names = ", ".join(t.name for t in config.tiers)
            raise ConfigError(f"judge: no tier named {spec!r} in the cascade (tiers: {names})") from None
    return _inline_tier(spec)


def _inline_tier(spec: Mapping[str, Any]) -> TierConfig:
    """An inline judge is a tier like any other: the YAML's checks, the one builder."""
    from cascadectl.config.loader import load_tier

    return load_tier({"name": "judge", **spec}, "judge")


def judge_key(spec: str | Mapping[str, Any] | None) -> str:
    return json.dumps(spec, sort_keys=True)


class Judges:
    """One single-tier agent per distinct judge, shared by every judged item."""

    def __init__(self, config: CascadeConfig) -> None:
        self.config = config
        self._agents: dict[str, Any] = {}

    def check(self, items: list[EvalItem]) -> None:
        """Fail before the run, not halfway, when an item names a judge that cannot exist."""
        for item in items:
            if item.scorer == "judge":
                try:
                    self._agent(item.judge)
                except ConfigError as exc:
                    raise ConfigError(f"evalset line {item.line} (id {item.id!r}): {exc}") from None

    async def ask(self, item: EvalItem, answer: str) -> JudgeVerdict:
        agent = self._agent(item.judge)
        tier = agent.config.tiers[0]
        prompt = PROMPT.format(question=_question(item), reference=_reference(item.expected), answer=answer)
        try:
            result = await agent.run(prompt, max_tokens=JUDGE_MAX_TOKENS, temperature=0.0)
        except CascadeError as exc:
            return JudgeVerdict(None, tier.name, tier.model, None, "", str(exc))
        return JudgeVerdict(parse_verdict(result.content), tier.name, tier.model, result.total_cost, result.content)

    async def aclose(self) -> None:
        for agent in self._agents.values():
            await agent.aclose()
        self._agents.clear()

    def _agent(self, spec: str | Mapping[str, Any] | None) -> Any:
        from cascadectl.cascade.agent import CascadeAgent

        key = judge_key(spec)
        if key not in self._agents:
            tier = replace(judge_tier(self.config, spec), max_tokens=JUDGE_MAX_TOKENS)
            self._agents[key] = CascadeAgent(config=CascadeConfig(tiers=(tier,), name="judge"))
        return self._agents[key]


def parse_verdict(reply: str) -> float | None:
    match = _FIRST_WORD.search(reply)
    word = match.group(0).lower() if match else ""
    if word in _YES:
        return 1.0
    if word in _NO:
        return 0.0
    return None


def _question(item: EvalItem) -> str:
    if item.query is not None:
        return item.query
    users = [str(m.get("content") or "") for m in item.messages if m.get("role") == "user"]
    return users[-1] if users else ""


def _reference(expected: Any) -> str:
    if isinstance(expected, list):
        return " OR ".join(map(str, expected))
    return expected if isinstance(expected, str) else json.dumps(expected)
