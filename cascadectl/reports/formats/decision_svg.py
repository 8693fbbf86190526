"""The decision, drawn from a report's rows: how the decision scores of right and wrong
drafts are spread, and the cost-quality frontier the threshold moves along.

Draft correctness is the drafter-only run's (the same model and prompt answered the same
way); a threshold t keeps the drafts scoring >= t (the drafter's answer and cost) and
escalates the rest (the draft's cost plus the verifier-only run's answer and cost). This
is a what-if read of one run's rows, in-sample; `cascadectl tune` measures candidates
exactly, by replay, out of sample.
"""
from __future__ import annotations

from html import escape
from typing import Any, Mapping, NamedTuple, Sequence

WIDTH, HEIGHT, PAD = 640, 260, 48
BINS = 10


class Paired(NamedTuple):
    score: float
    right: bool
    draft_cost: float
    verifier_correct: float
    verifier_cost: float


def paired(report: Mapping[str, Any]) -> list[Paired]:
    rows: dict[tuple[str, str], Mapping[str, Any]] = {(str(r.get("run")), str(r.get("query_id"))): r for r in report.get("queries") or ()}
    out = []
    for (run, qid), row in rows.items():
        drafter, verifier = rows.get(("drafter", qid)), rows.get(("verifier", qid))
        if run != "cascade" or drafter is None or verifier is None or row.get("decision_score") is None:
            continue
        numbers = (drafter.get("total_cost"), verifier.get("total_cost"), verifier.get("score"))
        if any(not isinstance(n, (int, float)) for n in numbers) or drafter.get("correct") is None:
            continue
        out.append(Paired(float(row["decision_score"]), bool(drafter["correct"]), float(numbers[0]), float(numbers[2]), float(numbers[1])))
    return out


def distribution_svg(pairs: Sequence[Paired]) -> str:
    counts = {flag: [0] * BINS for flag in (True, False)}
    for p in pairs:
        counts[p.right][min(BINS - 1, int(p.score * BINS))] += 1
    top = max(max(c) for c in counts.values()) or 1
    bar = (WIDTH - 2 * PAD) / BINS / 2
    parts = [_open("decision scores of right and wrong drafts")]
    for i in range(BINS):
        for j, (flag, colour) in enumerate(((True, "#2ca02c"), (False, "#d62728"))):
            h = (HEIGHT - 2 * PAD) * counts[flag][i] / top
            x, y = PAD + (2 * i + j) * bar, HEIGHT - PAD - h
            label = f"{'right' if flag else 'wrong'} drafts scoring {i / BINS:.1f}-{(i + 1) / BINS:.1f}: {counts[flag][i]}"
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 1:.1f}" height="{h:.1f}" fill="{colour}"><title>{label}</title></rect>')
        parts.append(f'<text x="{PAD + 2 * i * bar:.1f}" y="{HEIGHT - PAD + 16}">{i / BINS:.1f}</text>')
    parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" text-anchor="middle">decision score (green: right drafts, red: wrong)</text>')
    return "\n".join(parts + ["</svg>"])


def frontier(pairs: Sequence[Paired]) -> list[tuple[float, float, float, float]]:
    """(threshold, acceptance, quality, cost per query) at each distinct score."""
    out = []
    for t in sorted({p.score for p in pairs} | {1.01}):
        kept = [p.score >= t for p in pairs]
        quality = sum(float(p.right) if k else p.verifier_correct for p, k in zip(pairs, kept)) / len(pairs)
        cost = sum(p.draft_cost + (0.0 if k else p.verifier_cost) for p, k in zip(pairs, kept)) / len(pairs)
        out.append((t, sum(kept) / len(pairs), quality, cost))
    return out


def frontier_svg(points: Sequence[tuple[float, float, float, float]]) -> str:
    x_max = max(c for *_, c in points) * 1.1 or 1e-9
    low = min(q for _, _, q, _ in points)
    y_min = max(0.0, int(low * 10) / 10)  # the quality axis starts at the tenth below the curve
    span = (1.0 - y_min) or 1.0

    def y(q: float) -> float:
        return HEIGHT - PAD - (q - y_min) / span * (HEIGHT - 2 * PAD)

    xy = [(PAD + c / x_max * (WIDTH - 2 * PAD), y(q), t, a) for t, a, q, c in points]
    path = " ".join(f"{x:.1f},{yy:.1f}" for x, yy, _t, _a in xy)
    parts = [_open("quality against cost as the threshold moves")]
    for tick in (y_min, (y_min + 1.0) / 2, 1.0):
        parts.append(f'<line x1="{PAD}" y1="{y(tick):.1f}" x2="{WIDTH - PAD}" y2="{y(tick):.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{PAD - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.2f}</text>')
    parts.append(f'<polyline points="{path}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
    for x, yy, t, a in xy:
        parts.append(f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="3" fill="#1f77b4"><title>threshold {t:.2f}: accepts {a:.0%}</title></circle>')
    caption = f"cost per query, $0 to {escape(f'${x_max:.6f}')}; quality up; hover a point for its threshold"
    parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" text-anchor="middle">{caption}</text>')
    return "\n".join(parts + ["</svg>"])


def _open(label: str) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(label)}">'


def decision_section(report: Mapping[str, Any]) -> list[str]:
    pairs = paired(report)
    if len({p.right for p in pairs}) < 2:
        return []
    return [
        "<h2>The decision</h2>",
        "<p>How the decision scores of right and wrong drafts are spread (right or wrong as the "
        "drafter-only run answered), and the cost-quality frontier the threshold moves along: "
        "an in-sample what-if of this run's rows; <code>cascadectl tune</code> measures it by replay, "
        "out of sample.</p>",
        distribution_svg(pairs),
        frontier_svg(frontier(pairs)),
    ]
