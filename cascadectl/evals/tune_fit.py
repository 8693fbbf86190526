"""The small statistics `tune` needs: a non-negative logistic fit for the soft checks'
weights, and AUROC (how well a score ranks right drafts above wrong ones)."""
from __future__ import annotations

from typing import Mapping, Sequence

L2 = 1e-2  # keeps weights finite when a check separates the training drafts perfectly
STEPS = 3000
WEIGHT_SCALE = 4.0  # the largest fitted weight; only ratios matter to a geometric mean


def fit_weights(features: Sequence[Mapping[str, float]], labels: Sequence[bool], names: Sequence[str]) -> tuple[tuple[str, float], ...]:
    """Weights per soft check: the coefficients of P(right) = sigmoid(b + sum c_i log s_i),
    kept >= 0 (a check may be ignored, never turned against its meaning), scaled so the
    largest is WEIGHT_SCALE. With too little data to fit (one class only), all equal."""
    import numpy as np

    if not names or len(set(labels)) < 2:
        return tuple((name, 1.0) for name in names)
    x = np.array([[f.get(name, 0.0) for name in names] for f in features], dtype=float)
    y = np.array([1.0 if label else 0.0 for label in labels])
    coef, bias = np.zeros(len(names)), 0.0
    rate = 0.5
    for _ in range(STEPS):
        p = 1.0 / (1.0 + np.exp(-(x @ coef + bias)))
        grad = x.T @ (p - y) / len(y) + L2 * coef
        coef = np.maximum(coef - rate * grad, 0.0)  # projected onto c >= 0
        bias -= rate * float(np.mean(p - y))
    top = float(coef.max())
    if top <= 0:
        return tuple((name, 1.0) for name in names)
    return tuple((name, round(WEIGHT_SCALE * float(c) / top, 4)) for name, c in zip(names, coef))


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """P(a right draft scores above a wrong one), ties counting half; None without both."""
    right = [s for s, l in zip(scores, labels) if l]
    wrong = [s for s, l in zip(scores, labels) if not l]
    if not right or not wrong:
        return None
    ranked = sorted((s, i) for i, s in enumerate([*right, *wrong]))
    ranks = [0.0] * len(ranked)
    i = 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[ranked[k][1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    rank_sum = sum(ranks[: len(right)])
    return (rank_sum - len(right) * (len(right) + 1) / 2.0) / (len(right) * len(wrong))
