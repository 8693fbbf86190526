"""A fast query-complexity estimate: trivial, simple, moderate, hard or expert.

Cheap heuristics only (a few compiled regexes over the query): it runs before
every query, so it must cost microseconds, not a model call.
"""
from __future__ import annotations

import re
from typing import NamedTuple

from cascadectl.config.model import COMPLEXITIES

_EXPERT = re.compile(
    r"\b(prove|proof|theorem|lemma|derive|derivation|formal(ly)? verif|np-hard|"
    r"asymptotic|eigen\w*|differential equation|quantum|measure theory|"
    r"distributed consensus|cryptograph\w*|optimi[sz]e the (algorithm|architecture))\b",
    re.I,
)
_HARD = re.compile(
    r"\b(implement|design|architect\w*|refactor|debug|analy[sz]e|evaluate|critique|"
    r"trade-?offs?|compare and contrast|step[- ]by[- ]step|algorithm|complexity of|"
    r"optimi[sz]\w*|integral|probability that|write (a|an) (program|function|essay|script))\b",
    re.I,
)
_MODERATE = re.compile(
    r"\b(explain|why|how (does|do|can|would|should)|describe|summari[sz]e|compare|"
    r"difference between|pros and cons|what happens|translate|calculate|compute|solve)\b",
    re.I,
)
_TRIVIAL = re.compile(
    r"^\s*(hi|hello|hey|thanks|thank you|what is \d+\s*[-+*/x]\s*\d+|"
    r"(what|who) is (the )?\w+( \w+)?)\s*[?.!]*\s*$",
    re.I,
)
_CODE_OR_MATH = re.compile(r"```|\b(def|class|function|SELECT|lambda)\b|[=<>]{2}|\\[a-z]+\{|∫|∑")
_WORD = re.compile(r"\S+")


class ComplexityEstimate(NamedTuple):
    level: str
    reason: str


def estimate_complexity(query: str) -> ComplexityEstimate:
    words = len(_WORD.findall(query))
    if _EXPERT.search(query):
        return ComplexityEstimate("expert", "expert keyword")
    if _HARD.search(query) or (_CODE_OR_MATH.search(query) and words > 12):
        return ComplexityEstimate("hard", "task keyword or code" if words <= 120 else "long task")
    if words > 120:
        return ComplexityEstimate("hard", f"long query ({words} words)")
    if _MODERATE.search(query) or words > 30 or query.count("?") > 1:
        return ComplexityEstimate("moderate", "explanation or multi-part question")
    if words <= 6 or _TRIVIAL.match(query):
        return ComplexityEstimate("trivial", f"short factual query ({words} words)")
    return ComplexityEstimate("simple", f"short query ({words} words)")


def check_complexity(level: str) -> str:
    if level not in COMPLEXITIES:
        from cascadectl.errors import UsageError

        raise UsageError(f"complexity must be one of {', '.join(COMPLEXITIES)}; got {level!r}")
    return level
