"""`cascadectl tune TRACES...`: fit the accept/escalate decision on recorded eval traces.

What is fitted: the weights of the soft validators (a logistic model of draft
correctness on the log of each soft check's score, whose coefficients are the weights
of the decision's weighted geometric mean) and the acceptance threshold, chosen for a
target: the largest quality drop against verifier-only, a saving, or an acceptance
rate. Every candidate is re-decided by replaying the recorded queries through the
engine (evals/replay.py), so what is measured is what `eval --replay` with the tuned
file gives; no model is called.

Every figure printed is out-of-sample: k-fold cross-validation fits the weights and
picks the threshold on k-1 folds and measures the held-out fold, whose items never
enter the fit. The tuned file is then fitted on all items, and its in-sample replay
figures are printed too (what `eval --replay TRACES --cascade tuned.yaml` reports).

Labels: a draft is right when the item's scorer accepts it against the reference; an
item without a reference is labelled by agreement with the recorded verifier answer
("shadow" labels), and the output says which.
"""
from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

from cascadectl.config.model import COMPLEXITIES, CascadeConfig, ValidatorSpec
from cascadectl.errors import UsageError
from cascadectl.evals.replay import Replayed, replay_attempts
from cascadectl.evals.tune_data import Figures, Item, Outcome, assign_folds, figures, usable_items
from cascadectl.evals.tune_fit import fit_weights, ranked_auroc
from cascadectl.traces.attempts import Attempts

TARGETS = ("quality-drop", "saving", "acceptance")
CANDIDATES = 24  # thresholds tried per fold: quantiles of the training drafts' scores
FRONTIER = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class Target:
    kind: str  # quality-drop | saving | acceptance
    value: float

    @classmethod
    def parse(cls, text: str) -> Target:
        kind, sep, raw = text.partition("=")
        if kind not in TARGETS or not sep:
            raise UsageError(f"--target: expected one of {', '.join(t + '=N' for t in TARGETS)}, got {text!r}")
        try:
            value = float(raw.rstrip("%")) / (100.0 if raw.endswith("%") else 1.0)
        except ValueError:
            raise UsageError(f"--target {kind}: expected a number or a percentage, got {raw!r}") from None
        if not 0.0 <= value <= 1.0:
            raise UsageError(f"--target {kind}: expected a proportion from 0 to 1 (or 0% to 100%), got {raw!r}")
        return cls(kind, value)

    def __str__(self) -> str:
        return f"{self.kind}={self.value:g}"


@dataclass(frozen=True)
class Candidate:
    weights: tuple[tuple[str, float], ...]  # soft check -> weight; checks left out keep theirs
    threshold: float
    read: tuple[float, float] | None = None  # likelihood: read only between these free scores


@dataclass(frozen=True)
class TuneResult:
    target: Target
    labels: str  # reference | shadow | mixed
    items: int
    excluded: tuple[tuple[str, str], ...]
    folds: int
    out_of_sample: Figures  # at the target, cross-validated
    frontier: tuple[tuple[float, Figures], ...]  # (target acceptance, cross-validated figures)
    tuned: CascadeConfig
    in_sample: Figures  # the tuned file replayed on every item
    signals: tuple[Signal, ...] = ()  # each soft check alone: what it predicts, what it costs


@dataclass(frozen=True)
class Signal:
    """One soft check on its own: its AUROC against draft correctness (no fitting, so no
    cross-validation needed), and what obtaining it costs per draft in money and time."""

    name: str
    auroc: float | None
    drafts: int  # drafts that had this signal
    cost_per_draft: float  # USD: the read's tokens for `likelihood`, 0 for the drafter's own
    latency_ms_per_draft: float


def tune(config: CascadeConfig, attempts: Attempts, target: Target, folds: int = 5, seed: int = 0) -> TuneResult:
    items, excluded, labels = usable_items(config, attempts)
    if len(items) < 2 * folds:
        raise UsageError(f"tune: {len(items)} usable items for {folds} folds; record more (or pass --folds 2)")
    fold_of = assign_folds(items, folds, seed)
    tables = [_fold_table(config, attempts, items, fold_of, k) for k in range(folds)]
    held_out = _cross_validated(tables, items, fold_of, target)
    frontier = tuple((a, _cross_validated(tables, items, fold_of, Target("acceptance", a))) for a in FRONTIER)
    final = _table(config, attempts, items, set(range(len(items))))
    choice = _choose(final, range(len(items)), items, target)
    tuned = with_decision(config, choice)
    in_sample = figures([final.outcomes[choice][i] for i in range(len(items))], items)
    signals = _signals(_replay(with_decision(config, Candidate((), 0.0)), attempts, items), items)
    return TuneResult(target, labels, len(items), excluded, folds, held_out, frontier, tuned, in_sample, signals)


