"""Evalsets: strict JSONL, one query with its reference answer and scorer per line.

Blank lines are allowed; anything else must be a JSON object that follows
`evalset-line.schema.json`. Every problem in a file is reported, each as
`file:line:col: field: problem`, never just the first.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple, Sequence

from cascadectl.config.issues import ConfigIssue
from cascadectl.config.model import COMPLEXITIES
from cascadectl.errors import CascadeError, ConfigError
from cascadectl.evals.evalset_messages import describe_schema_error

SCHEMA_FILE = "evalset-line.schema.json"
_PLAIN_KEYS = frozenset({"id", "query", "expected", "scorer", "tags", "notes", "complexity_hint"})
_PLAIN_SCORERS = frozenset({"exact", "contains", "regex", "numeric", "judge"})
_NON_BLANK = re.compile(r"\S")
_TAG = re.compile(r"^[^,\s]+$")
_MISSING = object()
SCORERS = ("exact", "contains", "regex", "numeric", "json-match", "tool-call", "judge")
OPTION_KEYS = ("tolerance", "subset", "case_sensitive")


@dataclass(frozen=True)
class EvalItem:
    id: str
    expected: Any
    scorer: str
    query: str | None = None
    messages: tuple[Mapping[str, Any], ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)  # scorer options: tolerance, subset, ...
    judge: str | Mapping[str, Any] | None = None
    tools: tuple[Mapping[str, Any], ...] = ()
    tool_choice: Any = None
    tags: tuple[str, ...] = ()
    complexity_hint: str | None = None
    max_tokens: int | None = None
    tool_results: tuple[Mapping[str, Any], ...] = ()  # canned: {name, arguments?, result | error}; runs the tool loop
    expected_calls: tuple[Mapping[str, Any], ...] = ()  # {name, arguments?} the task must have called, in any step
    max_steps: int | None = None
    line: int = 0  # where it came from, for messages

    def to_dict(self) -> dict[str, Any]:
        """The evalset line as the scorers and the trace's `item` see it."""
        out: dict[str, Any] = {"id": self.id, "query": self.query}
        if self.messages:
            out["messages"] = [dict(m) for m in self.messages]
        out.update(expected=self.expected, scorer=self.scorer, **self.options)
        if self.judge is not None:
            out["judge"] = self.judge
        out.update(tags=list(self.tags), complexity_hint=self.complexity_hint, tools=[dict(t) for t in self.tools])
        if self.tool_choice is not None:
            out["tool_choice"] = self.tool_choice
        if self.max_tokens is not None:
            out["max_tokens"] = self.max_tokens
        if self.tool_results:
            out["tool_results"] = [dict(r) for r in self.tool_results]
        if self.expected_calls:
            out["expected_calls"] = [dict(c) for c in self.expected_calls]
        if self.max_steps is not None:
            out["max_steps"] = self.max_steps
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], line: int = 0) -> EvalItem:
        return cls(
            id=str(raw["id"]).strip(),
            expected=raw.get("expected"),
            scorer=str(raw["scorer"]),
            query=raw.get("query"),
            messages=tuple(dict(m) for m in raw.get("messages") or ()),
            options={k: raw[k] for k in OPTION_KEYS if k in raw},
            judge=raw.get("judge"),
            tools=tuple(dict(t) for t in raw.get("tools") or ()),
            tool_choice=raw.get("tool_choice"),
            tags=tuple(raw.get("tags") or ()),
            complexity_hint=raw.get("complexity_hint"),
            max_tokens=raw.get("max_tokens"),
            tool_results=tuple(dict(r) for r in raw.get("tool_results") or ()),
            expected_calls=tuple(dict(c) for c in raw.get("expected_calls") or ()),
            max_steps=raw.get("max_steps"),
            line=line,
        )


class EvalsetCheck(NamedTuple):
    issues: list[ConfigIssue]
    items: list[EvalItem]  # the lines that are valid, in file order


def load_evalset(path: str | Path) -> list[EvalItem]:
    """All items, or ConfigError (exit 2) listing every problem in the file."""
    check = check_evalset(path)
    if check.issues:
        raise ConfigError("\n".join(str(issue) for issue in check.issues))
    if not check.items:
        raise ConfigError(f"{path}: the evalset has no items")
    return check.items


def validate_evalset(path: str | Path) -> list[str]:
    return [str(issue) for issue in check_evalset(path).issues]


def check_evalset(path: str | Path) -> EvalsetCheck:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else f"not UTF-8 text ({exc.reason})"
        return EvalsetCheck([ConfigIssue(source, 0, 0, "", f"cannot read evalset: {reason}")], [])
    issues: list[ConfigIssue] = []
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for number, line in _lines(text):
        item = _check_line(source, number, line, issues)
        if item is not None and _unique(source, number, line, item, seen, issues):
            items.append(item)
    return EvalsetCheck(issues, items)


