"""What `tune` measures on: the usable items of recorded traces with their labels, the
fold each belongs to, and the figures of a set of replayed outcomes."""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from cascadectl.config.model import CascadeConfig
from cascadectl.evals.scorers import score_answer
from cascadectl.evals.tune_fit import ranked_auroc
from cascadectl.traces.attempts import Attempts


@dataclass(frozen=True)
class Item:
    query_id: str
    label: bool  # the recorded draft is right
    verifier_correct: float  # the verifier-only answer's score
    verifier_cost: float | None  # the verifier-only cost, measured
    verifier_latency_ms: float


@dataclass(frozen=True)
class Outcome:
    """One item replayed under one candidate."""

    accepted: bool
    correct: float
    cost: float | None
    latency_ms: float
    score: float | None  # the first decision's score


@dataclass(frozen=True)
class Figures:
    items: int
    acceptance: float
    quality: float
    drafter_quality: float
    verifier_quality: float
    cost_per_query: float | None
    verifier_cost_per_query: float | None
    p50_latency_ms: float
    verifier_p50_latency_ms: float
    auroc: float | None

    @property
    def saving(self) -> float | None:
        if self.cost_per_query is None or not self.verifier_cost_per_query:
            return None
        return 1.0 - self.cost_per_query / self.verifier_cost_per_query

    @property
    def gap_recovered(self) -> float | None:
        gap = self.verifier_quality - self.drafter_quality
        return None if gap <= 0 else (self.quality - self.drafter_quality) / gap

    def to_dict(self) -> dict[str, Any]:
        out = dict(vars(self))
        out.update(saving=self.saving, gap_recovered=self.gap_recovered)
        return out


def usable_items(config: CascadeConfig, attempts: Attempts) -> tuple[list[Item], tuple[tuple[str, str], ...], str]:
    first = config.tiers[0].name
    items: list[Item] = []
    excluded: list[tuple[str, str]] = []
    kinds: set[str] = set()
    for qid in attempts.order:
        cascade, verifier = attempts.finished("cascade", qid), attempts.finished("verifier", qid)
        why = _unusable(cascade, verifier, first)
        if why:
            excluded.append((qid, why))
            continue
        assert cascade is not None and verifier is not None
        item = cascade.query["item"]
        draft = next(d for d in cascade.decisions() if d.tier == first).draft
        label, kind = _label(item, draft.text, draft.tool_calls, verifier.result or {})
        kinds.add(kind)
        verifier_score = float((verifier.score or {}).get("score") or 0.0)
        cost = (verifier.result or {}).get("total_cost")
        latency = float((verifier.result or {}).get("latency_ms") or 0.0)
        items.append(Item(qid, label, verifier_score, None if cost is None else float(cost), latency))
    labels = kinds.pop() if len(kinds) == 1 else "mixed"
    return items, tuple(excluded), labels


def _unusable(cascade: Any, verifier: Any, first: str) -> str:
    if cascade is None:
        return "no finished cascade run"
    if not isinstance(cascade.query.get("item"), Mapping):
        return "not an eval query"
    if not any(d.tier == first for d in cascade.decisions()):
        return f"no recorded draft from {first!r} (routed direct, or the drafter failed)"
    if verifier is None or verifier.result is None:
        return "no recorded verifier answer (run the eval with --baselines verifier)"
    return ""


def _label(item: Mapping[str, Any], text: str, calls: Sequence[Mapping[str, Any]], verifier: Mapping[str, Any]) -> tuple[bool, str]:
    answer = {"content": text, "tool_calls": [_parsed(c) for c in calls]}
    if "expected" in item:
        return bool(score_answer(item, answer).correct), "reference"
    shadow = {**item, "expected": str(verifier.get("content") or ""), "scorer": item.get("scorer") or "contains"}
    return bool(score_answer(shadow, answer).correct), "shadow"


def _parsed(call: Mapping[str, Any]) -> dict[str, Any]:
    try:
        arguments = json.loads(str(call.get("raw_arguments") or "{}"))
    except ValueError:
        arguments = {}
    return {"id": call.get("id"), "name": call.get("name"), "arguments": arguments}


def assign_folds(items: Sequence[Item], folds: int, seed: int) -> list[int]:
    """A fold per item, stratified by label so every fold sees right and wrong drafts."""
    rng = random.Random(seed)
    fold_of = [0] * len(items)
    for label in (True, False):
        members = [i for i, item in enumerate(items) if item.label is label]
        rng.shuffle(members)
        for n, i in enumerate(members):
            fold_of[i] = n % folds
    return fold_of


def figures(outcomes: Sequence[Outcome], items: Sequence[Item]) -> Figures:
    n = len(outcomes)
    costs = [o.cost for o in outcomes]
    verifier_costs = [it.verifier_cost for it in items]
    scores = [(o.score, it.label) for o, it in zip(outcomes, items) if o.score is not None]
    return Figures(
        items=n,
        acceptance=sum(o.accepted for o in outcomes) / n,
        quality=sum(o.correct for o in outcomes) / n,
        drafter_quality=sum(it.label for it in items) / n,
        verifier_quality=sum(it.verifier_correct for it in items) / n,
        cost_per_query=None if any(c is None for c in costs) else sum(c for c in costs if c is not None) / n,
        verifier_cost_per_query=None if any(c is None for c in verifier_costs) else sum(c for c in verifier_costs if c is not None) / n,
        p50_latency_ms=_median([o.latency_ms for o in outcomes]),
        verifier_p50_latency_ms=_median([it.verifier_latency_ms for it in items]),
        auroc=ranked_auroc([s for s, _ in scores], [l for _, l in scores]),
    )


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0
