"""The small statistics `tune` needs: a non-negative logistic fit for the soft checks'
weights, and AUROC (how well a score ranks right drafts above wrong ones), which is the
reports' own."""
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


def ranked_auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """AUROC of plain sequences, by the reports' own rank-based computation."""
    import pandas as pd

    from cascadectl.reports.comparison import auroc

    return auroc(pd.Series(list(scores), dtype=float), pd.Series(list(labels), dtype=bool))
