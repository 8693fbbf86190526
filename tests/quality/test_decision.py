from __future__ import annotations

import math
from typing import Sequence

import pytest

from cascadectl.config.model import DEFAULT_THRESHOLDS, QualityConfig, ValidatorSpec
from cascadectl.errors import ConfigError
from cascadectl.quality.checks import CheckResult
from cascadectl.quality.decision import DEFAULT_VALIDATORS, Decider, Decision
from cascadectl.quality.draft import DecisionContext, Draft, DraftToolCall
from cascadectl.tools import ToolChoice
from tests.quality.builders import TOOLS, call, context

CONFIDENT = (math.log(0.9),) * 12


def decider(*specs: ValidatorSpec, thresholds: dict[str, float] | None = None) -> Decider:
    if thresholds is None:
        return Decider(QualityConfig(validators=specs))
    return Decider(QualityConfig(validators=specs, thresholds=thresholds))


def decide(
    d: Decider,
    text: str,
    ctx: DecisionContext | None = None,
    logprobs: Sequence[float] = (),
    tool_calls: Sequence[DraftToolCall] = (),
) -> Decision:
    return d.decide(Draft(text, logprobs, tool_calls), ctx or context())


# which checks run


def test_default_validators_run_in_order_with_their_weights() -> None:
    decision = decide(Decider(QualityConfig()), "Paris.", logprobs=CONFIDENT)
    assert [(c.name, c.weight) for c in decision.checks] == [(s.type, s.weight) for s in DEFAULT_VALIDATORS]
    assert [c.name for c in decision.checks] == ["non_empty", "refusal", "confidence", "hedging", "length", "alignment"]


def test_configured_validators_replace_the_defaults() -> None:
    decision = decide(decider(ValidatorSpec("hedging", weight=3.0)), "Paris.")
    assert [(c.name, c.weight) for c in decision.checks] == [("hedging", 3.0)]


def test_validator_options_reach_the_check() -> None:
    d = decider(ValidatorSpec("format", options={"regex": "^[0-9]+$"}))
    assert decide(d, "42").accepted
    assert decide(d, "forty-two").reason == "rejected: format (does not match '^[0-9]+$')"


def test_tool_check_is_added_when_tools_are_offered() -> None:
    decision = decide(decider(ValidatorSpec("non_empty")), "", context(tools=TOOLS), tool_calls=(call(),))
    assert [c.name for c in decision.checks] == ["non_empty", "tool_calls"]
    assert decision.accepted


def test_tool_check_is_added_when_the_draft_calls_a_tool_nobody_offered() -> None:
    decision = decide(decider(ValidatorSpec("non_empty")), "", tool_calls=(call("lookup", {}),))
    assert not decision.accepted
    assert decision.reason == "rejected: tool_calls (lookup: unknown tool (offered: none))"


def test_tool_check_is_not_added_without_tools() -> None:
    assert [c.name for c in decide(decider(ValidatorSpec("non_empty")), "Paris.").checks] == ["non_empty"]


def test_a_configured_tool_check_is_not_run_twice() -> None:
    decision = decide(decider(ValidatorSpec("tool_calls")), "", context(tools=TOOLS), tool_calls=(call(),))
    assert [c.name for c in decision.checks] == ["tool_calls"]


def test_prose_when_tool_choice_requires_a_call_is_rejected() -> None:
    ctx = context(tools=TOOLS, tool_choice=ToolChoice("required"))
    decision = decide(Decider(QualityConfig()), "It is sunny in Paris.", ctx, logprobs=CONFIDENT)
    assert not decision.accepted
    assert decision.reason == "rejected: tool_calls (answered in prose but tool_choice requires a tool call)"


