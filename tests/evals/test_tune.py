"""`tune` on synthetic traces whose best decision is known, through the real replay."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cascadectl.config.loader import load_cascade
from cascadectl.config.model import CascadeConfig, PriceSpec, QualityConfig, TierConfig, ValidatorSpec
from cascadectl.evals import tune as tune_module
from cascadectl.evals.replay import replay_eval
from cascadectl.evals.runner import run_eval
from cascadectl.evals.tune import Target, tune
from cascadectl.errors import UsageError
from cascadectl.traces.attempts import read_attempts
from tests.support.eval_fakes import write_evalset

# Right drafts are confident, wrong ones are not: confidence alone separates them.
DRAFTER = [
    {"match": "right", "text": "Paris.", "logprob": -0.02, "usage": {"input": 10, "output": 2}},
    {"match": "wrong", "text": "Lyon.", "logprob": -0.9, "usage": {"input": 10, "output": 2}},
]
VERIFIER = {"text": "Paris.", "logprob": -0.01, "usage": {"input": 10, "output": 2}}
ITEMS = [{"id": f"q{i:02d}", "query": f"Which city? case {i} {'right' if i % 3 else 'wrong'}",
          "expected": "Paris", "scorer": "contains"} for i in range(30)]
VALIDATORS = (ValidatorSpec("non_empty"), ValidatorSpec("confidence", 1.0), ValidatorSpec("hedging", 1.0))


def config(threshold: float = 0.5) -> CascadeConfig:
    tiers = (
        TierConfig(name="drafter", provider="fake", model="small", price=PriceSpec(1.0, 2.0),
                   options={"responses": DRAFTER}),
        TierConfig(name="verifier", provider="fake", model="big", price=PriceSpec(10.0, 20.0),
                   options={"default": VERIFIER}),
    )
    thresholds = {k: threshold for k in ("trivial", "simple", "moderate", "hard", "expert")}
    return CascadeConfig(tiers=tiers, name="synthetic", quality=QualityConfig(thresholds=thresholds, validators=VALIDATORS))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("tune")
    evalset = write_evalset(tmp / "set.jsonl", ITEMS)
    return run_eval(config(), evalset, tmp / "rec", baselines=["verifier"], concurrency=1, formats=("json",)).traces


def test_the_known_best_decision_is_found_out_of_sample(recorded: Path) -> None:
    result = tune(config(), read_attempts([recorded]), Target("quality-drop", 0.0), folds=5)
    f = result.out_of_sample
    assert result.items == 30 and result.labels == "reference"
    assert f.drafter_quality == pytest.approx(20 / 30) and f.verifier_quality == 1.0
    assert f.auroc == 1.0  # confidence ranks every right draft above every wrong one
    assert f.quality == 1.0  # no quality lost: every wrong draft escalates...
    assert f.acceptance == pytest.approx(20 / 30)  # ...and every right one is kept
    assert f.gap_recovered == 1.0 and f.saving is not None and f.saving > 0.5
    weights = {v.type: v.weight for v in result.tuned.quality.validators}
    assert weights["confidence"] > weights["hedging"]  # hedging never varies here: no weight earned


def test_a_saving_target_trades_quality_for_money(recorded: Path) -> None:
    cheap = tune(config(), read_attempts([recorded]), Target("acceptance", 0.95), folds=3)
    assert cheap.out_of_sample.acceptance > 0.9 and cheap.out_of_sample.quality < 0.8
    frontier = [f.acceptance for _, f in cheap.frontier]
    assert frontier == sorted(frontier)  # asking for more acceptance never gives less


def test_cross_validation_never_scores_an_item_it_trained_on(recorded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[set[int]] = []
    real_table = tune_module._table

    def spy(cfg: Any, attempts: Any, items: Any, train: set[int]) -> Any:
        seen.append(set(train))
        return real_table(cfg, attempts, items, train)

    monkeypatch.setattr(tune_module, "_table", spy)
    tune(config(), read_attempts([recorded]), Target("quality-drop", 0.0), folds=5)
    folds, final = seen[:5], seen[5]
    held_out = [set(range(30)) - train for train in folds]
    assert all(len(h) == 6 for h in held_out) and set().union(*held_out) == set(range(30))
    assert all(not (h & t) for h, t in zip(held_out, folds))  # a fold's fit never saw its items
    assert final == set(range(30))  # only the written file is fitted on everything


def test_the_tuned_yaml_validates_and_replays_to_the_in_sample_figures(recorded: Path, tmp_path: Path) -> None:
    from cascadectl.cli.tune import write_tuned

    source = tmp_path / "synthetic.yaml"
    source.write_text(_yaml(), encoding="utf-8")
    result = tune(load_cascade(source), read_attempts([recorded]), Target("quality-drop", 0.0), folds=5)
    write_tuned(source, result, tmp_path / "tuned.yaml")
    tuned = load_cascade(tmp_path / "tuned.yaml")
    replayed = replay_eval([recorded], tuned, tmp_path / "check", formats=("json",))
    metrics = replayed.report["metrics"]["cascade"]
    assert metrics["acceptance_rate"] == pytest.approx(result.in_sample.acceptance)
    assert metrics["quality"] == pytest.approx(result.in_sample.quality)


def test_bad_targets_are_usage_errors() -> None:
    for text, message in [("speed=2", "expected one of"), ("saving=lots", "expected a number"), ("saving=150%", "from 0 to 1")]:
        with pytest.raises(UsageError, match=message):
            Target.parse(text)
    assert Target.parse("saving=30%") == Target("saving", 0.3)


def _yaml() -> str:
    import json

    tiers = [
        {"name": "drafter", "provider": "fake", "model": "small", "price": {"input": 1.0, "output": 2.0}, "options": {"responses": DRAFTER}},
        {"name": "verifier", "provider": "fake", "model": "big", "price": {"input": 10.0, "output": 20.0}, "options": {"default": VERIFIER}},
    ]
    validators = [{"type": v.type, "weight": v.weight} for v in VALIDATORS]
    return json.dumps({"version": 1, "name": "synthetic", "tiers": tiers, "quality": {"thresholds": {"simple": 0.5}, "validators": validators}})
