"""Validators. Hard checks must pass; soft checks give a score in [0, 1].

Each check is a function (draft, context, options) -> CheckResult. Validators
read text and deltas, never HTTP.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping, NamedTuple

from cascadectl.quality.draft import Draft, DecisionContext


class CheckResult(NamedTuple):
    name: str
    kind: str  # hard | soft
    passed: bool
    score: float | None  # soft score in [0, 1]; None when the check has no signal
    value: Any  # what was measured
    weight: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "passed": self.passed,
            "score": None if self.score is None else round(self.score, 4),
            "value": self.value,
            "weight": self.weight,
        }


Options = Mapping[str, Any]
Check = Callable[[Draft, DecisionContext, Options], CheckResult]

_REFUSAL = re.compile(
    r"^\W*(i'?m sorry,? (but )?i (can(no|')t|am unable|won'?t)|i (can(no|')t|am unable to|won'?t) "
    r"(help|assist|provide|answer|comply|do that)|as an ai( language model)?,? i (can(no|')t|don'?t)|"
    r"i'?m (not able|unable) to (help|assist|answer|provide)|sorry,? (but )?i can(no|')t)",
    re.I,
)
_HEDGES = (
    " i think ", " i believe ", " not sure ", " maybe ", " perhaps ", " possibly ",
    " probably ", " might be ", " could be ", " it depends ", " i guess ", " unclear ",
    " uncertain ", " as far as i know ",
)
_DONT_KNOW = (" i don't know ", " i dont know ", " no idea ", " i'm not sure ", " i am not sure ", " cannot be certain ")
_STOPWORDS = frozenset(
    "the and for are was were what which who whom whose when where why how does did "
    "this that these those with from into onto about than then there their them they "
    "you your yours can could would should will shall has have had not but its it's "
    "is of in on a an to be as by or at give tell name list please".split()
)
# Expected answer size by complexity, in characters: (short bound, long bound).
_LENGTH_BANDS = {
    "trivial": (1, 400),
    "simple": (1, 800),
    "moderate": (20, 2500),
    "hard": (60, 6000),
    "expert": (100, 10000),
}


def non_empty(draft: Draft, ctx: DecisionContext, opts: Options) -> CheckResult:
    size = len(draft.text.strip())
    ok = size > 0 or bool(draft.tool_calls)
    return CheckResult("non_empty", "hard", ok, None, size)


def refusal(draft: Draft, ctx: DecisionContext, opts: Options) -> CheckResult:
    refused = bool(draft.refusal) or bool(_REFUSAL.match(draft.text[:200]))
    return CheckResult("refusal", "hard", not refused, None, refused)


def answer_format(draft: Draft, ctx: DecisionContext, opts: Options) -> CheckResult:
    pattern = opts.get("regex")
    if pattern is not None and not re.search(pattern, draft.text.strip()):
        return CheckResult("format", "hard", False, None, f"does not match {pattern!r}")
    schema = opts.get("json_schema")
    if schema is not None:
        problem = _json_schema_problem(draft.text, schema)
        if problem:
            return CheckResult("format", "hard", False, None, problem)
    return CheckResult("format", "hard", True, None, "ok")


def _json_schema_problem(text: str, schema: Mapping[str, Any]) -> str | None:
    import json

    import jsonschema

    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"not JSON: {exc}"
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    return None if error is None else f"{'/'.join(map(str, error.absolute_path)) or '$'}: {error.message}"


def confidence(draft: Draft, ctx: DecisionContext, opts: Options) -> CheckResult:
    lps = draft.logprobs
    if not lps:
        return CheckResult("confidence", "soft", True, None, None)
    mean_p = math.exp(sum(lps) / len(lps))
    min_p = math.exp(min(lps))
    score = 0.8 * mean_p + 0.2 * min_p
    value = {"mean_prob": round(mean_p, 4), "min_prob": round(min_p, 4), "tokens": len(lps)}
    return CheckResult("confidence", "soft", True, score, value)


def likelihood(draft: Draft, ctx: DecisionContext, opts: Options) -> CheckResult:
    """Another tier's reading of the draft: the probability it gives the draft's tokens
    (mean, or with stat: min, the least likely token). A stronger model that finds the
    draft unlikely would have answered otherwise."""
    signal = ctx.signals.get("likelihood")
    if signal is None or not signal.logprobs:
        return CheckResult("likelihood", "soft", True, None, None)
    lps = signal.logprobs
    mean_p, min_p = math.exp(math.fsum(lps) / len(lps)), math.exp(min(lps))
    value = {"tier": signal.tier, "mean_prob": round(mean_p, 4), "min_prob": round(min_p, 4), "tokens": len(lps)}
    return CheckResult("likelihood", "soft", True, min_p if opts.get("stat") == "min" else mean_p, value)


def hedging(draft: Draft, ctx: DecisionContext, opts: Options) -> CheckResult:
    folded = draft.folded
    if any(phrase in folded for phrase in _DONT_KNOW):
        return CheckResult("hedging", "soft", True, 0.0, "admits not knowing")
    count = sum(folded.count(phrase) for phrase in _HEDGES)
    return CheckResult("hedging", "soft", True, max(0.0, 1.0 - 0.3 * count), count)


def length_fit(draft: Draft, ctx: DecisionContext, opts: Options) -> CheckResult:
    if not draft.text and draft.tool_calls:
        return CheckResult("length", "soft", True, None, 0)
    size = len(draft.text.strip())
    low, high = _LENGTH_BANDS.get(ctx.complexity, (1, 4000))
    low, high = opts.get("min_chars", low), opts.get("max_chars", high)
    score = 1.0 if low <= size <= high else (size / low if size < low else high / size)
    if draft.finish_reason == "length":
        score *= 0.5  # cut off by max_tokens: probably incomplete
    return CheckResult("length", "soft", True, score, size)


def alignment(draft: Draft, ctx: DecisionContext, opts: Options) -> CheckResult:
    terms = [t for t in ctx.folded_query.split() if len(t) > 2 and t not in _STOPWORDS]
    answer = draft.folded
    if not terms or answer == " ":
        return CheckResult("alignment", "soft", True, None, None)
    if _echoes(ctx.folded_query, answer):
        return CheckResult("alignment", "soft", True, 0.1, "echoes the query")
    overlap = sum(f" {t} " in answer for t in terms) / len(terms)
    # A right short answer ("Paris") shares no words with its question, so
    # overlap only adds to a neutral base.
    return CheckResult("alignment", "soft", True, 0.7 + 0.3 * overlap, round(overlap, 4))


def _echoes(query: str, answer: str) -> bool:
    return len(query) > 14 and answer.startswith(query.rstrip())


HARD_CHECKS: dict[str, Check] = {
    "non_empty": non_empty,
    "refusal": refusal,
    "format": answer_format,
}
SOFT_CHECKS: dict[str, Check] = {
    "confidence": confidence,
    "hedging": hedging,
    "length": length_fit,
    "alignment": alignment,
    "likelihood": likelihood,
}
