"""The cascade against its baselines: savings against verifier-only, quality gap
recovered, and how well the accept/reject decision predicts a correct draft.

Figures that compare runs use only the queries present (and run) in every run
involved, so a partial baseline never skews them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cascadectl.reports.metrics import mean, ran, ratio

if TYPE_CHECKING:
    import pandas as pd

NO_CASCADE = "no cascade run in the traces"
NEED_BASELINES = "needs the drafter and verifier baselines (--baselines drafter,verifier)"
NEED_DRAFTER = "needs the drafter baseline (--baselines drafter): it says which drafts were correct"


def compare_runs(frame: pd.DataFrame) -> dict[str, Any]:
    runs = {run: ran(frame[frame["run"] == run]).set_index("query_id") for run in ("cascade", "drafter", "verifier")}
    return {
        "savings": savings(runs["cascade"], runs["verifier"]),
        "quality_gap_recovered": quality_gap(runs["cascade"], runs["drafter"], runs["verifier"]),
        "decision": decision_quality(runs["cascade"], runs["drafter"]),
    }


def savings(cascade: pd.DataFrame, verifier: pd.DataFrame) -> dict[str, Any]:
    """1 - cascade cost / verifier-only cost. Measured from the verifier run when there
    is one; else estimated from each cascade query's own verifier_only_cost."""
    if cascade.empty:
        return _savings_out(None, None, 0, None, NO_CASCADE)
    if not verifier.empty:
        both = cascade[["total_cost"]].join(_renamed(verifier, "total_cost", "total_cost_v"), how="inner").dropna()
        return _savings_out(both["total_cost"], both["total_cost_v"], len(both), "measured", None)
    known = cascade[["total_cost", "verifier_only_cost"]].dropna()
    return _savings_out(known["total_cost"], known["verifier_only_cost"], len(known), "estimated", None)


def _renamed(frame: pd.DataFrame, column: str, name: str) -> pd.DataFrame:
    return frame[[column]].rename(columns={column: name})


def _savings_out(ours: pd.Series | None, theirs: pd.Series | None, n: int, method: str | None, reason: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"method": method, "estimated": method == "estimated", "queries": n, "reason": reason}
    if ours is None or theirs is None or not n:
        out.update(cascade_cost=None, verifier_only_cost=None, savings=None)
        out["reason"] = reason or "no query has a known cost in both"
        return out
    total, baseline = float(ours.sum()), float(theirs.sum())
    out.update(cascade_cost=total, verifier_only_cost=baseline)
    out.update(cascade_cost_per_query=total / n, verifier_only_cost_per_query=baseline / n)
    out["savings"] = None if baseline <= 0 else 1.0 - total / baseline
    if baseline <= 0:
        out["reason"] = "the verifier-only cost is 0"
    return out


def quality_gap(cascade: pd.DataFrame, drafter: pd.DataFrame, verifier: pd.DataFrame) -> dict[str, Any]:
    """(q_cascade - q_drafter) / (q_verifier - q_drafter) over the queries scored in all three."""
    out: dict[str, Any] = {"value": None, "cascade": None, "drafter": None, "verifier": None, "queries": 0, "reason": None}
    if cascade.empty or drafter.empty or verifier.empty:
        out["reason"] = NO_CASCADE if cascade.empty else NEED_BASELINES
        return out
    scores = cascade[["score"]].join(_renamed(drafter, "score", "score_d"), how="inner")
    scores = scores.join(_renamed(verifier, "score", "score_v"), how="inner").dropna()
    qc, qd, qv = (mean(scores[c]) for c in ("score", "score_d", "score_v"))
    out.update(cascade=qc, drafter=qd, verifier=qv, queries=len(scores))
    if qc is None or qd is None or qv is None:
        out["reason"] = "no query was scored in all three runs"
    elif abs(qv - qd) < 1e-12:
        out["reason"] = f"drafter and verifier have the same quality ({qd:.3f}): nothing to recover"
    elif qv < qd:
        # The ratio would still compute, but "recovering" a gap toward a worse
        # model is meaningless; say so rather than print a misleading figure.
        out["reason"] = f"the verifier ({qv:.3f}) scored below the drafter ({qd:.3f}): no gap to recover"
    else:
        out["value"] = (qc - qd) / (qv - qd)
    return out


def decision_quality(cascade: pd.DataFrame, drafter: pd.DataFrame) -> dict[str, Any]:
    """Per cascade query that was drafted: the first tier's decision against whether the
    drafter's own answer (the drafter-only run) was correct."""
    out: dict[str, Any] = {k: None for k in ("precision", "recall", "auroc", "reason")}
    out.update(queries=0, accepted=0, draft_correct=0, true_accepts=0)
    if cascade.empty or drafter.empty:
        out["reason"] = NO_CASCADE if cascade.empty else NEED_DRAFTER
        return out
    pairs = cascade[["decision_score", "first_accepted"]].join(drafter[["correct"]], how="inner").dropna()
    accepted, correct = pairs["first_accepted"] == 1.0, pairs["correct"] == 1.0
    true_accepts = int((accepted & correct).sum())
    out.update(queries=len(pairs), accepted=int(accepted.sum()), draft_correct=int(correct.sum()), true_accepts=true_accepts)
    out.update(precision=ratio(true_accepts, int(accepted.sum())), recall=ratio(true_accepts, int(correct.sum())))
    out["auroc"] = auroc(pairs["decision_score"], correct)
    out["reason"] = _decision_reason(out)
    return out


def _decision_reason(out: dict[str, Any]) -> str | None:
    if not out["queries"]:
        return "no drafted cascade query has a scored drafter answer"
    if out["auroc"] is None:
        return "AUROC needs both correct and wrong drafts"
    return None


def auroc(scores: pd.Series, positive: pd.Series) -> float | None:
    """Area under the ROC curve, rank-based (Mann-Whitney U): the chance that a random
    correct draft scores above a random wrong one, ties counting half."""
    positive = positive.astype(bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = scores.rank(method="average")
    u = float(ranks[positive].sum()) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)
