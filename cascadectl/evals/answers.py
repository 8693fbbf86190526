"""Reading values out of free-text answers: the number a model meant, the JSON it wrote."""
from __future__ import annotations

import json
import math
import re
from typing import Any

_NUMBER = r"[-+\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+\u2212]?\.\d+"
# Not inside a word or a longer number ("x2", "3-4" gives 3 and 4, not -4).
NUMBER_RE = re.compile(rf"(?<![\w.])(?:{_NUMBER})")
# "The answer is 42", "= 7", "total: 12", "#### 9": the number after the last such marker wins.
MARKED_RE = re.compile(
    r"(?:\b(?:answer|result|total|sum|product|equals?)\b|=|\u2248|####)"
    r"[\s:*=]*(?:(?:is|was|would be|will be|equals)\b[\s:*$]*)?\$?"
    rf"(?P<num>{_NUMBER})",
    re.IGNORECASE,
)
_WORDS = {
    w: float(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_WORD_RE = re.compile(r"\b(" + "|".join(_WORDS) + r")\b", re.IGNORECASE)
_FENCE_RE = re.compile(r"```[\w-]*\s*\n?(.*?)```", re.DOTALL)


def to_number(value: Any) -> float | None:
    """A float from a number or a numeric string ("1,234", "-3.5", "$12"); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value.strip().replace(",", "").replace("_", "").replace("\u2212", "-").lstrip("$")
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def pick_number(answer: str) -> float | None:
    """The number an answer gives: after the last "answer is"/"=" marker if there is
    one, else the last number in the text (reasoning ends with its result), else a
    number word (zero..twenty) when the answer has no digits at all."""
    marked = list(MARKED_RE.finditer(answer))
    if marked:
        return to_number(marked[-1].group("num"))
    numbers = NUMBER_RE.findall(answer)
    if numbers:
        return to_number(numbers[-1])
    words = _WORD_RE.findall(answer)
    return _WORDS[words[-1].lower()] if words else None


def extract_json(answer: str) -> tuple[Any, str | None]:
    """(value, None) for the JSON in an answer (whole, fenced, or the first object or
    array in surrounding prose), or (None, problem)."""
    text = answer.strip()
    fenced = _FENCE_RE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        return json.loads(text), None
    except ValueError as exc:
        first_error = exc
    return _first_embedded(text, first_error)


def _first_embedded(text: str, error: ValueError) -> tuple[Any, str | None]:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            return decoder.raw_decode(text, match.start())[0], None
        except ValueError:
            continue
    return None, f"the answer is not JSON ({error})"
