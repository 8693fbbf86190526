"""Eval metrics with pandas, from the per-query rows of a trace scan.

Every rate is over the queries that ran (finished with an answer or an error);
interrupted queries count as not run. Errors score 0. Costs include rejected
drafts and failed calls: what was spent. See docs/eval-and-ci.md for definitions.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

from cascadectl.reports.rows import ROW_COLUMNS, TIER_COLUMNS
from cascadectl.reports.scan import ordered_runs

if TYPE_CHECKING:
    import pandas as pd

COMPLEXITY_ORDER = ("trivial", "simple", "moderate", "hard", "expert")
_FLAGS = ("correct", "drafted", "accepted", "first_accepted", "escalated")
_NUMBERS = ("score", "decision_score", "total_cost", "verifier_only_cost", "latency_ms", "ttft_ms")
_TEXT = frozenset({"run_id", "detail", "error_message", "model_used", "query", "answer", "expected"})
FRAME_COLUMNS = tuple(c for c in ROW_COLUMNS if c not in _TEXT)
_WASTED = ("rejected", "aborted", "failed")  # tier outcomes whose cost bought no answer


def query_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per (run, query_id); flags as 1.0/0.0/NaN so that a mean is a rate."""
    import pandas as pd

    # Column by column, and without the text columns no metric reads: quicker.
    frame = pd.DataFrame({c: [row.get(c) for row in rows] for c in FRAME_COLUMNS})
    for column in _FLAGS:
        frame[column] = frame[column].map({True: 1.0, False: 0.0}).astype("float64")
    for column in _NUMBERS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def tier_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame({c: [row.get(c) for row in rows] for c in TIER_COLUMNS})
    for column in ("cost", "input_tokens", "output_tokens", "latency_ms"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def compute_metrics(rows: Sequence[dict[str, Any]], tiers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    from cascadectl.reports.comparison import compare_runs

    frame, tframe = query_frame(rows), tier_frame(tiers)
    runs = ordered_runs(frame["run"].tolist())
    return {
        "runs": {run: run_metrics(frame[frame["run"] == run], tframe[tframe["run"] == run]) for run in runs},
        "comparison": compare_runs(frame),
        "breakdowns": {"tag": tag_breakdown(frame, runs), "complexity": complexity_breakdown(frame, runs)},
    }


def ran(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"] != "not_run"]


def run_metrics(frame: pd.DataFrame, tiers: pd.DataFrame) -> dict[str, Any]:
    done = ran(frame)
    errors = int((done["status"] == "error").sum())
    out: dict[str, Any] = {"queries": len(frame), "run": len(done), "not_run": len(frame) - len(done)}
    out.update(errors=errors, error_rate=ratio(errors, len(done)), errors_by_kind=_counts(done["error_kind"]))
    out.update(_quality(done))
    out.update(_routing_rates(done))
    out["cost"] = _cost(done, tiers)
    answered = done[done["status"] == "ok"]
    out["latency_ms"] = percentiles(answered["latency_ms"])
    out["ttft_ms"] = percentiles(answered["ttft_ms"])
    return out


def _quality(done: pd.DataFrame) -> dict[str, Any]:
    scored = done[done["score"].notna()]
    by_scorer = {
        str(name): {"queries": len(group), "quality": mean(group["score"]), "accuracy": mean(group["correct"])}
        for name, group in scored.groupby("scorer", sort=True)
    }
    return {"scored": len(scored), "quality": mean(scored["score"]), "accuracy": mean(scored["correct"]), "by_scorer": by_scorer}


def _routing_rates(done: pd.DataFrame) -> dict[str, Any]:
    drafted = int(done["drafted"].sum())
    accepted = int(done["accepted"].fillna(0.0).sum())
    escalated = int(done["escalated"].sum())
    direct = int((done["strategy"] == "direct").sum())
    return {
        "drafted": drafted, "accepted": accepted, "acceptance_rate": ratio(accepted, drafted),
        "escalated": escalated, "escalation_rate": ratio(escalated, len(done)),
        "direct": direct, "direct_rate": ratio(direct, len(done)),
    }


def _cost(done: pd.DataFrame, tiers: pd.DataFrame) -> dict[str, Any]:
    known = done["total_cost"].dropna()
    wasted = tiers[tiers["status"].isin(_WASTED)]
    return {
        "total": float(known.sum()) if len(known) else None,
        "per_query": mean(known),
        "unknown": int(done["total_cost"].isna().sum()),
        "wasted": {"calls": len(wasted), "cost": float(wasted["cost"].sum()) if len(wasted) else 0.0},
        "per_tier": _per_tier(tiers),
    }


def _per_tier(tiers: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, group in tiers.groupby("tier", sort=False):
        wasted = group[group["status"].isin(_WASTED)]
        out[str(name)] = {
            "calls": len(group),
            "cost": float(group["cost"].sum()),
            "cost_unknown": int(group["cost"].isna().sum()),
            "input_tokens": int(group["input_tokens"].sum()),
            "output_tokens": int(group["output_tokens"].sum()),
            "by_status": _counts(group["status"]),
            "wasted_cost": float(wasted["cost"].sum()),
        }
    return out


def small_metrics(frame: pd.DataFrame) -> dict[str, Any]:
    """The per-tag / per-complexity figures."""
    done = ran(frame)
    scored = done[done["score"].notna()]
    drafted = done["drafted"].sum()
    return {
        "queries": len(frame),
        "run": len(done),
        "quality": mean(scored["score"]),
        "accuracy": mean(scored["correct"]),
        "acceptance_rate": ratio(done["accepted"].fillna(0.0).sum(), drafted),
        "escalation_rate": ratio(done["escalated"].sum(), len(done)),
        "direct_rate": ratio((done["strategy"] == "direct").sum(), len(done)),
        "cost_per_query": mean(done["total_cost"]),
        "latency_p95_ms": percentiles(done[done["status"] == "ok"]["latency_ms"])["p95"],
        "error_rate": ratio((done["status"] == "error").sum(), len(done)),
    }


def tag_breakdown(frame: pd.DataFrame, runs: Sequence[str]) -> dict[str, Any]:
    tagged = frame[["tags", "run"]].explode("tags").dropna(subset=["tags"])
    out: dict[str, Any] = {}
    for tag in sorted(tagged["tags"].unique()):
        index = tagged.index[tagged["tags"] == tag].unique()
        out[str(tag)] = _per_run(frame.loc[index], runs)
    return out


def complexity_breakdown(frame: pd.DataFrame, runs: Sequence[str]) -> dict[str, Any]:
    present = [str(c) for c in frame["complexity"].dropna().unique()]
    order = [c for c in COMPLEXITY_ORDER if c in present] + sorted(set(present) - set(COMPLEXITY_ORDER))
    return {c: _per_run(frame[frame["complexity"] == c], runs) for c in order}


def _per_run(frame: pd.DataFrame, runs: Sequence[str]) -> dict[str, Any]:
    return {run: small_metrics(frame[frame["run"] == run]) for run in runs if (frame["run"] == run).any()}


def percentiles(values: pd.Series) -> dict[str, float | None]:
    clean = values.dropna()
    if clean.empty:
        return {"p50": None, "p95": None, "p99": None, "mean": None}
    p50, p95, p99 = (float(clean.quantile(q)) for q in (0.5, 0.95, 0.99))
    return {"p50": p50, "p95": p95, "p99": p99, "mean": float(clean.mean())}


def mean(values: pd.Series) -> float | None:
    clean = values.dropna()
    return None if clean.empty else float(clean.mean())


def ratio(part: float, whole: float) -> float | None:
    return None if not whole else float(part) / float(whole)


def _counts(values: pd.Series) -> dict[str, int]:
    counts = values.dropna().astype(str).value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items())}


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
