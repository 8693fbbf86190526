"""Scorers: compare an answer (a CascadeResult dict) with an evalset item's `expected`.

Every scorer gives a Score in [0, 1] and a verdict. A problem with the item itself
(a bad regex, a missing reference) gives score 0 with a detail starting "invalid:",
so one bad line never stops a run; `load_evalset` rejects such lines up front.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from cascadectl.evals.answers import extract_json, pick_number, to_number

SCORERS = ("exact", "contains", "regex", "numeric", "json-match", "tool-call", "judge")
_ALIASES = {"json": "json-match", "tool-call-match": "tool-call", "tool-calls": "tool-call", "toolcall": "tool-call"}
_EDGE = " \t\n\"'`*_.!?,;:。！？"  # stripped from both ends by the exact scorer
DEFAULT_ABS_TOLERANCE = 1e-9  # numeric: floats that print alike are equal
JUDGE_PASS = 0.5  # a judge verdict at or above this is "correct"


@dataclass(frozen=True)
class Score:
    scorer: str
    score: float
    correct: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"scorer": self.scorer, "score": round(float(self.score), 6), "correct": self.correct, "detail": self.detail}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Score:
        return cls(str(raw.get("scorer", "")), float(raw.get("score", 0.0)), bool(raw.get("correct")), str(raw.get("detail", "")))


def canonical_scorer(name: Any) -> str | None:
    key = re.sub(r"[\s_]+", "-", str(name or "").strip().lower())
    key = _ALIASES.get(key, key)
    return key if key in SCORERS else None


def score_answer(item: Mapping[str, Any], result: Mapping[str, Any] | None, judge: float | None = None) -> Score:
    """Score one answer. `result` None means the query errored (score 0)."""
    raw_name = str(item.get("scorer") or "")
    name = canonical_scorer(raw_name)
    if name is None:
        return Score(raw_name, 0.0, False, f"invalid: unknown scorer {raw_name!r} (known: {', '.join(SCORERS)})")
    if result is None:
        return Score(name, 0.0, False, "error")
    if name == "judge":
        return _judge(judge, item)
    if item.get("expected") is None:
        return Score(name, 0.0, False, "invalid: the item has no `expected` reference")
    score = _SCORERS[name](item, result)
    return _with_calls(score, item, result) if item.get("expected_calls") else score


def calls_made(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every tool call the task made: each step's in the tool loop, else the answer's."""
    steps = result.get("steps") or ()
    if steps:
        return [c for step in steps for c in step.get("tool_calls") or ()]
    return list(result.get("tool_calls") or ())


def _with_calls(score: Score, item: Mapping[str, Any], result: Mapping[str, Any]) -> Score:
    """The answer's score and `expected_calls`' together: both must pass; the score is their mean."""
    wanted = [_call(c) for c in item["expected_calls"]]
    matched, misses = _match_calls(wanted, [_call(c) for c in calls_made(result)], bool(item.get("subset")))
    calls_ok = matched == len(wanted)
    detail = "; ".join(p for p in (score.detail, "; ".join(misses)) if p)
    return Score(score.scorer, (score.score + matched / len(wanted)) / 2, score.correct and calls_ok, detail)


def _verdict(name: str, ok: bool, detail: str) -> Score:
    return Score(name, 1.0 if ok else 0.0, ok, detail)


def _answer(result: Mapping[str, Any]) -> str:
    return str(result.get("content") or "")


def _alternatives(expected: Any) -> list[Any]:
    return list(expected) if isinstance(expected, list) else [expected]


def _fold(text: str, case_sensitive: bool) -> str:
    text = " ".join(unicodedata.normalize("NFKC", text).split())
    return text if case_sensitive else text.casefold()


def normalize_text(text: str, case_sensitive: bool = False) -> str:
    """Case, runs of whitespace, and wrapping quotes/markdown/trailing punctuation removed."""
    return _fold(text, case_sensitive).strip(_EDGE)


def _exact(item: Mapping[str, Any], result: Mapping[str, Any]) -> Score:
    cs = bool(item.get("case_sensitive", False))
    got = normalize_text(_answer(result), cs)
    ok = any(got == normalize_text(str(e), cs) for e in _alternatives(item["expected"]))
    return _verdict("exact", ok, "" if ok else f"got {_short(got)!r}")


def _contains(item: Mapping[str, Any], result: Mapping[str, Any]) -> Score:
    cs = bool(item.get("case_sensitive", False))
    got = _fold(_answer(result), cs)
    wanted = [normalize_text(str(e), cs) for e in _alternatives(item["expected"])]
    ok = any(w in got for w in wanted)
    return _verdict("contains", ok, "" if ok else f"none of {wanted!r} in the answer")


def _regex(item: Mapping[str, Any], result: Mapping[str, Any]) -> Score:
    flags = 0 if item.get("case_sensitive") else re.IGNORECASE
    answer = _answer(result)
    for pattern in _alternatives(item["expected"]):
        try:
            if re.search(str(pattern), answer, flags):
                return _verdict("regex", True, "")
        except re.error as exc:
            return Score("regex", 0.0, False, f"invalid: bad regular expression {pattern!r} ({exc.msg})")
    return _verdict("regex", False, "no match")


def _numeric(item: Mapping[str, Any], result: Mapping[str, Any]) -> Score:
    targets = [to_number(e) for e in _alternatives(item["expected"])]
    if any(t is None for t in targets):
        return Score("numeric", 0.0, False, f"invalid: expected is not a number: {item['expected']!r}")
    tol = _tolerance(item.get("tolerance"))
    if tol is None:
        return Score("numeric", 0.0, False, f"invalid: bad tolerance {item.get('tolerance')!r}")
    got = pick_number(_answer(result))
    if got is None:
        return _verdict("numeric", False, "no number in the answer")
    ok = any(_close(got, t, tol) for t in targets if t is not None)
    return _verdict("numeric", ok, "" if ok else f"got {got:g}")