def _signals(replayed: Sequence[Replayed], items: Sequence[Item]) -> tuple[Signal, ...]:
    values: dict[str, list[tuple[float, bool]]] = {}
    for r, item in zip(replayed, items):
        checks = r.decisions[0].get("checks") or () if r.decisions else ()
        for c in checks:
            if c.get("kind") == "soft" and c.get("score") is not None:
                values.setdefault(str(c["name"]), []).append((float(c["score"]), item.label))
    reads = [t for r in replayed for t in (r.result or {}).get("tiers") or () if t.get("phase") == "score"]
    out = []
    for name, pairs in sorted(values.items()):
        paid = reads if name == "likelihood" else []
        cost = sum(float(t.get("cost") or 0.0) for t in paid) / max(len(pairs), 1)
        latency = sum(float(t.get("latency_ms") or 0.0) for t in paid) / max(len(pairs), 1)
        out.append(Signal(name, ranked_auroc([s for s, _ in pairs], [l for _, l in pairs]), len(pairs), cost, latency))
    return tuple(out)


def with_decision(config: CascadeConfig, candidate: Candidate) -> CascadeConfig:
    """The cascade with the candidate's weights, threshold (every complexity) and, for a
    likelihood validator, the band of free scores in which it reads the draft."""
    validators = tuple(_tuned(v, candidate) for v in _validators(config))
    thresholds = {level: round(candidate.threshold, 4) for level in COMPLEXITIES}
    return replace(config, quality=replace(config.quality, validators=validators, thresholds=thresholds))


def _tuned(spec: ValidatorSpec, candidate: Candidate) -> ValidatorSpec:
    tuned = replace(spec, weight=round(dict(candidate.weights).get(spec.type, spec.weight), 4))
    if spec.type != "likelihood":
        return tuned
    options = {k: v for k, v in spec.options.items() if k not in ("read_above", "read_below")}
    if candidate.read is not None:
        low, high = candidate.read
        options.update({"read_above": round(low, 4)} if low > 0 else {})
        options.update({"read_below": round(high, 4)} if high <= 1.0 else {})
    return replace(tuned, options=options)


# --- candidates, replayed ----------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    """Every candidate of one fit, replayed on every item."""

    candidates: tuple[Candidate, ...]
    outcomes: Mapping[Candidate, Sequence[Outcome]]


def _fold_table(config: CascadeConfig, attempts: Attempts, items: Sequence[Item], fold_of: Sequence[int], k: int) -> _Table:
    return _table(config, attempts, items, {i for i, f in enumerate(fold_of) if f != k})


def _table(config: CascadeConfig, attempts: Attempts, items: Sequence[Item], train: set[int]) -> _Table:
    """Fit the weights on `train`, then replay each candidate on every item: thresholds
    alone, and, with a likelihood validator, thresholds with a band of free scores
    outside which the draft is decided without the read's cost."""
    probe = _replay(with_decision(config, Candidate((), 0.0)), attempts, items)
    features = [_check_logs(o) for o in probe]
    weights = fit_weights([features[i] for i in sorted(train)], [items[i].label for i in sorted(train)],
                          sorted({name for f in features for name in f}))
    scored = [_first_score(r) for r in _replay(with_decision(config, Candidate(weights, 0.0)), attempts, items)]
    thresholds = _quantiles(sorted({s for i, s in enumerate(scored) if i in train and s is not None}), CANDIDATES)
    candidates = [Candidate(weights, t) for t in thresholds]
    if any(v.type == "likelihood" for v in _validators(config)):
        candidates += _gated(config, attempts, items, train, weights, thresholds)
    outcomes = {c: _outcomes(_replay(with_decision(config, c), attempts, items)) for c in candidates}
    return _Table(tuple(candidates), outcomes)