def test_unknown_validator_type_is_a_config_error_listing_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown validator type 'vibes' \(known: alignment, confidence, .*tool_calls"):
        decider(ValidatorSpec("vibes"))


def test_judge_validator_is_refused_with_a_pointer_to_evals() -> None:
    with pytest.raises(ConfigError, match=r"'judge' validator is not available in the engine yet.*scorer: judge"):
        decider(ValidatorSpec("judge"))


# how soft scores combine


def test_score_is_the_weighted_geometric_mean_of_soft_scores() -> None:
    # hedging: one hedge -> 0.7; length: 9 chars against the moderate band (20, 2500) -> 0.45.
    d = decider(ValidatorSpec("hedging", weight=2.0), ValidatorSpec("length", weight=1.0))
    decision = decide(d, "Maybe it.", context(complexity="moderate"))
    assert decision.score == pytest.approx((0.7**2 * 0.45) ** (1 / 3))


def test_weights_shift_the_score_towards_the_heavier_check() -> None:
    light = decide(decider(ValidatorSpec("hedging", weight=1.0), ValidatorSpec("length", weight=3.0)), "Maybe.")
    heavy = decide(decider(ValidatorSpec("hedging", weight=3.0), ValidatorSpec("length", weight=1.0)), "Maybe.")
    assert light.score == pytest.approx(0.7**0.25)
    assert heavy.score == pytest.approx(0.7**0.75)


def test_a_zero_soft_score_counts_as_one_hundredth() -> None:
    d = decider(ValidatorSpec("hedging"), ValidatorSpec("length"))
    assert decide(d, "I don't know.").score == pytest.approx(math.sqrt(0.01 * 1.0))


def test_checks_without_signal_are_left_out_of_the_mean() -> None:
    d = decider(ValidatorSpec("confidence", weight=2.0), ValidatorSpec("hedging"))
    decision = decide(d, "Maybe.")
    assert decision.score == pytest.approx(0.7)
    assert decision.confidence is None


def test_no_soft_signal_at_all_scores_one() -> None:
    decision = decide(decider(ValidatorSpec("non_empty"), ValidatorSpec("confidence")), "Paris.")
    assert (decision.score, decision.accepted) == (1.0, True)


def test_confidence_is_reported_from_the_confidence_check() -> None:
    decision = decide(decider(ValidatorSpec("confidence")), "Paris.", logprobs=(math.log(0.5),))
    assert decision.confidence == pytest.approx(0.5)
    assert decision.score == pytest.approx(0.5)


# hard checks


def test_a_failed_hard_check_rejects_whatever_the_score() -> None:
    decision = decide(decider(ValidatorSpec("non_empty"), ValidatorSpec("hedging")), "", context(threshold=0.0))
    assert decision.score == 1.0
    assert not decision.accepted
    assert decision.reason == "rejected: non_empty (0)"


def test_every_failed_hard_check_is_named() -> None:
    d = decider(ValidatorSpec("refusal"), ValidatorSpec("format", options={"regex": "^[0-9]+$"}))
    decision = decide(d, "I can't help with that.")
    assert decision.reason == "rejected: refusal (True); format (does not match '^[0-9]+$')"


def test_extra_results_take_part_in_the_decision() -> None:
    extra = (CheckResult("early_abort", "hard", False, None, "refusal"),)
    decision = decider(ValidatorSpec("hedging")).decide(Draft("Paris."), context(), extra)
    assert decision.checks[-1] == extra[0]
    assert decision.reason == "rejected: early_abort (refusal)"


# thresholds


@pytest.mark.parametrize("complexity", list(DEFAULT_THRESHOLDS))
def test_default_thresholds_per_complexity(complexity: str) -> None:
    assert Decider(QualityConfig()).threshold(complexity) == DEFAULT_THRESHOLDS[complexity]


def test_thresholds_rise_with_complexity() -> None:
    d = Decider(QualityConfig())
    levels = [d.threshold(c) for c in ("trivial", "simple", "moderate", "hard", "expert")]
    assert levels == sorted(levels) and len(set(levels)) == len(levels)


def test_configured_thresholds_and_the_fallback() -> None:
    d = decider(thresholds={"hard": 0.9})
    assert d.threshold("hard") == 0.9
    assert d.threshold("trivial") == 0.6


def test_a_score_exactly_at_the_threshold_is_accepted() -> None:
    d = decider(ValidatorSpec("hedging"), ValidatorSpec("length"))
    score = decide(d, "Maybe.").score
    at = decide(d, "Maybe.", context(threshold=score))
    assert at.accepted
    assert at.reason == f"accepted: score {score:.2f} >= {score:.2f}"


def test_a_score_just_below_the_threshold_is_rejected() -> None:
    d = decider(ValidatorSpec("hedging"), ValidatorSpec("length"))
    score = decide(d, "Maybe.").score
    assert not decide(d, "Maybe.", context(threshold=math.nextafter(score, 1.0))).accepted


def test_a_score_below_the_threshold_names_the_weakest_check() -> None:
    d = decider(ValidatorSpec("hedging"), ValidatorSpec("length"))
    decision = decide(d, "Maybe.", context(threshold=0.9))
    assert decision.score == pytest.approx(math.sqrt(0.7))
    assert decision.reason == "rejected: score 0.84 < 0.90 (weakest: hedging 0.70)"


@pytest.mark.parametrize(("complexity", "accepted"), [("trivial", True), ("moderate", True), ("expert", False)])
def test_the_same_draft_passes_easier_thresholds_and_fails_a_harder_one(complexity: str, accepted: bool) -> None:
    d = decider(ValidatorSpec("hedging"))  # "Perhaps Paris." scores 0.7 whatever the complexity
    ctx = context(complexity=complexity, threshold=d.threshold(complexity))
    assert decide(d, "Perhaps Paris.", ctx).accepted is accepted


# early abort


@pytest.mark.parametrize("text", ["I'm sorry, but I can't help with that", "As an AI, I cannot", "  I won't assist"])
def test_early_abort_on_a_refusal_prefix(text: str) -> None:
    assert Decider(QualityConfig()).early_abort_reason(text, ()) == "refusal"


@pytest.mark.parametrize("text", ["", "I'm sor", "The capital of France is", "Paris. I can't help with more."])
def test_no_early_abort_on_an_ordinary_prefix(text: str) -> None:
    assert Decider(QualityConfig()).early_abort_reason(text, ()) is None


def test_early_abort_when_confidence_collapses() -> None:
    reason = Decider(QualityConfig()).early_abort_reason("The capital is Lyon", (math.log(0.1),) * 12)
    assert reason == "confidence collapsed (mean token probability 0.10)"


def test_no_confidence_abort_before_the_minimum_token_count() -> None:
    assert Decider(QualityConfig()).early_abort_reason("The capital", (math.log(0.01),) * 11) is None


@pytest.mark.parametrize(("p", "aborts"), [(0.14, True), (0.16, False), (0.9, False)])
def test_confidence_abort_floor_is_a_mean_probability_of_fifteen_percent(p: float, aborts: bool) -> None:
    reason = Decider(QualityConfig()).early_abort_reason("The capital is", (math.log(p),) * 20)
    assert (reason is not None) is aborts


def test_confidence_abort_uses_the_mean_not_the_worst_token() -> None:
    logprobs = (math.log(0.9),) * 11 + (math.log(0.001),)  # mean probability about 0.51
    assert Decider(QualityConfig()).early_abort_reason("The capital is", logprobs) is None


def test_no_confidence_abort_when_confidence_is_not_a_validator() -> None:
    d = decider(ValidatorSpec("non_empty"), ValidatorSpec("hedging"))
    assert d.early_abort_reason("The capital is Lyon", (math.log(0.01),) * 20) is None


def test_refusal_is_checked_before_confidence() -> None:
    reason = Decider(QualityConfig()).early_abort_reason("I cannot help with that", (math.log(0.01),) * 20)
    assert reason == "refusal"


# Decision.to_dict


def test_decision_to_dict_rounds_scores_to_four_places() -> None:
    checks = (CheckResult("confidence", "soft", True, 0.123456, {"tokens": 3}, 2.0),)
    decision = Decision(True, 2 / 3, 0.123456, 0.65, "accepted: score 0.67 >= 0.65", checks)
    assert decision.to_dict() == {
        "accepted": True,
        "score": 0.6667,
        "confidence": 0.1235,
        "threshold": 0.65,
        "reason": "accepted: score 0.67 >= 0.65",
        "checks": [
            {"name": "confidence", "kind": "soft", "passed": True, "score": 0.1235, "value": {"tokens": 3}, "weight": 2.0}
        ],
    }


def test_decision_to_dict_keeps_a_missing_confidence_as_none() -> None:
    data = decide(decider(ValidatorSpec("confidence"), ValidatorSpec("hedging")), "Maybe.").to_dict()
    assert data["confidence"] is None
    assert data["score"] == 0.7
    assert [c["name"] for c in data["checks"]] == ["confidence", "hedging"]