def _tolerance(raw: Any) -> tuple[float, float] | None:
    """(absolute, relative). A number is absolute; '1%' is relative to the expected value."""
    if raw is None:
        return DEFAULT_ABS_TOLERANCE, 0.0
    if isinstance(raw, str) and raw.strip().endswith("%"):
        rel = to_number(raw.strip()[:-1])
        return None if rel is None or rel < 0 else (DEFAULT_ABS_TOLERANCE, rel / 100.0)
    value = to_number(raw)
    return None if value is None or value < 0 else (max(value, DEFAULT_ABS_TOLERANCE), 0.0)


def _close(got: float, want: float, tol: tuple[float, float]) -> bool:
    absolute, relative = tol
    return abs(got - want) <= max(absolute, relative * abs(want))


def _json_match(item: Mapping[str, Any], result: Mapping[str, Any]) -> Score:
    expected = item["expected"]
    if isinstance(expected, str):
        expected = _maybe_json(expected)
    parsed, problem = extract_json(_answer(result))
    if problem:
        return _verdict("json-match", False, problem)
    mismatch = json_mismatch(expected, parsed, "$", bool(item.get("subset")))
    return _verdict("json-match", mismatch is None, mismatch or "")


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def json_mismatch(want: Any, got: Any, path: str, subset: bool) -> str | None:
    """Where `got` differs from `want` (None if it matches); with subset, extra keys are fine."""
    if isinstance(want, dict):
        return _dict_mismatch(want, got, path, subset)
    if isinstance(want, list):
        return _list_mismatch(want, got, path, subset)
    if isinstance(want, bool) != isinstance(got, bool) or want != got:
        return f"{path}: expected {json.dumps(want)}, got {_short(json.dumps(got))}"
    return None


def _dict_mismatch(want: dict[str, Any], got: Any, path: str, subset: bool) -> str | None:
    if not isinstance(got, dict):
        return f"{path}: expected an object, got {_short(json.dumps(got))}"
    for key in want:
        if key not in got:
            return f"{path}.{key}: missing"
        found = json_mismatch(want[key], got[key], f"{path}.{key}", subset)
        if found:
            return found
    extra = sorted(set(got) - set(want))
    return f"{path}: unexpected keys {extra}" if extra and not subset else None


def _list_mismatch(want: list[Any], got: Any, path: str, subset: bool) -> str | None:
    if not isinstance(got, list) or len(got) != len(want):
        size = len(got) if isinstance(got, list) else "not a list"
        return f"{path}: expected a list of {len(want)}, got {size}"
    for index, (w, g) in enumerate(zip(want, got)):
        found = json_mismatch(w, g, f"{path}[{index}]", subset)
        if found:
            return found
    return None


def _tool_call(item: Mapping[str, Any], result: Mapping[str, Any]) -> Score:
    """Order-free: each expected call must match a distinct actual call by name and
    arguments. The score is the share matched; extra calls count against it."""
    wanted = [_call(c) for c in _alternatives(item["expected"])]
    actual = [_call(c) for c in calls_made(result)]
    subset = bool(item.get("subset"))
    matched, misses = _match_calls(wanted, actual, subset)
    denominator = max(len(wanted), len(actual), 1)
    ok = matched == len(wanted) == len(actual)
    detail = "" if ok else "; ".join(misses) or f"{len(actual)} calls made, {len(wanted)} expected"
    return Score("tool-call", matched / denominator, ok, detail)


def _match_calls(wanted: Sequence[dict[str, Any]], actual: Sequence[dict[str, Any]], subset: bool) -> tuple[int, list[str]]:
    free = list(actual)
    misses: list[str] = []
    for call in wanted:
        hit = next((a for a in free if _same_call(call, a, subset)), None)
        if hit is None:
            misses.append(f"no call matches {call['name']}({_short(json.dumps(call.get('arguments')))})")
        else:
            free.remove(hit)
    return len(wanted) - len(misses), misses


def _same_call(want: dict[str, Any], got: dict[str, Any], subset: bool) -> bool:
    if want["name"] != got["name"]:
        return False
    return "arguments" not in want or json_mismatch(want["arguments"], got.get("arguments"), "$", subset) is None


def _call(raw: Any) -> dict[str, Any]:
    """Universal {name, arguments} from that or OpenAI's {function: {name, arguments: str}}."""
    if not isinstance(raw, Mapping):
        return {"name": None}
    body = raw.get("function") if isinstance(raw.get("function"), Mapping) else raw
    call: dict[str, Any] = {"name": body.get("name")}
    if "arguments" in body:
        args = body["arguments"]
        call["arguments"] = _maybe_json(args) if isinstance(args, str) else args
    return call


def _judge(verdict: float | None, item: Mapping[str, Any]) -> Score:
    if verdict is None:
        return Score("judge", 0.0, False, "error: no judge verdict")
    if not 0.0 <= verdict <= 1.0:
        return Score("judge", 0.0, False, f"invalid: judge verdict {verdict!r} is outside 0..1")
    ok = verdict >= JUDGE_PASS
    return Score("judge", float(verdict), ok, f"judge {verdict:.2f}")


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_SCORERS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], Score]] = {
    "exact": _exact,
    "contains": _contains,
    "regex": _regex,
    "numeric": _numeric,
    "json-match": _json_match,
    "tool-call": _tool_call,
}
