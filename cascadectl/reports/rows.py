"""Per-query rows (and per-tier rows) from scanned trace records: plain dicts that
the metrics frame, the JSON report's `queries` and the CSV are all made from."""
from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from cascadectl.evals.scorers import Score, canonical_scorer, score_answer
from cascadectl.reports.scan import QueryRecord

TEXT_LIMIT = 200  # characters of query/answer/expected kept per row
ROW_COLUMNS = (
    "run", "query_id", "run_id", "status", "scorer", "score", "correct", "detail", "error_kind", "error_message",
    "tags", "complexity", "strategy", "drafted", "accepted", "decision_score", "first_accepted",
    "escalated", "total_cost", "verifier_only_cost", "verifier_only_cost_estimated", "latency_ms",
    "ttft_ms", "model_used", "input_tokens", "output_tokens", "query", "answer", "expected",
)
TIER_COLUMNS = ("run", "query_id", "tier", "model", "phase", "status", "cost", "input_tokens", "output_tokens", "latency_ms")


def query_rows(records: Sequence[QueryRecord], rescore: bool = False) -> list[dict[str, Any]]:
    return [query_row(record, rescore) for record in records]


def tier_rows(records: Sequence[QueryRecord]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for record in records:
        source = record.result or record.error or {}
        for tier in source.get("tiers") or ():
            rows.append({"run": record.run, "query_id": record.query_id, **{k: tier.get(k) for k in TIER_COLUMNS[2:]}})
    return rows


def query_row(record: QueryRecord, rescore: bool = False) -> dict[str, Any]:
    item = record.item or {}
    score = row_score(record, rescore)
    row: dict[str, Any] = {"run": record.run, "query_id": record.query_id, "run_id": record.run_id}
    row.update(status=_status(record), **_score_fields(score, item))
    error = record.error or {}
    row.update(error_kind=error.get("kind"), error_message=_short(error["error"]) if error else None, tags=_tags(item))
    row.update(_routing_fields(record), **_decision_fields(record))
    row.update(_result_fields(record))
    row.update(query=_short(record.query), answer=_short(str((record.result or {}).get("content") or "")))
    row["expected"] = _short(_as_text(item.get("expected"))) if "expected" in item else None
    return row


def _status(record: QueryRecord) -> str:
    # Not finished (traces/attempts.py) counts as not run, as `eval --resume` sees it.
    if not record.finished:
        return "not_run"
    return "ok" if record.result is not None else "error"


def row_score(record: QueryRecord, rescore: bool) -> Score | None:
    """The recorded score line, or (rescore, or no score line) the scorer run again on
    the recorded answer. A judge cannot be re-run without a model: its recorded
    verdict is reused."""
    if not record.finished:
        return None
    recorded = Score.from_dict(record.score) if record.score else None
    if record.item is None or (recorded is not None and not rescore):
        return recorded
    judge = recorded.score if recorded is not None and recorded.scorer == "judge" and not recorded.detail.startswith("error") else None
    return score_answer(record.item, record.result, judge)


def _score_fields(score: Score | None, item: Mapping[str, Any]) -> dict[str, Any]:
    if score is None:
        name = item.get("scorer")
        return {"scorer": canonical_scorer(name) or name, "score": None, "correct": None, "detail": None}
    return {"scorer": score.scorer, "score": score.score, "correct": score.correct, "detail": score.detail}


def _tags(item: Mapping[str, Any]) -> tuple[str, ...]:
    tags = item.get("tags") or ()
    return tuple(str(t) for t in tags) if isinstance(tags, (list, tuple)) else (str(tags),)


def _routing_fields(record: QueryRecord) -> dict[str, Any]:
    routing = record.routing or {}
    result = record.result or {}
    return {
        "complexity": routing.get("complexity") or result.get("complexity"),
        "strategy": routing.get("strategy") or result.get("routing_strategy"),
    }


def _decision_fields(record: QueryRecord) -> dict[str, Any]:
    decisions = record.decisions
    first = decisions[0] if decisions else {}
    return {
        "drafted": bool(decisions),
        "accepted": any(bool(d.get("accepted")) for d in decisions) if decisions else None,
        "decision_score": _float(first.get("score")),
        "first_accepted": bool(first["accepted"]) if decisions and first.get("accepted") is not None else None,
        "escalated": bool(record.switches),
    }


def _result_fields(record: QueryRecord) -> dict[str, Any]:
    result = record.result or {}
    cost = result.get("total_cost") if record.result is not None else (record.error or {}).get("total_cost")
    return {
        "total_cost": _float(cost),
        "verifier_only_cost": _float(result.get("verifier_only_cost")),
        "verifier_only_cost_estimated": result.get("verifier_only_cost_estimated") if record.result else None,
        "latency_ms": _float(result.get("latency_ms")),
        "ttft_ms": _float(result.get("ttft_ms")),
        "model_used": result.get("model_used"),
        "input_tokens": result.get("input_tokens"),
        "output_tokens": result.get("output_tokens"),
    }


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"