def _lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def _check_line(source: str, number: int, line: str, issues: list[ConfigIssue]) -> EvalItem | None:
    try:
        raw = json.loads(line)
    except ValueError as exc:
        issues.append(ConfigIssue(source, number, exc.colno, "", f"not valid JSON ({exc.msg}); each line must be one JSON object"))
        return None
    if not isinstance(raw, dict):
        issues.append(ConfigIssue(source, number, 1, "", f"expected a JSON object, got {_json_kind(raw)}"))
        return None
    found = line_problems(raw)
    issues.extend(sorted(ConfigIssue(source, number, _column(line, path), path, message) for path, message in found))
    return None if found else EvalItem.from_dict(raw, number)


def _unique(source: str, number: int, line: str, item: EvalItem, seen: dict[str, int], issues: list[ConfigIssue]) -> bool:
    first = seen.setdefault(item.id, number)
    if first == number:
        return True
    issues.append(ConfigIssue(source, number, _column(line, "id"), "id", f"duplicate id {item.id!r} (first used on line {first})"))
    return False


def line_problems(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, problem) pairs for one parsed line: the schema first, then what it cannot say."""
    if plainly_valid(raw):
        return _semantic_problems(raw)
    errors = sorted(_validator().iter_errors(raw), key=lambda e: list(map(str, e.absolute_path)))
    problems = list(dict.fromkeys(describe_schema_error(e, raw) for e in errors))
    return problems or _semantic_problems(raw)


def plainly_valid(raw: Mapping[str, Any]) -> bool:
    """True only for the common simple shape that the schema certainly accepts.

    jsonschema costs about 0.2 ms a line, which for a 2,000-line evalset is a
    noticeable share of a fast eval run; lines of this shape skip it. Anything
    else (and every line with a problem) goes through the full schema, which
    alone words the error messages. A property test checks the implication."""
    scorer = raw.get("scorer")
    if not raw.keys() <= _PLAIN_KEYS or not isinstance(scorer, str) or scorer not in _PLAIN_SCORERS:
        return False
    ident, expected = raw.get("id"), raw.get("expected", _MISSING)
    return (
        (type(ident) is int or (isinstance(ident, str) and _NON_BLANK.search(ident) is not None))
        and isinstance(raw.get("query"), str) and _NON_BLANK.search(raw["query"]) is not None
        and type(expected) in (str, int, float)
        and _plain_tags(raw.get("tags", []))
        and isinstance(raw.get("notes", ""), str)
        and raw.get("complexity_hint", "simple") in COMPLEXITIES
    )


def _plain_tags(tags: Any) -> bool:
    if type(tags) is not list or len(set(map(str, tags))) != len(tags):
        return False
    return all(isinstance(tag, str) and _TAG.match(tag) is not None for tag in tags)


def _semantic_problems(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    scorer, expected = raw["scorer"], raw["expected"]
    alternatives = expected if isinstance(expected, list) else [expected]
    if scorer == "regex":
        problems.extend(p for pattern in alternatives for p in _regex_problem(str(pattern)))
    if scorer == "numeric":
        problems.extend(_numeric_problems(alternatives))
    if scorer == "tool-call":
        problems.extend(_tool_call_problems(expected))
    if raw.get("tools"):
        problems.extend(_tools_problems(raw["tools"]))
    return problems


def _regex_problem(pattern: str) -> list[tuple[str, str]]:
    try:
        re.compile(pattern)
    except re.error as exc:
        return [("expected", f"not a valid regular expression ({exc.msg} at position {exc.pos})")]
    return []


def _tool_call_problems(expected: Any) -> list[tuple[str, str]]:
    calls = expected if isinstance(expected, list) else [expected]
    for index, call in enumerate(calls):
        where = f"expected[{index}]" if isinstance(expected, list) else "expected"
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            return [(where, "expected {\"name\": ..., \"arguments\": {...}} for the tool-call scorer")]
        if "arguments" in call and not isinstance(call["arguments"], dict):
            return [(f"{where}.arguments", "expected a JSON object of arguments")]
    return []


def _tools_problems(tools: Sequence[Any]) -> list[tuple[str, str]]:
    from cascadectl.tools import normalize_tools

    try:
        normalize_tools(list(tools))
    except CascadeError as exc:
        return [("tools", str(exc))]
    return []


def _numeric_problems(alternatives: Sequence[Any]) -> list[tuple[str, str]]:
    from cascadectl.evals.answers import to_number

    bad = [value for value in alternatives if to_number(value) is None]
    return [("expected", f"expected a number for the numeric scorer, got {value!r}") for value in bad[:1]]


def _column(line: str, path: str) -> int:
    """Column of the field's key in the line, so an editor can jump to it."""
    key = re.split(r"[.\[]", path, maxsplit=1)[0] if path else ""
    index = line.find(f'"{key}"') if key else -1
    return index + 1 if index >= 0 else 1


def _json_kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def schema_text() -> str:
    return resources.files("cascadectl.evals").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(schema_text()))