def _gated(
    config: CascadeConfig, attempts: Attempts, items: Sequence[Item], train: set[int],
    weights: tuple[tuple[str, float], ...], thresholds: Sequence[float],
) -> list[Candidate]:
    never = Candidate(weights, 0.0, (0.0, 0.0))  # read nothing: the free score alone
    free = [_first_score(r) for r in _replay(with_decision(config, never), attempts, items)]
    ranked = sorted(s for i, s in enumerate(free) if i in train and s is not None)
    if not ranked:
        return []
    at = lambda q: ranked[min(len(ranked) - 1, int(q * len(ranked)))]  # noqa: E731
    bands = [(0.0, at(0.7)), (0.0, at(0.85)), (at(0.2), 1.0 + 1e-9), (at(0.2), at(0.85))]
    middle = thresholds[len(thresholds) // 4 : 3 * len(thresholds) // 4 + 1 : max(1, len(thresholds) // 8)]
    return [Candidate(weights, t, band) for t in middle for band in bands]


def _replay(config: CascadeConfig, attempts: Attempts, items: Sequence[Item]) -> list[Replayed]:
    done = asyncio.run(replay_attempts(config, attempts, None, [i.query_id for i in items], copy_baselines=False))
    return [done[i.query_id] for i in items]


def _check_logs(replayed: Replayed) -> dict[str, float]:
    """log(score) of each soft check of the first decision: the logistic model's inputs."""
    if not replayed.decisions:
        return {}
    checks = replayed.decisions[0].get("checks") or ()
    return {c["name"]: math.log(max(float(c["score"]), 0.01)) for c in checks
            if c.get("kind") == "soft" and c.get("score") is not None}


def _first_score(replayed: Replayed) -> float | None:
    """The score of the query's first draft decision."""
    first = replayed.decisions[0] if replayed.decisions else {}
    return None if first.get("score") is None else float(first["score"])


def _outcomes(replayed: Sequence[Replayed]) -> list[Outcome]:
    out = []
    for r in replayed:
        result = r.result or {}
        cost = result.get("total_cost")
        out.append(Outcome(
            bool(result.get("draft_accepted")), float((r.score or {}).get("score") or 0.0),
            None if cost is None else float(cost), float(result.get("latency_ms") or 0.0), _first_score(r),
        ))
    return out


def _quantiles(values: Sequence[float], count: int) -> list[float]:
    if not values:
        return [0.0]
    picks = {values[min(len(values) - 1, round(q * (len(values) - 1) / max(count - 1, 1)))] for q in range(count)}
    return sorted(picks | {0.0, 1.0 + 1e-9})  # accept everything, and accept nothing


# --- choosing and measuring --------------------------------------------------------------


def _cross_validated(tables: Sequence[_Table], items: Sequence[Item], fold_of: Sequence[int], target: Target) -> Figures:
    """Per fold: choose on the training folds, keep the held-out fold's outcomes."""
    held: dict[int, Outcome] = {}
    for k, table in enumerate(tables):
        train = [i for i, f in enumerate(fold_of) if f != k]
        choice = _choose(table, train, items, target)
        held.update((i, table.outcomes[choice][i]) for i, f in enumerate(fold_of) if f == k)
    order = sorted(held)
    return figures([held[i] for i in order], [items[i] for i in order])


def _choose(table: _Table, train: Sequence[int], items: Sequence[Item], target: Target) -> Candidate:
    measured = {c: figures([table.outcomes[c][i] for i in train], [items[i] for i in train])
                for c in table.candidates}
    return max(table.candidates, key=lambda c: _merit(measured[c], target))


def _merit(f: Figures, target: Target) -> tuple[float, float]:
    """Meeting the target first, then the better of what is left free; when nothing
    meets it, the nearest miss."""
    saving = f.saving if f.saving is not None else -1.0
    if target.kind == "quality-drop":
        met = f.verifier_quality - f.quality <= target.value + 1e-12
        return (1.0, saving + 1e-6 * f.quality) if met else (0.0, f.quality)
    if target.kind == "saving":
        met = saving >= target.value - 1e-12
        return (1.0, f.quality + 1e-6 * saving) if met else (0.0, saving)
    return (-abs(f.acceptance - target.value), f.quality + 1e-6 * saving)


def _validators(config: CascadeConfig) -> tuple[ValidatorSpec, ...]:
    from cascadectl.quality.decision import DEFAULT_VALIDATORS

    return config.quality.validators or DEFAULT_VALIDATORS
