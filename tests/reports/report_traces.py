"""Hand-written eval traces, line for line as the engine and the eval runner write
them, with fixed times: deterministic inputs for metrics, reports and snapshots.

SCENARIO is a small run worked out by hand in tests/evals/test_metrics.py."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from cascadectl.evals.scorers import score_answer

RUN_ID = "run-1"
SMALL, BIG = 1e-5, 1e-4  # what one call to each tier costs in these traces


@dataclass(frozen=True)
class Q:
    """One query of one run. `tiers`: (name, status, cost) per tier called."""

    qid: str
    run: str = "cascade"
    answer: str = "Paris"
    expected: Any = "Paris"
    scorer: str = "exact"
    tags: tuple[str, ...] = ()
    complexity: str = "simple"
    strategy: str = "cascade"
    decision: float | None = None
    accepted: bool | None = None
    tiers: tuple[tuple[str, str, float], ...] = (("small", "accepted", SMALL),)
    latency: float = 100.0
    ttft: float | None = 20.0
    vo_cost: float | None = BIG
    vo_estimated: bool = True
    error: str | None = None
    finished: bool = True
    score: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def item(self) -> dict[str, Any]:
        return {"id": self.qid, "query": f"question {self.qid}?", "expected": self.expected, "scorer": self.scorer,
                "tags": list(self.tags), "complexity_hint": None, "tools": [], **self.extra}


def line(q: Q, seq: int, kind: str, data: dict[str, Any], phase: str | None = None, model: str | None = None, **more: Any) -> dict[str, Any]:
    return {"v": 1, "run_id": RUN_ID, "query_id": q.qid, "seq": seq, "t_ms": float(seq), "type": kind,
            "phase": phase, "model": model, "data": data, **more, "run": q.run}


def lines_for(q: Q) -> list[dict[str, Any]]:
    data = {"query": q.item["query"], "messages": [{"role": "user", "content": q.item["query"]}],
            "evalset": "qa.jsonl", "cascade": "default.yaml", "item": q.item}
    out = [line(q, 0, "query", data)]
    out.append(line(q, 1, "routing", {"strategy": q.strategy, "complexity": q.complexity, "reason": "test", "tier": q.tiers[0][0]}))
    out += _tier_lines(q, len(out))
    if not q.finished:
        return out
    out.append(_end_line(q, len(out)))
    out.append(line(q, len(out), "score", q.score or _score(q)))
    return out


def _tier_lines(q: Q, seq: int) -> list[dict[str, Any]]:
    out = []
    for name, status, _cost in q.tiers:
        phase = "direct" if q.strategy == "direct" else ("draft" if status in ("accepted", "rejected") else "verify")
        out.append(line(q, seq + len(out), "chunk", {}, phase, name, content="Par"))
        if status in ("accepted", "rejected"):
            decision = {"accepted": status == "accepted", "score": q.decision, "confidence": q.decision, "threshold": 0.6,
                        "reason": "test", "checks": [], "tier": name, "draft": {"text": "x"}}
            out.append(line(q, seq + len(out), "draft_decision", decision, phase, name))
        if status == "rejected":
            switch = {"from_model": name, "to_model": "big", "reason": "low score", "kind": "rejected", "retract": True}
            out.append(line(q, seq + len(out), "switch", switch, phase, name))
    return out


def _tiers(q: Q) -> list[dict[str, Any]]:
    return [{"tier": n, "model": n, "phase": "draft", "status": s, "input_tokens": 10, "output_tokens": 5, "cost": c,
             "latency_ms": q.latency / len(q.tiers), "ttft_ms": 5.0} for n, s, c in q.tiers]


def _end_line(q: Q, seq: int) -> dict[str, Any]:
    if q.error:
        data = {"error": "every tier failed; last: boom", "kind": q.error, "errors": [], "tiers": _tiers(q), "total_cost": 0.0}
        return line(q, seq, "error", data)
    result = {"content": q.answer, "tool_calls": [], "total_cost": round(sum(c for _n, _s, c in q.tiers), 10),
              "verifier_only_cost": q.vo_cost, "verifier_only_cost_estimated": q.vo_estimated, "latency_ms": q.latency,
              "ttft_ms": q.ttft, "draft_accepted": any(s == "accepted" for _n, s, _c in q.tiers), "routing_strategy": q.strategy,
              "complexity": q.complexity, "model_used": q.tiers[-1][0], "tier_used": q.tiers[-1][0], "tiers": _tiers(q),
              "input_tokens": 10, "output_tokens": 5}
    return line(q, seq, "complete", {"result": result}, "draft", q.tiers[-1][0])


def _score(q: Q) -> dict[str, Any]:
    result = None if q.error else {"content": q.answer, "tool_calls": []}
    return score_answer(q.item, result).to_dict()


def write_trace(path: Path, queries: Iterable[Q | dict[str, Any]]) -> Path:
    with path.open("a", encoding="utf-8") as handle:
        for entry in queries:
            for record in lines_for(entry) if isinstance(entry, Q) else [entry]:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


REJECTED = (("small", "rejected", SMALL), ("big", "answered", BIG))
DIRECT = (("big", "answered", BIG),)
FAILED = (("small", "failed", 0.0), ("big", "failed", 0.0))
TAGS = {"q1": ("geo",), "q2": ("geo",), "q3": ("geo",), "q4": ("math",), "q5": ("math",), "q6": ("math",)}
COMPLEXITY = {"q1": "simple", "q2": "trivial", "q3": "simple", "q4": "hard", "q5": "hard", "q6": "hard"}


def q(qid: str, run: str = "cascade", **kwargs: Any) -> Q:
    """A query of the scenario: q4 is the numeric one; tags and complexity per id."""
    if qid == "q4":
        kwargs.setdefault("expected", 4)
        kwargs.setdefault("scorer", "numeric")
        kwargs["answer"] = {"Paris": "4"}.get(kwargs.get("answer", "Paris"), kwargs.get("answer"))
    return Q(qid, run=run, tags=TAGS[qid], complexity=COMPLEXITY[qid], **kwargs)


def _baseline(run: str, tiers: tuple[tuple[str, str, float], ...], latency: float, answers: dict[str, str]) -> list[Q]:
    return [q(f"q{i}", run, strategy="direct", tiers=tiers, answer=answers.get(f"q{i}", "Paris"), latency=latency,
              ttft=latency / 10, vo_estimated=run == "drafter") for i in range(1, 7)]


SCENARIO = [
    # cascade: q1, q2 drafted and accepted (q2 wrongly), q3, q4 rejected and escalated,
    # q5 routed direct, q6 failed on every tier.
    q("q1", decision=0.9, latency=100.0, ttft=10.0),
    q("q2", decision=0.8, answer="Lyon", latency=120.0, ttft=12.0),
    q("q3", decision=0.3, tiers=REJECTED, latency=300.0, ttft=30.0, vo_estimated=False),
    q("q4", decision=0.4, tiers=REJECTED, latency=400.0, ttft=40.0, vo_estimated=False),
    q("q5", strategy="direct", tiers=DIRECT, latency=200.0, ttft=20.0, vo_estimated=False),
    q("q6", error="server", tiers=FAILED),
    # the first tier alone: right on q1, q4, q6
    *_baseline("drafter", (("small", "answered", SMALL),), 50.0, {"q2": "Lyon", "q3": "Rome", "q5": "Nice"}),
    # the last tier alone: right on all six
    *_baseline("verifier", DIRECT, 250.0, {}),
]
